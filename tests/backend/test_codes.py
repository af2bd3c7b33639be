"""SMS codes (B36): single use, five wrong tries, a 60-second resend window that keeps the code, 5-minute life."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from backend.clock import FixedClock
from backend.codes import CODE_LENGTH, CodePolicy, CodeService, build_code, normalise
from backend.errors import (
    CodeExhaustedError,
    CodeExpiredError,
    CodeMismatchError,
    CodeNotIssuedError,
    ResendTooSoonError,
)
from backend.kv import MemoryKeyValueStore

PHONE = "phone-hash-of-15500000101"  # counters are keyed by the phone's lookup hash


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 12, 3, 2, 0, tzinfo=timezone.utc))


@pytest.fixture
def codes(clock: FixedClock) -> CodeService:
    store = MemoryKeyValueStore(time_source=lambda: clock.now().timestamp())
    return CodeService(store, clock, CodePolicy(ttl_seconds=300, max_failures=5, resend_seconds=60))


def other_than(code: str) -> str:
    return f"{(int(code) + 1) % 10**CODE_LENGTH:0{CODE_LENGTH}d}"


# -- pure ---------------------------------------------------------------------------------------

def test_build_code_is_six_ascii_digits() -> None:
    for _ in range(200):
        code = build_code()
        assert len(code) == CODE_LENGTH and code.isascii() and code.isdigit()


@pytest.mark.parametrize(("typed", "expected"), [
    ("123456", "123456"), ("１２３４５６", "123456"), ("123 456", "123456"), (" 123456\n", "123456"),
    ("12\u200b34\ufeff56", "123456"),
])
def test_normalise(typed: str, expected: str) -> None:
    assert normalise(typed) == expected


# -- right code ---------------------------------------------------------------------------------

async def test_right_code_is_accepted_once(codes: CodeService) -> None:
    code = await codes.issue("register", PHONE)
    await codes.verify("register", PHONE, code)
    with pytest.raises(CodeNotIssuedError):
        await codes.verify("register", PHONE, code)


async def test_b23_full_width_code_is_accepted(codes: CodeService) -> None:
    code = await codes.issue("register", PHONE)
    await codes.verify("register", PHONE, code.translate(str.maketrans("0123456789", "０１２３４５６７８９")))


async def test_no_code_issued(codes: CodeService) -> None:
    with pytest.raises(CodeNotIssuedError):
        await codes.verify("register", PHONE, "123456")


async def test_purposes_and_phones_are_separate(codes: CodeService) -> None:
    code = await codes.issue("register", PHONE)
    with pytest.raises(CodeNotIssuedError):
        await codes.verify("request", PHONE, code)
    with pytest.raises(CodeNotIssuedError):
        await codes.verify("register", "another-phone", code)
    await codes.issue("request", PHONE)  # its own resend window
    await codes.verify("register", PHONE, code)


async def test_two_chats_sending_the_right_code_at_once_use_it_once(codes: CodeService) -> None:
    code = await codes.issue("register", PHONE)
    outcomes = await asyncio.gather(*(codes.verify("register", PHONE, code) for _ in range(3)),
                                    return_exceptions=True)
    assert outcomes.count(None) == 1
    assert all(isinstance(o, CodeNotIssuedError) for o in outcomes if o is not None)


# -- wrong codes (B36) --------------------------------------------------------------------------

async def test_b36_five_wrong_codes_void_it_and_the_right_one_is_then_refused(codes: CodeService) -> None:
    code = await codes.issue("register", PHONE)
    for remaining in (4, 3, 2, 1):
        with pytest.raises(CodeMismatchError) as caught:
            await codes.verify("register", PHONE, other_than(code))
        assert caught.value.fields["remaining"] == remaining
    with pytest.raises(CodeExhaustedError):
        await codes.verify("register", PHONE, other_than(code))
    with pytest.raises(CodeExhaustedError):  # "request a new one", not "accepted" nor "never sent"
        await codes.verify("register", PHONE, code)
    assert not await codes.usable("register", PHONE)


async def test_b36_wrong_guesses_sent_at_once_are_all_counted(codes: CodeService) -> None:
    code = await codes.issue("register", PHONE)
    await asyncio.gather(*(codes.verify("register", PHONE, other_than(code)) for _ in range(8)),
                         return_exceptions=True)
    with pytest.raises(CodeExhaustedError):
        await codes.verify("register", PHONE, code)


async def test_b36_a_new_code_after_the_window_starts_a_new_count(codes: CodeService, clock: FixedClock) -> None:
    code = await codes.issue("register", PHONE)
    for _ in range(5):
        with pytest.raises((CodeMismatchError, CodeExhaustedError)):
            await codes.verify("register", PHONE, other_than(code))
    clock.advance(60)
    fresh = await codes.issue("register", PHONE)
    assert await codes.usable("register", PHONE)
    with pytest.raises(CodeMismatchError) as caught:
        await codes.verify("register", PHONE, other_than(fresh))
    assert caught.value.fields["remaining"] == 4
    await codes.verify("register", PHONE, fresh)


# -- resend window (B36) ------------------------------------------------------------------------

async def test_b36_resend_within_60_seconds_is_refused_and_keeps_the_active_code(
        codes: CodeService, clock: FixedClock) -> None:
    code = await codes.issue("register", PHONE)
    clock.advance(20)
    with pytest.raises(ResendTooSoonError) as caught:
        await codes.issue("register", PHONE)
    assert caught.value.wait_seconds == 40
    clock.advance(39)
    with pytest.raises(ResendTooSoonError):
        await codes.issue("register", PHONE)
    assert await codes.seconds_until_resend("register", PHONE) == 1
    await codes.verify("register", PHONE, code)


async def test_resend_after_60_seconds_replaces_the_code(codes: CodeService, clock: FixedClock) -> None:
    first = await codes.issue("register", PHONE)
    clock.advance(60)
    second = await codes.issue("register", PHONE)
    if first != second:
        with pytest.raises(CodeMismatchError):
            await codes.verify("register", PHONE, first)
    await codes.verify("register", PHONE, second)


async def test_a_used_code_does_not_hold_back_the_next_one(codes: CodeService) -> None:
    await codes.verify("register", PHONE, await codes.issue("register", PHONE))
    await codes.verify("register", PHONE, await codes.issue("register", PHONE))  # a second step, at once


async def test_a_voided_code_keeps_the_resend_window(codes: CodeService) -> None:
    code = await codes.issue("register", PHONE)
    for _ in range(5):
        with pytest.raises((CodeMismatchError, CodeExhaustedError)):
            await codes.verify("register", PHONE, other_than(code))
    with pytest.raises(ResendTooSoonError):  # guessing must not buy fresh codes faster
        await codes.issue("register", PHONE)


async def test_two_resends_at_once_issue_one_code(codes: CodeService) -> None:
    outcomes = await asyncio.gather(codes.issue("register", PHONE), codes.issue("register", PHONE),
                                    return_exceptions=True)
    assert sum(isinstance(o, str) for o in outcomes) == 1
    assert sum(isinstance(o, ResendTooSoonError) for o in outcomes) == 1


# -- lifetime -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("after", "accepted"), [(0, True), (299, True), (300, False), (301, False)])
async def test_codes_live_five_minutes(codes: CodeService, clock: FixedClock, after: int, accepted: bool) -> None:
    code = await codes.issue("register", PHONE)
    clock.advance(after)
    if accepted:
        await codes.verify("register", PHONE, code)
        return
    assert not await codes.usable("register", PHONE)
    with pytest.raises(CodeExpiredError):
        await codes.verify("register", PHONE, code)
    with pytest.raises(CodeNotIssuedError):
        await codes.verify("register", PHONE, code)


async def test_usable(codes: CodeService) -> None:
    assert not await codes.usable("register", PHONE)
    code = await codes.issue("register", PHONE)
    assert await codes.usable("register", PHONE)
    await codes.verify("register", PHONE, code)
    assert not await codes.usable("register", PHONE)


async def test_cancel_drops_the_code(codes: CodeService) -> None:
    code = await codes.issue("register", PHONE)
    await codes.cancel("register", PHONE)
    with pytest.raises(CodeNotIssuedError):
        await codes.verify("register", PHONE, code)


async def test_the_store_never_holds_the_code_in_clear(codes: CodeService) -> None:
    store = MemoryKeyValueStore()
    service = CodeService(store, FixedClock(datetime(2026, 12, 3, tzinfo=timezone.utc)))
    code = await service.issue("register", PHONE)
    record = await store.get(f"code:register:{PHONE}")
    assert code not in str(record)
