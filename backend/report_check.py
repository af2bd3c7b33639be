"""Is a report number genuine? Checks a number printed on a PDF against the query_requests table.

A number counts as found only when a PDF carrying it was handed out (``delivered_at`` is set):
requests still pending, or ready but never fetched, answer like unknown numbers, so the check tells
nobody more than the holder of the PDF already knows. The answer never holds personal data: only
the product, when it was issued, until when the service keeps it, and its state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from backend.clock import Clock, as_utc
from backend.db import Database
from backend.models import QueryRequest

# backend.queries.build_report_number: YYYYMMDD and twelve random digits.
REPORT_NUMBER_LENGTH = 20
_SHAPE = re.compile(rf"[0-9]{{{REPORT_NUMBER_LENGTH}}}")


class MalformedReportNumber(ValueError):
    """Not the shape of a report number (digits only, exact length); the database was not asked."""


def is_report_number(number: str) -> bool:
    # fullmatch on [0-9], not str.isdigit: that one also takes full-width and other Unicode digits.
    return isinstance(number, str) and _SHAPE.fullmatch(number) is not None


@dataclass(frozen=True)
class ReportStatus:
    found: bool
    product: str | None = None
    generated_at: datetime | None = None  # when the PDF was (last) delivered
    expires_at: datetime | None = None  # end of the 7-day retention in the service
    status: str | None = None  # "delivered" (still retrievable) or "expired"


class ReportCheck:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db, self._clock = db, clock

    async def verify(self, number: str) -> ReportStatus:
        """Raises MalformedReportNumber for anything but ``REPORT_NUMBER_LENGTH`` ASCII digits."""
        if not is_report_number(number):
            raise MalformedReportNumber(number)
        query = select(QueryRequest.product, QueryRequest.status, QueryRequest.delivered_at,
                       QueryRequest.expires_at).where(QueryRequest.report_number == number)
        async with self._db.sessions() as session:
            row = (await session.execute(query)).one_or_none()
        if row is None or row.delivered_at is None:
            return ReportStatus(found=False)
        expires = None if row.expires_at is None else as_utc(row.expires_at)
        expired = row.status == "expired" or (expires is not None and expires <= self._clock.now())
        return ReportStatus(found=True, product=row.product, generated_at=as_utc(row.delivered_at),
                            expires_at=expires, status="expired" if expired else "delivered")
