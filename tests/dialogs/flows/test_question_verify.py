"""Question-verification transcripts: five questions on the own credit file, ten minutes, three tries a day."""

from __future__ import annotations

import json

import pytest
from fakes import P1, Chat, register, texts_of, verify_card
from flowkit import asked, buttons_of, last_text, log_in, state_json, state_of

from backend.clock import FixedClock
from bot.wiring import App
from dialogs.catalog import Translator
from dialogs.context import SEALED
from dialogs.flows.question_verify import failures_key
from dialogs.types import Reply

T = Translator("zh")


def _resident_id(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


# Not in data/fixtures/personas.json: a real person with no credit history.
NOBODY = {"name": "赵六", "id_number": _resident_id("11010119850203003"), "phone": "13900000909",
          "card": "6200000000000000000"}


async def level(app: App, login: str = "wangxm01") -> str:
    account = await app.services.accounts.find_by_login(login)
    assert account is not None
    return account.security_level


async def right_answers(app: App, chat: Chat) -> list[int]:
    sealed = (await state_of(app, chat))["slots"]["answers"]
    assert set(sealed) == {SEALED}
    return json.loads(app.services.vault.open(sealed[SEALED]))  # type: ignore[no-any-return]


async def start(app: App, chat: Chat) -> list[Reply]:
    replies = await chat.tap("/question_verify")
    assert T("question_verify.intro", total=5, minutes=10) in texts_of(replies)
    assert await asked(app, chat) == ("question_verify", "q1")
    return replies


async def answer_all(chat: Chat, picks: list[int], clock: FixedClock | None = None,
                     step: float = 0) -> list[Reply]:
    replies: list[Reply] = []
    for n, pick in enumerate(picks, start=1):
        if clock is not None:
            clock.advance(step)
        replies = await chat.tap(f"/q{n}:{pick}")
    return replies


async def fail_once(app: App, chat: Chat) -> list[Reply]:
    await start(app, chat)
    right = await right_answers(app, chat)
    return await answer_all(chat, [(r + 1) % (2 if n == 3 else 4) for n, r in enumerate(right)])


@pytest.fixture
async def user(app: App, chat: Chat) -> Chat:
    await register(chat)
    await log_in(chat)
    return chat


async def test_happy_path_raises_the_level_to_medium(app: App, user: Chat) -> None:
    replies = await start(app, user)
    assert T("question_verify.question", number=1, total=5) in last_text(replies)
    assert buttons_of(replies) == ["/q1:0", "/q1:1", "/q1:2", "/q1:3"]
    state = await state_json(app, user)
    assert '"answers": {"$sealed"' in state and "answer_index" not in state
    right = await right_answers(app, user)
    replies = await answer_all(user, right)
    assert T("question_verify.done", level=T("level.medium")) in texts_of(replies)
    assert await level(app) == "medium"
    assert await asked(app, user) == (None, None)


async def test_the_mortgage_question_has_two_options_and_prompts_list_the_options(app: App, user: Chat) -> None:
    await start(app, user)
    right = await right_answers(app, user)
    for n in (1, 2, 3):
        replies = await user.tap(f"/q{n}:{right[n - 1]}")
    assert T("question_verify.kind.has_mortgage") in last_text(replies)
    assert buttons_of(replies) == ["/q4:0", "/q4:1"]
    assert "A. " + T("question_verify.answer.yes") in last_text(replies)
    assert P1["id_number"] not in texts_of(user.history[-10:]) and "2800000" not in texts_of(user.history[-10:])


async def test_a_letter_typed_or_an_unknown_value_is_handled(app: App, user: Chat) -> None:
    await start(app, user)
    replies = await user.say("Z")
    assert await asked(app, user) == ("question_verify", "q1")
    assert T("question_verify.question", number=1, total=5) in last_text(replies)
    await user.say("b")
    assert await asked(app, user) == ("question_verify", "q2")


async def test_wrong_answers_fail_and_are_counted(app: App, user: Chat) -> None:
    replies = await fail_once(app, user)
    assert T("question_verify.wrong") in texts_of(replies)
    assert T("question_verify.retry", left=2) in texts_of(replies)
    assert await level(app) == "low"
    account = await app.services.accounts.find_by_login("wangxm01")
    assert account is not None and await app.services.kv.get(failures_key(account.id)) == 1
    assert await asked(app, user) == (None, None)


async def test_retry_shows_the_same_questions(app: App, user: Chat) -> None:
    await start(app, user)
    first = (await state_of(app, user))["slots"]["questions"]
    await user.say("/cancel")
    await start(app, user)
    assert (await state_of(app, user))["slots"]["questions"] == first


async def test_three_failures_refuse_and_point_to_other_methods(app: App, user: Chat,
                                                               clock: FixedClock) -> None:
    await fail_once(app, user)
    await fail_once(app, user)
    replies = await fail_once(app, user)
    assert T("question_verify.too_many") in texts_of(replies)
    assert {"/bank_card", "/certificate"} <= set(buttons_of(replies))
    replies = await user.tap("/question_verify")
    assert T("question_verify.too_many") in texts_of(replies)
    assert T("question_verify.intro", total=5, minutes=10) not in texts_of(replies)
    assert await asked(app, user) == (None, None)
    clock.advance(24 * 3600 + 1)  # the count lapses after a day
    await log_in(user)
    await start(app, user)


async def test_answering_after_ten_minutes_fails(app: App, user: Chat, clock: FixedClock) -> None:
    await start(app, user)
    right = await right_answers(app, user)
    replies = await answer_all(user, right, clock, step=130)  # 5 x 130 s > 600 s, each turn < flow timeout
    assert T("question_verify.too_slow") in texts_of(replies)
    assert await level(app) == "low"


async def test_answering_just_within_ten_minutes_passes(app: App, user: Chat, clock: FixedClock) -> None:
    await start(app, user)
    right = await right_answers(app, user)
    replies = await answer_all(user, right, clock, step=119)
    assert T("question_verify.done", level=T("level.medium")) in texts_of(replies)


async def test_an_empty_credit_file_is_not_available(app: App, chat: Chat) -> None:
    await register(chat, NOBODY, "zhaoliu01")
    await log_in(chat, "zhaoliu01")
    replies = await chat.tap("/question_verify")
    assert T("question_verify.not_available") in texts_of(replies)
    assert await asked(app, chat) == (None, None)
    assert await level(app, "zhaoliu01") == "low"


async def test_a_high_level_stays_high(app: App, user: Chat) -> None:
    await user.tap("/bank_card")
    await verify_card(user)
    await user.say("/menu")
    assert await level(app) == "high"
    await start(app, user)
    replies = await answer_all(user, await right_answers(app, user))
    assert T("question_verify.done", level=T("level.high")) in texts_of(replies)
    assert await level(app) == "high"


async def test_not_logged_in_asks_for_the_log_in_first(app: App, chat: Chat) -> None:
    await register(chat)
    replies = await chat.tap("/question_verify")
    assert T("login.required") in texts_of(replies)
