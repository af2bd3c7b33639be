"""Durable per-conversation mailboxes (REST channel) and expiring download links for files."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from backend.clock import Clock, as_utc
from backend.crypto import Vault
from backend.db import Database
from backend.models import OutboxMessage, StoredFile


class Outbox:
    """Per-conversation message logs, sealed at rest (bot texts can carry masked personal data).

    The REST channel `take`s its messages (each returned once, then deleted); the web chat keeps
    its log and reads it by position (`since`), so a reconnecting or second tab misses nothing and
    sees nothing twice; the ids only grow, so they serve as each conversation's cursor.
    """

    def __init__(self, db: Database, clock: Clock, vault: Vault) -> None:
        self._db, self._clock, self._vault = db, clock, vault

    async def put(self, conversation_id: str, bodies: list[dict[str, Any]]) -> list[int]:
        """Appends in order; returns the new messages' ids (their positions in the log)."""
        rows = [OutboxMessage(conversation_id=conversation_id, body=self._seal(body), created_at=self._clock.now())
                for body in bodies]
        async with self._db.transaction() as session:
            session.add_all(rows)
            await session.flush()
            return [row.id for row in rows]

    async def take(self, conversation_id: str) -> list[dict[str, Any]]:
        """Each message is returned once, oldest first; the delete is in the same transaction."""
        async with self._db.transaction() as session:
            query = select(OutboxMessage).where(OutboxMessage.conversation_id == conversation_id)
            rows = (await session.scalars(query.order_by(OutboxMessage.id))).all()
            if rows:
                await session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in rows])))
        return [self._open(r.body) for r in rows]

    async def since(self, conversation_id: str, after: int = 0, limit: int = 500) -> list[tuple[int, dict[str, Any]]]:
        """(id, body) of the messages after position `after`, oldest first, without removing them."""
        query = (select(OutboxMessage)
                 .where(OutboxMessage.conversation_id == conversation_id, OutboxMessage.id > after)
                 .order_by(OutboxMessage.id).limit(limit))
        async with self._db.sessions() as session:
            rows = (await session.scalars(query)).all()
        return [(r.id, self._open(r.body)) for r in rows]

    async def purge(self, conversation_prefix: str, older_than: datetime) -> int:
        """Drops kept logs (the web chat's) older than their retention."""
        async with self._db.transaction() as session:
            result = await session.execute(delete(OutboxMessage).where(
                OutboxMessage.conversation_id.startswith(conversation_prefix, autoescape=True),
                OutboxMessage.created_at < older_than))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def _seal(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"sealed": self._vault.seal(json.dumps(body, ensure_ascii=False))}

    def _open(self, stored: dict[str, Any]) -> dict[str, Any]:
        if set(stored) == {"sealed"}:
            return json.loads(self._vault.open(stored["sealed"]))  # type: ignore[no-any-return]
        return stored  # written before bodies were sealed


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
