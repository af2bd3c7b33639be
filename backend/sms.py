"""The SMS gateway: a sandbox that keeps each phone's inbox, or a real gateway by URL."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import httpx
from sqlalchemy import select

from backend.clock import Clock, as_utc
from backend.crypto import Vault
from backend.db import Database
from backend.identity_rules import mask_phone
from backend.models import SmsMessage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboxMessage:
    text: str
    sent_at: datetime


class SmsGateway(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


class SandboxSms:
    """Messages are sealed at rest because they carry codes."""

    def __init__(self, db: Database, vault: Vault, clock: Clock) -> None:
        self._db, self._vault, self._clock = db, vault, clock

    async def send(self, phone: str, text: str) -> None:
        async with self._db.transaction() as session:
            session.add(SmsMessage(phone_hash=self._vault.lookup_hash("phone", phone),
                                   text_enc=self._vault.seal(text), sent_at=self._clock.now()))
        logger.info("sandbox SMS to %s", mask_phone(phone))

    async def inbox(self, phone: str) -> list[InboxMessage]:
        query = (select(SmsMessage).where(SmsMessage.phone_hash == self._vault.lookup_hash("phone", phone))
                 .order_by(SmsMessage.id))
        async with self._db.sessions() as session:
            rows = (await session.scalars(query)).all()
        return [InboxMessage(self._vault.open(r.text_enc), as_utc(r.sent_at)) for r in rows]


class HttpSms:
    """POSTs {"phone", "text"} as JSON to the operator's gateway."""

    def __init__(self, url: str, client: httpx.AsyncClient | None = None) -> None:
        self._url = url
        self._client = client or httpx.AsyncClient(timeout=10)

    async def send(self, phone: str, text: str) -> None:
        response = await self._client.post(self._url, json={"phone": phone, "text": text})
        response.raise_for_status()
