"""Deadlines of open dialog flows, kept in the database so any process can announce a timeout."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select

from backend.clock import Clock
from backend.db import Database
from backend.models import FlowDeadline


class FlowDeadlines:
    """One row per conversation: setting a new deadline replaces the old one (B01)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db, self._clock = db, clock

    async def set(self, conversation_id: str, due_at: datetime) -> None:
        async with self._db.transaction() as session:
            await session.execute(delete(FlowDeadline).where(FlowDeadline.conversation_id == conversation_id))
            session.add(FlowDeadline(conversation_id=conversation_id, due_at=due_at))

    async def clear(self, conversation_id: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(delete(FlowDeadline).where(FlowDeadline.conversation_id == conversation_id))

    async def claim_due(self, limit: int = 100, only: tuple[str, ...] = (),
                        skip: tuple[str, ...] = ()) -> list[str]:
        """Removes and returns due deadlines in one statement, so two workers never both take one."""
        column = FlowDeadline.conversation_id
        channel = [~column.startswith(f"{c}:") for c in skip]
        if only:
            channel.append(or_(*(column.startswith(f"{c}:") for c in only)))
        due = (select(column).where(FlowDeadline.due_at <= self._clock.now(), *channel)
               .order_by(FlowDeadline.due_at).limit(limit))
        if not self._db.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        claim = (delete(FlowDeadline).where(FlowDeadline.conversation_id.in_(due.scalar_subquery()))
                 .returning(FlowDeadline.conversation_id))
        async with self._db.transaction() as session:
            return list((await session.scalars(claim)).all())

    async def count(self, conversation_id: str) -> int:
        async with self._db.sessions() as session:
            rows = await session.scalars(select(FlowDeadline).where(FlowDeadline.conversation_id == conversation_id))
            return len(rows.all())
