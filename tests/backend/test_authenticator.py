"""Authenticator-app dynamic codes (TOTP by pyotp): B34's step boundary and clock skew, single use,
failures counted, the secret sealed at rest, binding and unbinding audited, closure forgets it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from sqlalchemy import select

from backend.accounts import NewAccount
from backend.authenticator import (
    AuthenticatorLockedError,
    AuthenticatorReusedError,
    AuthenticatorService,
    TotpPolicy,
)
from backend.clock import FixedClock
from backend.errors import CodeExpiredError, CodeMismatchError, CodeNotIssuedError
from backend.models import Account, AuditEvent
from backend.settings import Settings
from bot.wiring import App

CST = timezone(timedelta(hours=8))
P1 = NewAccount(name="王小明", id_type="0", id_number="110105199003071239", login_name="wangxm01",
                password="Abc12345!", phone="15500000101")


def at(hh: int, mm: int, ss: int) -> datetime:
    return datetime(2026, 12, 3, hh, mm, ss, tzinfo=CST)


async def bound(app: App, clock: FixedClock) -> tuple[int, str]:
    """P1 with an app bound at 09:00 CST, so the tests' own steps are all later and unused."""
    account = await app.services.accounts.register(P1)
    clock.set(at(9, 0, 0))
    enrolment = await app.services.authenticator.begin(account.id, P1.login_name)
    await app.services.authenticator.confirm(account.id, pyotp.TOTP(enrolment.secret).at(clock.now()))
    return account.id, enrolment.secret


async def test_b34_a_code_made_before_the_step_boundary_passes_after_it(app: App, clock: FixedClock) -> None:
    account_id, secret = await bound(app, clock)
    made = pyotp.TOTP(secret).at(at(10, 0, 29))
    clock.set(at(10, 0, 31))  # the 30-second step rolled over between making and typing
    await app.services.authenticator.verify(account_id, made)


async def test_b34_a_code_two_steps_old_is_refused(app: App, clock: FixedClock) -> None:
    account_id, secret = await bound(app, clock)
    clock.set(at(10, 5, 0))
    with pytest.raises(CodeMismatchError):
        await app.services.authenticator.verify(account_id, pyotp.TOTP(secret).at(at(10, 4, 0)))


@pytest.mark.parametrize(("skew", "accepted"), [(0, True), (40, True), (100, False), (-100, False)])
async def test_b34_a_phone_clock_40_seconds_ahead_passes_and_100_does_not(
        app: App, clock: FixedClock, skew: int, accepted: bool) -> None:
    """B34's times: the phone shows its code at 10:00:29 by our clock, it is checked at 10:00:31."""
    account_id, secret = await bound(app, clock)
    phone_code = pyotp.TOTP(secret).at(at(10, 0, 29) + timedelta(seconds=skew))
    clock.set(at(10, 0, 31))
    if accepted:
        await app.services.authenticator.verify(account_id, phone_code)
    else:
        with pytest.raises(CodeMismatchError):
            await app.services.authenticator.verify(account_id, phone_code)


def test_b34_the_window_is_a_documented_setting(tmp_path: object) -> None:
    assert Settings.from_env({"CREDITBOT_VAR_DIR": str(tmp_path)}).totp_window == 1
    assert Settings.from_env({"CREDITBOT_VAR_DIR": str(tmp_path), "CREDITBOT_TOTP_WINDOW": "2"}).totp_window == 2
    assert TotpPolicy().interval == 30 and TotpPolicy().window == 1


async def test_a_wider_window_takes_the_100_second_skew(app: App, clock: FixedClock) -> None:
    account_id, secret = await bound(app, clock)
    wide = AuthenticatorService(app.services.db, app.services.vault, app.services.kv, clock, app.services.audit,
                                TotpPolicy(window=4))
    clock.set(at(10, 20, 0))
    await wide.verify(account_id, pyotp.TOTP(secret).at(clock.now() + timedelta(seconds=100)))


async def test_each_code_works_once_and_never_an_older_one_after_a_newer(app: App, clock: FixedClock) -> None:
    account_id, secret = await bound(app, clock)
    service, totp = app.services.authenticator, pyotp.TOTP(secret)
    clock.set(at(10, 30, 10))
    newer, older = totp.at(clock.now()), totp.at(clock.now() - timedelta(seconds=30))
    await service.verify(account_id, newer)
    with pytest.raises(AuthenticatorReusedError):
        await service.verify(account_id, newer)
    with pytest.raises(AuthenticatorReusedError):
        await service.verify(account_id, older)  # inside the window, but older than the one used
    clock.advance(30)
    await service.verify(account_id, totp.at(clock.now()))  # the next step's code is fine


async def test_the_same_code_sent_twice_at_once_passes_once(app: App, clock: FixedClock) -> None:
    account_id, secret = await bound(app, clock)
    clock.set(at(10, 40, 0))
    code = pyotp.TOTP(secret).at(clock.now())
    results = await asyncio.gather(*(app.services.authenticator.verify(account_id, code) for _ in range(5)),
                                   return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, AuthenticatorReusedError) for r in results if r is not None)


