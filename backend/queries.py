"""Credit-product requests: submit, list, claim when due (durably), and build the result."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, select, update

from backend.audit import Audit
from backend.clock import Clock, as_utc
from backend.db import MAX_ID, Database
from backend.errors import ReportExpiredError, ReportNotFoundError, ReportNotReadyError
from backend.models import QueryRequest

logger = logging.getLogger(__name__)

Product = Literal["hint", "summary", "report"]
PRODUCTS: tuple[Product, ...] = ("hint", "summary", "report")
Status = Literal["pending", "notifying", "ready", "delivered", "expired", "blocked", "failed"]
OPEN_STATUSES: tuple[Status, ...] = ("pending", "notifying")  # submitted, result not handed over yet


@dataclass(frozen=True)
class RequestView:
    id: int
    account_id: int
    product: Product
    status: Status
    created_at: datetime
    due_at: datetime
    expires_at: datetime | None
    report_number: str
    conversation_id: str
    locale: str


@dataclass(frozen=True)
class QueryPolicy:
    delay_seconds: int = 24 * 3600
    retention_seconds: int = 7 * 24 * 3600
    lease_seconds: int = 300


def build_due_at(created: datetime, delay_seconds: int) -> datetime:
    """An aware instant; the product's time zone only matters when it is shown (B43)."""
    if created.tzinfo is None:
        msg = "naive datetimes never reach the scheduler"
        raise ValueError(msg)
    return created + timedelta(seconds=delay_seconds)


def build_report_number(now: datetime) -> str:
    return now.strftime("%Y%m%d") + f"{secrets.randbelow(10**12):012d}"


