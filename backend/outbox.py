"""Durable per-conversation mailboxes (REST channel) and expiring download links for files."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from backend.clock import Clock, as_utc
from backend.crypto import Vault
from backend.db import Database
from backend.models import OutboxMessage, StoredFile


class Outbox:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db, self._clock = db, clock

    async def put(self, conversation_id: str, bodies: list[dict[str, Any]]) -> None:
        async with self._db.transaction() as session:
            for body in bodies:
                session.add(OutboxMessage(conversation_id=conversation_id, body=body, created_at=self._clock.now()))

    async def take(self, conversation_id: str) -> list[dict[str, Any]]:
        """Each message is returned once, oldest first; the delete is in the same transaction."""
        async with self._db.transaction() as session:
            query = select(OutboxMessage).where(OutboxMessage.conversation_id == conversation_id)
            rows = (await session.scalars(query.order_by(OutboxMessage.id))).all()
            if rows:
                await session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in rows])))
        return [r.body for r in rows]


class FileStore:
    """Files behind unguessable, expiring links; contents sealed since reports carry personal data."""

    def __init__(self, db: Database, vault: Vault, clock: Clock, ttl_seconds: int = 24 * 3600) -> None:
        self._db, self._vault, self._clock, self._ttl = db, vault, clock, ttl_seconds

    async def put(self, conversation_id: str, filename: str, mime: str, content: bytes) -> str:
        token = secrets.token_urlsafe(32)
        sealed = self._vault.seal(base64.b64encode(content).decode())
        expires = self._clock.now() + timedelta(seconds=self._ttl)
        async with self._db.transaction() as session:
            session.add(StoredFile(token=token, conversation_id=conversation_id, filename=filename, mime=mime,
                                   content_enc=sealed, expires_at=expires))
        return token

    async def get(self, token: str) -> tuple[str, str, bytes, str] | None:
        async with self._db.sessions() as session:
            row = await session.scalar(select(StoredFile).where(StoredFile.token == token))
        if row is None or as_utc(row.expires_at) <= self._clock.now():
            return None
        content = base64.b64decode(self._vault.open(row.content_enc))
        return row.filename, row.mime, content, row.conversation_id

    async def purge(self, now: datetime | None = None) -> None:
        async with self._db.transaction() as session:
            await session.execute(delete(StoredFile).where(StoredFile.expires_at <= (now or self._clock.now())))
