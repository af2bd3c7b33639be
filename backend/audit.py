"""The audit trail: who did what to which account, with no personal data in clear."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.clock import Clock
from backend.models import AuditEvent


class Audit:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def record(self, session: AsyncSession, actor: str, action: str, account_id: int | None,
                     **detail: Any) -> None:
        """Written in the caller's transaction so the trail and the change land together."""
        session.add(AuditEvent(at=self._clock.now(), actor=actor, action=action, account_id=account_id,
                               detail=detail))
