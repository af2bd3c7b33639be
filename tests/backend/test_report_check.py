"""ReportCheck: a report number is genuine only once its PDF was handed out; no personal data comes back."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest
from fakes import ENCRYPTION_KEY

from backend.accounts import AccountService, NewAccount
from backend.audit import Audit
from backend.clock import FixedClock
from backend.crypto import Passwords, Vault
from backend.db import Database
from backend.migrate import upgrade_async
from backend.queries import QueryPolicy, QueryService, build_report_number
from backend.report_check import (
    REPORT_NUMBER_LENGTH,
    MalformedReportNumber,
    ReportCheck,
    ReportStatus,
    is_report_number,
)

START = datetime(2026, 12, 3, 2, 0, tzinfo=timezone.utc)
WEEK = 7 * 86400


@pytest.fixture
async def db(tmp_path) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
    await upgrade_async(url)
    database = Database(url)
    yield database
    await database.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def queries(db: Database, clock: FixedClock) -> QueryService:
    return QueryService(db, clock, Audit(clock), QueryPolicy(delay_seconds=60))


async def account(db: Database, clock: FixedClock) -> int:
    accounts = AccountService(db, Vault(ENCRYPTION_KEY), Passwords(), clock, Audit(clock))
    view = await accounts.register(NewAccount("王小明", "0", "110105199003071239", "wangxm01", "Abc12345!",
                                              "15500000101"))
    return view.id


def test_the_numbers_the_service_makes_have_the_checked_shape() -> None:
    for _ in range(50):
        number = build_report_number(START)
        assert len(number) == REPORT_NUMBER_LENGTH and is_report_number(number)


@pytest.mark.parametrize("number", ["", "123", "2026120300000000000", "202612030000000000001",
                                    "2026120300000000000a", " 20261203000000000000", "20261203000000000000\n",
                                    "２０２６１２０３０００００００００００００", "-2026120300000000000",
                                    "2026120300000000000٣"])
async def test_malformed_numbers_are_refused_before_the_database(db: Database, clock: FixedClock,
                                                                  number: str) -> None:
    assert not is_report_number(number)
    with pytest.raises(MalformedReportNumber):
        await ReportCheck(db, clock).verify(number)


async def test_unknown_number(db: Database, clock: FixedClock) -> None:
    assert await ReportCheck(db, clock).verify("20261203000000000000") == ReportStatus(found=False)


async def test_found_only_once_delivered(db: Database, clock: FixedClock, queries: QueryService) -> None:
    check = ReportCheck(db, clock)
    view = await queries.submit(await account(db, clock), "summary", "rest:u", "zh")
    assert not (await check.verify(view.report_number)).found  # pending: no PDF carries it yet
    clock.advance(61)
    await queries.claim_due()
    await queries.mark_notified(view.id)
    assert not (await check.verify(view.report_number)).found  # ready, never fetched
    clock.advance(300)
    await queries.mark_delivered(view.id)
    status = await check.verify(view.report_number)
    assert status == ReportStatus(found=True, product="summary", generated_at=START + timedelta(seconds=361),
                                  expires_at=START + timedelta(seconds=61 + WEEK), status="delivered")
    fields = {f.name for f in dataclasses.fields(status)}
    assert fields == {"found", "product", "generated_at", "expires_at", "status"}  # nothing personal


async def test_after_the_retention_the_report_is_still_genuine_but_expired(
        db: Database, clock: FixedClock, queries: QueryService) -> None:
    check = ReportCheck(db, clock)
    view = await queries.submit(await account(db, clock), "report", "rest:u", "zh")
    clock.advance(61)
    await queries.claim_due()
    await queries.mark_notified(view.id)
    await queries.mark_delivered(view.id)
    clock.advance(WEEK + 1)
    before_sweep = await check.verify(view.report_number)  # expire_old has not run yet
    assert before_sweep.found and before_sweep.status == "expired"
    assert await queries.expire_old() == 1
    after = await check.verify(view.report_number)
    assert after.found and after.status == "expired" and after.product == "report"
