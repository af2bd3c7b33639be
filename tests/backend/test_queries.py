"""Requests and the dispatcher on SQLite and PostgreSQL: due work is claimed once, leases recover crashes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest
from services import fresh_postgres

from backend.accounts import AccountService, NewAccount
from backend.audit import Audit
from backend.clock import FixedClock
from backend.crypto import Passwords, Vault
from backend.db import Database
from backend.delivery import Delivery, Dispatcher
from backend.migrate import upgrade_async
from backend.queries import QueryPolicy, QueryService, RequestView, build_due_at
from fakes import ENCRYPTION_KEY

START = datetime(2026, 12, 3, 2, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'q.db'}"
        await upgrade_async(url)
        database = Database(url)
        yield database
        await database.close()
        return
    async with fresh_postgres(request.config.getoption("--postgres")) as url:
        await upgrade_async(url)
        database = Database(url)
        yield database
        await database.close()


async def make_account(db: Database, clock: FixedClock) -> int:
    accounts = AccountService(db, Vault(ENCRYPTION_KEY), Passwords(), clock, Audit(clock))
    view = await accounts.register(NewAccount("王小明", "0", "110105199003071239", "wangxm01", "Abc12345!",
                                              "15500000101"))
    return view.id


def test_b43_due_time_is_an_aware_instant_24h_later() -> None:
    created = datetime(2026, 12, 3, 23, 30, tzinfo=timezone(timedelta(hours=8)))
    due = build_due_at(created, 86400)
    assert due.astimezone(timezone.utc) == datetime(2026, 12, 4, 15, 30, tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        build_due_at(datetime(2026, 12, 3, 23, 30), 86400)  # noqa: DTZ001 - naive on purpose


async def test_two_dispatchers_claim_each_request_once(db: Database) -> None:
    clock = FixedClock(START)
    queries = QueryService(db, clock, Audit(clock), QueryPolicy(delay_seconds=60))
    account = await make_account(db, clock)
    for i in range(40):
        await queries.submit(account, "report", f"rest:u{i}", "zh")
    clock.advance(61)
    first, second = await asyncio.gather(queries.claim_due(25), queries.claim_due(25))
    ids = [r.id for r in first + second]
    assert len(ids) == len(set(ids))
    rest = await queries.claim_due(50)
    assert sorted(ids + [r.id for r in rest]) == sorted(set(ids + [r.id for r in rest]))
    assert len(ids) + len(rest) == 40


async def test_b42_crashed_claim_comes_back_after_the_lease_and_is_delivered_once(db: Database) -> None:
    clock = FixedClock(START)
    queries = QueryService(db, clock, Audit(clock), QueryPolicy(delay_seconds=60, lease_seconds=300))
    account = await make_account(db, clock)
    request = await queries.submit(account, "report", "rest:u", "zh")
    clock.advance(61)
    assert [r.id for r in await queries.claim_due()] == [request.id]  # this worker "dies" here
    delivered: list[int] = []

    async def notify(view: RequestView) -> Delivery:
        delivered.append(view.id)
        return Delivery("sent")

    dispatcher = Dispatcher(queries, notify)
    assert await dispatcher.run_once() == 0  # still leased to the dead worker
    clock.advance(301)
    assert await dispatcher.run_once() == 1
    clock.advance(600)
    assert await dispatcher.run_once() == 0
    assert delivered == [request.id]
    assert (await queries.get(request.id)).status == "ready"


async def test_b12_blocked_chat_is_marked_and_others_still_delivered(db: Database) -> None:
    clock = FixedClock(START)
    queries = QueryService(db, clock, Audit(clock), QueryPolicy(delay_seconds=60))
    account = await make_account(db, clock)
    views = [await queries.submit(account, "report", f"telegram:{i}", "zh") for i in (1, 2, 3)]
    clock.advance(61)

    async def notify(view: RequestView) -> Delivery:
        if view.conversation_id == "telegram:2":
            return Delivery("blocked", note="Forbidden")
        return Delivery("sent")

    assert await Dispatcher(queries, notify).run_once() == 3
    statuses = [(await queries.get(v.id)).status for v in views]
    assert statuses == ["ready", "blocked", "ready"]
    clock.advance(3600)
    assert await Dispatcher(queries, notify).run_once() == 0  # not retried endlessly


async def test_failing_notifier_is_retried_later_not_lost(db: Database) -> None:
    clock = FixedClock(START)
    queries = QueryService(db, clock, Audit(clock), QueryPolicy(delay_seconds=60))
    account = await make_account(db, clock)
    view = await queries.submit(account, "hint", "telegram:9", "zh")
    clock.advance(61)
    calls: list[int] = []

    async def notify(v: RequestView) -> Delivery:
        calls.append(v.id)
        if len(calls) == 1:
            raise ConnectionError("network down")
        return Delivery("sent")

    dispatcher = Dispatcher(queries, notify)
    await dispatcher.run_once()
    assert (await queries.get(view.id)).status == "notifying"
    clock.advance(61)
    await dispatcher.run_once()
    assert calls == [view.id, view.id]
    assert (await queries.get(view.id)).status == "ready"


async def test_results_expire_after_seven_days(db: Database) -> None:
    clock = FixedClock(START)
    queries = QueryService(db, clock, Audit(clock), QueryPolicy(delay_seconds=60))
    account = await make_account(db, clock)
    view = await queries.submit(account, "summary", "rest:u", "zh")
    clock.advance(61)
    await queries.claim_due()
    await queries.mark_notified(view.id)
    clock.advance(7 * 86400 + 1)
    assert await queries.expire_old() == 1
    assert (await queries.get(view.id)).status == "expired"


async def test_a_process_claims_only_the_channels_it_can_reach(db: Database) -> None:
    """The terminal chat delivers its own conversations; the server leaves them to it."""
    clock = FixedClock(START)
    queries = QueryService(db, clock, Audit(clock), QueryPolicy(delay_seconds=60))
    account = await make_account(db, clock)
    cli = await queries.submit(account, "hint", "cli:me", "zh")
    rest = await queries.submit(account, "hint", "rest:me", "zh")
    clock.advance(61)
    assert [r.id for r in await queries.claim_due(only=("cli",))] == [cli.id]
    assert [r.id for r in await queries.claim_due(skip=("cli",))] == [rest.id]


async def test_open_request_is_found_until_its_result_is_handed_over(db: Database) -> None:
    """What the SMS query asks before it submits: a text sent again must not make a second request."""
    clock = FixedClock(START)
    queries = QueryService(db, clock, Audit(clock), QueryPolicy(delay_seconds=60))
    account = await make_account(db, clock)
    assert await queries.open_for(account, "hint", "sms:1") is None
    await queries.submit(account, "summary", "sms:1", "zh")  # another product
    await queries.submit(account, "hint", "rest:me", "zh")  # another conversation
    view = await queries.submit(account, "hint", "sms:1", "zh")
    assert await queries.open_for(account, "hint", "sms:1") == view  # pending
    clock.advance(61)
    await queries.claim_due()
    assert (await queries.open_for(account, "hint", "sms:1")).id == view.id  # type: ignore[union-attr]
    await queries.mark_notified(view.id)  # texted: a new text is a new request
    assert await queries.open_for(account, "hint", "sms:1") is None
