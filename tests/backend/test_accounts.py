"""Accounts: one per identity and login name, wrong passwords counted and locking, level and quick query."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fakes import ENCRYPTION_KEY
from sqlalchemy import func, select

from backend.accounts import AccountService, LoginPolicy, NewAccount
from backend.audit import Audit
from backend.clock import FixedClock
from backend.crypto import Passwords, Vault
from backend.db import Database
from backend.errors import AccountLockedError, BadCredentialsError, IdentityTakenError, LoginNameTakenError
from backend.migrate import upgrade_async
from backend.models import Account, AuditEvent
from backend.settings import Settings

P1 = NewAccount(name="王小明", id_type="0", id_number="110105199003071239", login_name="WangXM01",
                password="Abc12345!", phone="15500000101")
P2 = NewAccount(name="李建国", id_type="0", id_number="11010519691231007X", login_name="lijianguo1",
                password="Xyz12345!", phone="16600000202")


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    await upgrade_async(settings.database_url)
    database = Database(settings.database_url)
    yield database
    await database.close()


@pytest.fixture
def accounts(db: Database, clock: FixedClock) -> AccountService:
    return AccountService(db, Vault(ENCRYPTION_KEY), Passwords(), clock, Audit(clock),
                          LoginPolicy(max_failures=5, lock_seconds=900))


async def count(db: Database, query) -> int:  # type: ignore[no-untyped-def]
    async with db.sessions() as session:
        return int(await session.scalar(query) or 0)


def failed_logins() -> object:
    return select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "account.login_failed")


# -- registration -------------------------------------------------------------------------------

async def test_register_seals_personal_data(accounts: AccountService, db: Database) -> None:
    view = await accounts.register(P1)
    assert (view.name, view.id_number, view.phone, view.security_level) == ("王小明", P1.id_number, P1.phone, "low")
    async with db.sessions() as session:
        row = await session.get(Account, view.id)
    assert row is not None
    stored = " ".join([row.name_enc, row.id_number_enc, row.phone_enc, row.password_hash, row.identity_hash])
    for clear in ("王小明", P1.id_number, P1.phone, P1.password):
        assert clear not in stored


async def test_identity_and_login_name_lookups(accounts: AccountService) -> None:
    await accounts.register(P1)
    assert await accounts.identity_exists("0", P1.id_number)
    assert not await accounts.identity_exists("0", P2.id_number)
    assert await accounts.login_name_exists("wangxm01")
    assert (await accounts.find_by_login("WANGXM01")).login_name == "WangXM01"  # type: ignore[union-attr]


async def test_one_account_per_identity(accounts: AccountService, db: Database) -> None:
    await accounts.register(P1)
    with pytest.raises(IdentityTakenError):
        await accounts.register(NewAccount(**{**P1.__dict__, "login_name": "another01"}))
    assert await count(db, select(func.count()).select_from(Account)) == 1


async def test_resident_id_number_on_other_documents_is_the_same_identity(accounts: AccountService) -> None:
    """Household register (1) and temporary ID (7) carry the resident ID number: no second account."""
    await accounts.register(P1)
    assert await accounts.identity_exists("1", P1.id_number)
    assert await accounts.identity_exists("7", P1.id_number)
    assert not await accounts.identity_exists("2", P1.id_number)  # a passport number is another namespace
    with pytest.raises(IdentityTakenError):
        await accounts.register(NewAccount(**{**P1.__dict__, "id_type": "1", "login_name": "another01"}))


async def test_one_account_per_login_name_whatever_its_case(accounts: AccountService) -> None:
    await accounts.register(P1)
    with pytest.raises(LoginNameTakenError):
        await accounts.register(NewAccount(**{**P2.__dict__, "login_name": "wangxm01"}))


# -- log-in -------------------------------------------------------------------------------------

async def test_log_in(accounts: AccountService) -> None:
    view = await accounts.register(P1)
    assert (await accounts.login("wangxm01", P1.password)).id == view.id


async def test_wrong_passwords_are_counted_and_recorded(accounts: AccountService, db: Database) -> None:
    await accounts.register(P1)
    for remaining in (4, 3):
        with pytest.raises(BadCredentialsError) as caught:
            await accounts.login("wangxm01", "Wrong1234!")
        assert caught.value.remaining == remaining
    assert await count(db, failed_logins()) == 2


async def test_unknown_login_name(accounts: AccountService) -> None:
    with pytest.raises(BadCredentialsError):
        await accounts.login("nobody01", "Abc12345!")


async def test_fifth_wrong_password_locks_for_15_minutes(accounts: AccountService, clock: FixedClock) -> None:
    await accounts.register(P1)
    for _ in range(4):
        with pytest.raises(BadCredentialsError):
            await accounts.login("wangxm01", "Wrong1234!")
    with pytest.raises(AccountLockedError) as caught:
        await accounts.login("wangxm01", "Wrong1234!")
    assert caught.value.minutes == 15
    with pytest.raises(AccountLockedError):  # the right password does not open a locked account
        await accounts.login("wangxm01", P1.password)
    clock.advance(14 * 60 + 30)
    with pytest.raises(AccountLockedError) as caught:
        await accounts.login("wangxm01", P1.password)
    assert caught.value.minutes == 1
    clock.advance(31)
    await accounts.login("wangxm01", P1.password)


async def test_a_successful_log_in_resets_the_count(accounts: AccountService) -> None:
    await accounts.register(P1)
    for _ in range(4):
        with pytest.raises(BadCredentialsError):
            await accounts.login("wangxm01", "Wrong1234!")
    await accounts.login("wangxm01", P1.password)
    with pytest.raises(BadCredentialsError) as caught:
        await accounts.login("wangxm01", "Wrong1234!")
    assert caught.value.remaining == 4


async def test_after_the_lock_the_count_starts_again(accounts: AccountService, clock: FixedClock) -> None:
    await accounts.register(P1)
    for _ in range(4):
        with pytest.raises(BadCredentialsError):
            await accounts.login("wangxm01", "Wrong1234!")
    with pytest.raises(AccountLockedError):
        await accounts.login("wangxm01", "Wrong1234!")
    clock.advance(901)
    with pytest.raises(BadCredentialsError) as caught:
        await accounts.login("wangxm01", "Wrong1234!")
    assert caught.value.remaining == 4


# -- level, cards, quick query ------------------------------------------------------------------

async def test_verified_card_raises_the_level_once_per_card(accounts: AccountService) -> None:
    view = await accounts.register(P1)
    await accounts.add_verified_card(view.id, "6200000000000000018")
    after = await accounts.add_verified_card(view.id, "6200000000000000018")
    assert after.security_level == "high"
    assert after.cards_masked == ("6200 **** **** 0018",)


async def test_quick_query_on_and_off(accounts: AccountService) -> None:
    view = await accounts.register(P1)
    assert (await accounts.set_quick_query(view.id, True)).quick_query
    assert not (await accounts.set_quick_query(view.id, False)).quick_query


async def test_b37_confirmation_after_commit_needs_no_lazy_load(accounts: AccountService, db: Database) -> None:
    """Card and creation time are read after commit without implicit IO; a lazy load raises at once."""
    from sqlalchemy.exc import InvalidRequestError

    created = await accounts.register(P1)
    view = await accounts.add_verified_card(created.id, "6200000000000000018")
    assert view.cards_masked == ("6200 **** **** 0018",) and view.created_at.tzinfo is not None
    async with db.sessions() as session:
        account = await session.get(Account, created.id)
        assert account is not None
        with pytest.raises(InvalidRequestError):
            _ = account.cards  # lazy="raise": any new implicit load fails in CI, not in production