class QueryService:
    def __init__(self, db: Database, clock: Clock, audit: Audit, policy: QueryPolicy | None = None) -> None:
        self._db, self._clock, self._audit = db, clock, audit
        self.policy = policy or QueryPolicy()

    async def submit(self, account_id: int, product: Product, conversation_id: str, locale: str) -> RequestView:
        now = self._clock.now()
        row = QueryRequest(account_id=account_id, product=product, conversation_id=conversation_id,
                           locale=locale, status="pending", created_at=now,
                           due_at=build_due_at(now, self.policy.delay_seconds),
                           report_number=build_report_number(now), attempts=0)
        async with self._db.transaction() as session:
            session.add(row)
            await session.flush()
            await self._audit.record(session, "user", "query.submit", account_id, product=product,
                                     request_id=row.id)
        return _view(row)

    async def list_for(self, account_id: int, limit: int = 20) -> list[RequestView]:
        await self.expire_old()
        query = (select(QueryRequest).where(QueryRequest.account_id == account_id)
                 .order_by(QueryRequest.id.desc()).limit(limit))
        async with self._db.sessions() as session:
            return [_view(r) for r in (await session.scalars(query)).all()]

    async def open_for(self, account_id: int, product: Product, conversation_id: str) -> RequestView | None:
        """The oldest request of this product and conversation not yet handed over, or None."""
        query = (select(QueryRequest)
                 .where(QueryRequest.account_id == account_id, QueryRequest.product == product,
                        QueryRequest.conversation_id == conversation_id,
                        QueryRequest.status.in_(OPEN_STATUSES))
                 .order_by(QueryRequest.id).limit(1))
        async with self._db.sessions() as session:
            row = await session.scalar(query)
        return None if row is None else _view(row)

    async def get(self, request_id: int) -> RequestView:
        if not 0 < request_id <= MAX_ID:  # typed by a person: "/fetch_result 99999999999999999999999"
            raise ReportNotFoundError
        async with self._db.sessions() as session:
            row = await session.get(QueryRequest, request_id)
        if row is None:
            raise ReportNotFoundError
        return _view(row)

    async def claim_due(self, limit: int = 50, only: tuple[str, ...] = (),
                        skip: tuple[str, ...] = ()) -> list[RequestView]:
        """Claims due work with a lease; a crashed worker's claims come back when the lease ends (B42).

        One UPDATE ... WHERE id IN (due rows) RETURNING: a read-then-write would let two workers
        claim the same rows on SQLite; PostgreSQL also skips rows another worker has locked.
        """
        now = self._clock.now()
        stale = (QueryRequest.status == "notifying") & (QueryRequest.claimed_until <= now)
        due = (QueryRequest.status == "pending") & (QueryRequest.due_at <= now)
        candidates = select(QueryRequest.id).where(or_(due, stale), *_channel_filter(only, skip))
        candidates = candidates.order_by(QueryRequest.due_at).limit(limit)
        if not self._db.is_sqlite:
            candidates = candidates.with_for_update(skip_locked=True)
        claim = (update(QueryRequest).where(QueryRequest.id.in_(candidates.scalar_subquery()))
                 .values(status="notifying", attempts=QueryRequest.attempts + 1,
                         claimed_until=now + timedelta(seconds=self.policy.lease_seconds))
                 .returning(QueryRequest).execution_options(synchronize_session=False))
        async with self._db.transaction() as session:
            rows = (await session.scalars(claim)).all()
        return sorted((_view(r) for r in rows), key=lambda v: v.due_at)

    async def mark_notified(self, request_id: int) -> None:
        now = self._clock.now()
        expires = now + timedelta(seconds=self.policy.retention_seconds)
        await self._set(request_id, status="ready", notified_at=now, expires_at=expires, claimed_until=None)

    async def mark_blocked(self, request_id: int, note: str) -> None:
        """The chat refused us (bot blocked); the result stays available for 7 days all the same."""
        now = self._clock.now()
        expires = now + timedelta(seconds=self.policy.retention_seconds)
        await self._set(request_id, status="blocked", expires_at=expires, claimed_until=None,
                        delivery_note=note)

    async def retry_later(self, request_id: int, seconds: float) -> None:
        await self._set(request_id, status="notifying",
                        claimed_until=self._clock.now() + timedelta(seconds=seconds))

    async def mark_delivered(self, request_id: int) -> None:
        await self._set(request_id, status="delivered", delivered_at=self._clock.now())

    async def _set(self, request_id: int, **values: object) -> None:
        async with self._db.transaction() as session:
            await session.execute(update(QueryRequest).where(QueryRequest.id == request_id).values(**values))

    async def expire_old(self) -> int:
        now = self._clock.now()
        stmt = (update(QueryRequest).where(QueryRequest.status.in_(("ready", "delivered", "blocked")),
                                           QueryRequest.expires_at <= now).values(status="expired"))
        async with self._db.transaction() as session:
            result = await session.execute(stmt)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def result_for(self, account_id: int, request_id: int) -> RequestView:
        """The request if its result may be handed out now; otherwise the reason why not."""
        view = await self.get(request_id)
        if view.account_id != account_id:
            raise ReportNotFoundError
        if view.status == "expired" or (view.expires_at and view.expires_at <= self._clock.now()):
            raise ReportExpiredError
        if view.status in ("pending", "notifying") and view.due_at > self._clock.now():
            raise ReportNotReadyError(due_at=view.due_at)
        return view


def _channel_filter(only: tuple[str, ...], skip: tuple[str, ...]) -> list[object]:
    """Conversation ids start with their channel ("cli:", "telegram:"): a process claims what it can reach."""
    conditions: list[object] = [~QueryRequest.conversation_id.startswith(f"{c}:") for c in skip]
    if only:
        conditions.append(or_(*(QueryRequest.conversation_id.startswith(f"{c}:") for c in only)))
    return conditions


def _view(row: QueryRequest) -> RequestView:
    return RequestView(
        id=row.id, account_id=row.account_id, product=row.product,  # type: ignore[arg-type]
        status=row.status,  # type: ignore[arg-type]
        created_at=as_utc(row.created_at), due_at=as_utc(row.due_at),
        expires_at=None if row.expires_at is None else as_utc(row.expires_at),
        report_number=row.report_number, conversation_id=row.conversation_id, locale=row.locale)