async def test_the_fifth_wrong_code_locks_app_codes_for_fifteen_minutes_from_then(app: App,
                                                                                  clock: FixedClock) -> None:
    account_id, secret = await bound(app, clock)
    service, totp = app.services.authenticator, pyotp.TOTP(secret)
    clock.set(at(11, 0, 0))
    wrong = f"{(int(totp.at(clock.now())) + 1) % 10**6:06d}"
    remaining = []
    for _ in range(4):
        with pytest.raises(CodeMismatchError) as caught:
            await service.verify(account_id, wrong)
        remaining.append(caught.value.fields["remaining"])
    assert remaining == [4, 3, 2, 1]  # never "0 tries left": the fifth wrong one is the lock itself
    clock.advance(600)  # the lock runs from the fifth wrong code, not from the first
    with pytest.raises(AuthenticatorLockedError):
        await service.verify(account_id, wrong)
    assert await service.locked(account_id)
    clock.advance(899)
    with pytest.raises(AuthenticatorLockedError):
        await service.verify(account_id, totp.at(clock.now()))  # even the right code waits
    clock.advance(2)
    await service.verify(account_id, totp.at(clock.now()))


async def test_a_reused_right_code_is_no_wrong_guess(app: App, clock: FixedClock) -> None:
    account_id, secret = await bound(app, clock)
    service, totp = app.services.authenticator, pyotp.TOTP(secret)
    clock.set(at(11, 30, 0))
    code = totp.at(clock.now())
    await service.verify(account_id, code)
    for _ in range(6):
        with pytest.raises(AuthenticatorReusedError):
            await service.verify(account_id, code)
    assert not await service.locked(account_id)


async def test_removing_the_app_lifts_its_lock_so_a_new_app_can_be_bound(app: App, clock: FixedClock) -> None:
    account_id, secret = await bound(app, clock)
    service = app.services.authenticator
    clock.set(at(12, 30, 0))
    for _ in range(5):
        with pytest.raises((CodeMismatchError, AuthenticatorLockedError)):
            await service.verify(account_id, f"{(int(pyotp.TOTP(secret).at(clock.now())) + 1) % 10**6:06d}")
    assert await service.locked(account_id)
    await service.remove(account_id)
    enrolment = await service.begin(account_id, "wangxm01")
    await service.confirm(account_id, pyotp.TOTP(enrolment.secret).at(clock.now()))
    assert await service.bound(account_id)


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "１２３４５６"])
async def test_malformed_codes_are_wrong_codes(app: App, clock: FixedClock, typed: str) -> None:
    account_id, _ = await bound(app, clock)
    with pytest.raises(CodeMismatchError):
        await app.services.authenticator.verify(account_id, typed)


async def test_full_width_and_spaced_digits_of_the_right_code_pass(app: App, clock: FixedClock) -> None:
    account_id, secret = await bound(app, clock)
    clock.set(at(12, 0, 0))
    code = pyotp.TOTP(secret).at(clock.now())
    typed = " ".join(chr(ord(d) + 0xFEE0) for d in code)  # "１ ２ ３ ..." from a Chinese keyboard
    await app.services.authenticator.verify(account_id, typed)


async def test_binding_needs_a_right_code_for_the_new_secret_within_ten_minutes(app: App,
                                                                                clock: FixedClock) -> None:
    account = await app.services.accounts.register(P1)
    service = app.services.authenticator
    enrolment = await service.begin(account.id, "wangxm01")
    query = parse_qs(urlparse(enrolment.uri).query)
    assert enrolment.uri.startswith("otpauth://totp/") and query["secret"] == [enrolment.secret]
    assert query["issuer"] == ["creditbot"] and enrolment.secret not in repr(enrolment)
    with pytest.raises(CodeMismatchError):
        await service.confirm(account.id, "000000" if pyotp.TOTP(enrolment.secret).now() != "000000" else "111111")
    assert not await service.bound(account.id)
    clock.advance(601)
    with pytest.raises(CodeExpiredError):
        await service.confirm(account.id, pyotp.TOTP(enrolment.secret).at(clock.now()))
    assert not await service.bound(account.id)
    with pytest.raises(CodeNotIssuedError):
        await service.verify(account.id, "123456")


async def test_the_secret_is_sealed_at_rest_and_the_trail_says_on_and_off(app: App, clock: FixedClock) -> None:
    account_id, secret = await bound(app, clock)
    async with app.services.db.sessions() as session:
        stored = await session.scalar(select(Account.totp_secret_enc).where(Account.id == account_id))
        assert stored is not None and secret not in stored
        assert app.services.vault.open(stored) == secret
    assert (await app.services.accounts.get(account_id)).authenticator is True
    await app.services.authenticator.remove(account_id)
    assert (await app.services.accounts.get(account_id)).authenticator is False
    async with app.services.db.sessions() as session:
        actions = list(await session.scalars(select(AuditEvent.action).where(AuditEvent.account_id == account_id)))
        details = list(await session.scalars(select(AuditEvent.detail).where(AuditEvent.account_id == account_id)))
    assert "account.authenticator_on" in actions and "account.authenticator_off" in actions
    assert secret not in str(details)


async def test_closing_the_account_forgets_the_app(app: App, clock: FixedClock) -> None:
    account_id, secret = await bound(app, clock)
    await app.services.accounts.close(account_id)
    async with app.services.db.sessions() as session:
        assert await session.scalar(select(Account.totp_secret_enc).where(Account.id == account_id)) is None
    with pytest.raises(CodeNotIssuedError):
        await app.services.authenticator.verify(account_id, pyotp.TOTP(secret).at(clock.now()))


async def test_typos_cost_no_try(app: App, clock: FixedClock) -> None:
    account_id, secret = await bound(app, clock)
    service = app.services.authenticator
    clock.set(at(13, 0, 0))
    for typo in ("１２３", "abcdef", "", "1234567") * 3:
        with pytest.raises(CodeMismatchError) as caught:
            await service.verify(account_id, typo)
        assert caught.value.fields["remaining"] == 5
    await service.verify(account_id, pyotp.TOTP(secret).at(clock.now()))
