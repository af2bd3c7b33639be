"""Bank-card verification transcripts: four elements, SMS code, captcha; card numbers never kept in clear."""

from __future__ import annotations

import pytest
from fakes import CAPTCHA, P1, Chat, register, texts_of, verify_card
from flowkit import (
    P2,
    WRONG_CAPTCHA,
    all_texts,
    answer_login,
    asked,
    deletes_of,
    has_image,
    last_ref,
    last_text,
    log_in,
    sms_count,
    state_json,
    state_of,
    verify_card_until,
    wrong_code,
)

from bot.wiring import App
from dialogs.catalog import Translator

T = Translator("zh")
DONE = T("bank_card.done", card="6200 **** **** 0018", level="高")


def prompt(slot: str) -> str:
    return T(f"bank_card.{slot}.prompt")


@pytest.fixture
async def started(app: App, chat: Chat) -> Chat:
    """P1 registered, logged in, and at the card question."""
    await register(chat)
    await log_in(chat)
    replies = await chat.tap("/bank_card")
    assert T("bank_card.intro") in texts_of(replies)
    assert last_text(replies) == prompt("card")
    return chat


async def level_and_cards(app: App, login: str = "wangxm01") -> tuple[str, tuple[str, ...]]:
    account = await app.services.accounts.find_by_login(login)
    assert account is not None
    return account.security_level, account.cards_masked


# -- happy path ---------------------------------------------------------------------------------

async def test_happy_path_raises_the_level_and_offers_quick_query(app: App, started: Chat) -> None:
    chat = started
    for step, answer, next_step in [("card", P1["card"], "name"), ("name", P1["name"], "id_type"),
                                    ("id_type", "/id_type:0", "id_number"),
                                    ("id_number", P1["id_number"], "phone")]:
        assert await asked(app, chat) == ("bank_card", step)
        replies = await (chat.tap(answer) if answer.startswith("/") else chat.say(answer))
        assert last_text(replies) == prompt(next_step)
    replies = await chat.say("155 0000 0101")
    assert "验证码已发送至手机 155****0101" in texts_of(replies) and last_text(replies) == prompt("sms_code")
    replies = await chat.say(await chat.last_code(P1["phone"]))
    assert has_image(replies) and last_text(replies) == prompt("captcha")
    replies = await chat.say(CAPTCHA)
    assert DONE in texts_of(replies)
    assert last_text(replies) == T("quick_query.prompt")
    assert await level_and_cards(app) == ("high", ("6200 **** **** 0018",))
    assert P1["card"] not in all_texts(chat) and "6200 0000 0000 0000 018" not in all_texts(chat)


@pytest.mark.parametrize("typed", ["6200 0000 0000 0000 018", "6200-0000-0000-0000-018", "6200000000000000018",
                                   "62000 00000000000018", "６２００ ００００ ００００ ００００ ０１８",
                                   "6200\u200b0000\u200b0000\u200b0000\u200b018"])
async def test_b23_b25_b30_card_spellings_are_the_same_card(app: App, started: Chat, typed: str) -> None:
    assert last_text(await started.say(typed)) == prompt("name")
    await verify_card_until_after_card(started)
    assert DONE in texts_of(await started.say(CAPTCHA))
    assert await level_and_cards(app) == ("high", ("6200 **** **** 0018",))


async def verify_card_until_after_card(chat: Chat) -> None:
    await chat.say(P1["name"])
    await chat.tap("/id_type:0")
    await chat.say(P1["id_number"])
    await chat.say(P1["phone"])
    await chat.say(await chat.last_code(P1["phone"]))


async def test_b20_lower_case_x_at_registration_upper_case_at_the_bank(app: App, chat: Chat) -> None:
    await register(chat, {**P2, "id_number": "11010519691231007x"}, login="lijianguo1")
    await log_in(chat, "lijianguo1")
    await chat.tap("/bank_card")
    await verify_card_until(chat, "captcha", person={**P2, "id_number": "11010519691231007X"})
    replies = await chat.say(CAPTCHA)
    assert T("bank_card.done", card="6200 **** **** 0120", level="高") in texts_of(replies)


async def test_b20_lower_case_x_at_the_bank_too(app: App, chat: Chat) -> None:
    await register(chat, P2, login="lijianguo1")
    await log_in(chat, "lijianguo1")
    await chat.tap("/bank_card")
    await verify_card_until(chat, "captcha", person={**P2, "id_number": "11010519691231007x"})
    assert "银行卡验证通过" in texts_of(await chat.say(CAPTCHA))


async def test_needs_log_in_first_then_starts(app: App, chat: Chat) -> None:
    await register(chat)
    replies = await chat.tap("/bank_card")
    assert T("login.required") in texts_of(replies)
    replies = await answer_login(chat)
    assert T("bank_card.intro") in texts_of(replies) and last_text(replies) == prompt("card")


# -- one invalid answer per validator -------------------------------------------------------------

@pytest.mark.parametrize(("step", "answer", "reason_key"), [
    ("card", "6200 0000 0000", "error.card.format"),
    ("card", "6200 0000 0000 0000 019", "error.card.luhn"),
    ("name", "Wang 2", "error.name.format"),
    ("id_type", "99", "error.choice.unknown"),
    ("id_number", "110105199013071235", "error.id_number.birth_date"),
    ("id_number", "110105199003071238", "error.id_number.check_digit"),
    ("phone", "120-0000-0606", "error.phone.format"),
    ("sms_code", "12ab56", "error.code.format"),
    ("captcha", WRONG_CAPTCHA, "error.captcha.mismatch"),
])
async def test_invalid_answer_says_what_is_expected_and_asks_again(
        app: App, started: Chat, step: str, answer: str, reason_key: str) -> None:
    await verify_card_until(started, step)
    replies = await started.say(answer)
    assert T(reason_key) in texts_of(replies)
    assert last_text(replies) == prompt(step)
    assert await asked(app, started) == ("bank_card", step)


async def test_wrong_sms_code_is_counted_and_no_new_code_is_sent(app: App, started: Chat) -> None:
    await verify_card_until(started, "sms_code")
    code, sent = await started.last_code(P1["phone"]), await sms_count(app, P1["phone"])
    replies = await started.say(wrong_code(code))
    assert T("error.code.mismatch", remaining=4) in texts_of(replies)
    assert await sms_count(app, P1["phone"]) == sent
    assert last_text(await started.say(code)) == prompt("captcha")


async def test_someone_elses_card_details_are_refused(app: App, started: Chat) -> None:
    await verify_card_until(started, "captcha", person={**P1, "name": "张伟"})
    replies = await started.say(CAPTCHA)
    assert T("bank_card.not_holder") in texts_of(replies)
    assert T("bank_card.retry") in texts_of(replies) and last_text(replies) == prompt("card")
    assert await level_and_cards(app) == ("low", ())


async def test_the_bank_says_the_phone_does_not_match(app: App, started: Chat) -> None:
    await verify_card_until(started, "captcha", person={**P1, "phone": "19900000505"})
    assert T("bank_card.mismatch") in texts_of(await started.say(CAPTCHA))


async def test_unknown_card(app: App, started: Chat) -> None:
    await verify_card_until(started, "captcha", person={**P1, "card": "4111111111111111"})
    assert T("bank_card.unknown_card") in texts_of(await started.say(CAPTCHA))


async def test_three_failures_end_the_flow(app: App, started: Chat, clock) -> None:  # type: ignore[no-untyped-def]
    for attempt in range(3):
        clock.advance(61)  # past the SMS resend window
        await verify_card_until(started, "captcha", person={**P1, "phone": "19900000505"})
        replies = await started.say(CAPTCHA)
    assert T("bank_card.too_many") in texts_of(replies)
    assert await asked(app, started) == (None, None)
    assert await level_and_cards(app) == ("low", ())


# -- cancel, back, help, not text, secrets --------------------------------------------------------

async def test_cancel_clears_the_state_and_verifies_nothing(app: App, started: Chat) -> None:
    await verify_card_until(started, "captcha")
    assert T("cancelled") in texts_of(await started.say("/cancel"))
    state = await state_of(app, started)
    assert (state["flow"], state["slots"], state["stack"]) == (None, {}, [])
    assert await level_and_cards(app) == ("low", ())
    assert "bank_card.done" not in all_texts(started)


@pytest.mark.parametrize(("step", "previous"), [("name", "card"), ("phone", "id_number"), ("captcha", "sms_code")])
async def test_back_asks_the_previous_question(app: App, started: Chat, step: str, previous: str) -> None:
    await verify_card_until(started, step)
    assert last_text(await started.say("/back")) == prompt(previous)


async def test_help_then_the_same_question(app: App, started: Chat) -> None:
    await verify_card_until(started, "phone")
    replies = await started.say("帮助")
    assert T("help.bank_card") in texts_of(replies) and last_text(replies) == prompt("phone")


@pytest.mark.parametrize("step", ["card", "id_type", "sms_code"])
async def test_sticker_where_text_is_asked(app: App, started: Chat, step: str) -> None:
    await verify_card_until(started, step)
    sent = await sms_count(app, P1["phone"])
    replies = await started.send("photo")
    assert T("error.not_text") in texts_of(replies) and last_text(replies) == prompt(step)
    assert await sms_count(app, P1["phone"]) == sent


async def test_card_and_code_messages_are_deleted_and_the_card_is_never_stored_in_clear(
        app: App, started: Chat) -> None:
    replies = await started.say("6200 0000 0000 0000 018")
    assert deletes_of(replies) == [last_ref(started)]
    await verify_card_until_after_card(started)
    assert deletes_of(started.history[-3:]) == [last_ref(started)]  # the SMS code message
    stored = await state_json(app, started)
    for clear in (P1["card"], "6200 0000 0000 0000 018", "0000000000000018"):
        assert clear not in stored
    await started.say(CAPTCHA)
    assert P1["card"] not in await state_json(app, started)


async def test_a_name_is_not_deleted(app: App, started: Chat) -> None:
    await started.say(P1["card"])
    assert deletes_of(await started.say(P1["name"])) == []


async def test_at_level_high_the_check_does_not_promise_to_raise_the_level(app: App, chat: Chat) -> None:
    await register(chat)
    await log_in(chat)
    assert T("bank_card.intro") in texts_of(await chat.tap("/bank_card"))
    await verify_card(chat)
    await chat.tap("/decision:decline")
    await chat.tap("/change_phone")
    replies = await chat.tap("/method:bank_card")  # identity verification, now at level high
    assert T("bank_card.intro_verify") in texts_of(replies) and T("bank_card.intro") not in texts_of(replies)
