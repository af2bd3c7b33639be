"""Registration transcripts: identity, account, SMS code; normalised input, secrets, cancel, back, races."""

from __future__ import annotations

import asyncio

import pytest
from fakes import CAPTCHA, P1, Chat, register, texts_of
from flowkit import (
    P2,
    P4,
    PASSWORD,
    WRONG_CAPTCHA,
    accounts_count,
    all_texts,
    asked,
    buttons_of,
    deletes_of,
    has_image,
    last_ref,
    last_text,
    register_until,
    sms_count,
    state_json,
    state_of,
    wrong_code,
)

from backend.clock import FixedClock
from bot.wiring import App
from dialogs.catalog import Translator
from dialogs.types import Delete

T = Translator("zh")


def prompt(slot: str) -> str:
    if slot == "agreement":
        return T("register.agreement.prompt", agreement=T("agreement.text"))
    return T(f"register.{slot}.prompt")


async def finish(chat: Chat, person: dict[str, str] = P1) -> str:
    """At the SMS question: types the texted code and returns the reply text."""
    return texts_of(await chat.say(await chat.last_code(person["phone"])))


async def stored(app: App, login: str = "wangxm01"):  # type: ignore[no-untyped-def]
    account = await app.services.accounts.find_by_login(login)
    assert account is not None
    return account


# -- happy path ---------------------------------------------------------------------------------

async def test_happy_path_asks_each_question_in_order_and_creates_the_account(app: App, chat: Chat) -> None:
    replies = await chat.say("/register")
    assert T("register.intro") in texts_of(replies)
    assert last_text(replies) == prompt("name")
    replies = await chat.say("王小明")
    assert last_text(replies) == prompt("id_type")
    assert "/id_type:0" in buttons_of(replies)
    replies = await chat.tap("/id_type:0")
    assert last_text(replies) == prompt("id_number")
    replies = await chat.say("110105199003071239")
    assert has_image(replies) and last_text(replies) == prompt("captcha")
    replies = await chat.say(CAPTCHA.lower())
    assert last_text(replies) == prompt("agreement")
    replies = await chat.tap("/agreement:accept")
    assert last_text(replies) == prompt("login_name")
    replies = await chat.say("wangxm01")
    assert last_text(replies) == prompt("password")
    replies = await chat.say(PASSWORD)
    assert last_text(replies) == prompt("password_confirm")
    replies = await chat.say(PASSWORD)
    assert last_text(replies) == prompt("phone")
    replies = await chat.say("155-0000-0101")
    assert "验证码已发送至手机 155****0101" in texts_of(replies)
    assert last_text(replies) == prompt("sms_code")
    assert await sms_count(app, P1["phone"]) == 1
    done = await finish(chat)
    assert "注册成功" in done
    assert await accounts_count(app) == 1
    account = await stored(app)
    assert (account.name, account.id_number, account.phone) == ("王小明", "110105199003071239", "15500000101")
    assert account.security_level == "low"
    assert await asked(app, chat) == (None, None)


async def test_success_message_echoes_masked_values_only(app: App, chat: Chat) -> None:
    await register_until(chat, "sms_code")
    done = await finish(chat)
    assert "王*明" in done and "110105********1239" in done and "155****0101" in done
    everything = all_texts(chat)
    for secret in ("110105199003071239", "15500000101", "155-0000-0101", PASSWORD):
        assert secret not in everything


# -- normalised input (B20, B23, B25, B26) -------------------------------------------------------

@pytest.mark.parametrize("typed", ["阿依古丽·买买提", "阿依古丽•买买提", "阿依古丽・买买提", "阿依古丽．买买提",
                                   "阿依古丽.买买提", "阿依古丽 · 买买提"])
async def test_b26_middle_dot_variants_are_stored_with_u00b7(app: App, chat: Chat, typed: str) -> None:
    await register_until(chat, "sms_code", person={**P4, "name": typed}, login="ayiguli01")
    assert "注册成功" in await finish(chat, P4)
    assert (await stored(app, "ayiguli01")).name == "阿依古丽\u00b7买买提"


async def test_b26_space_instead_of_the_dot_is_refused_with_a_hint(app: App, chat: Chat) -> None:
    await chat.say("/register")
    replies = await chat.say("阿依古丽 买买提")
    assert T("error.name.separator") in texts_of(replies)
    assert last_text(replies) == prompt("name")


@pytest.mark.parametrize("typed", ["11010519691231007x", "１１０１０５１９６９１２３１００７Ｘ",
                                   "１１０１０５１９６９１２３１００７ｘ", "\ufeff11010519691231007X",
                                   "110105\u200b19691231007x"])
async def test_b20_b23_b25_id_number_is_accepted_and_stored_upper_case(app: App, chat: Chat, typed: str) -> None:
    await register_until(chat, "sms_code", person={**P2, "id_number": typed}, login="lijianguo1")
    assert "注册成功" in await finish(chat, P2)
    assert (await stored(app, "lijianguo1")).id_number == "11010519691231007X"


async def test_b20_both_spellings_reach_the_same_identity(app: App, chat: Chat) -> None:
    await register_until(chat, "sms_code", person={**P2, "id_number": "11010519691231007x"}, login="lijianguo1")
    await finish(chat, P2)
    other = Chat(app, "rest:other")
    await register_until(other, "sms_code", person={**P2, "id_number": "11010519691231007X"}, login="lijianguo2")
    assert T("register.identity_taken") in await finish(other, P2)
    assert await accounts_count(app) == 1


async def test_b23_b25_full_width_and_zero_width_phone_code_and_login_name(app: App, chat: Chat) -> None:
    await register_until(chat, "login_name")
    await chat.say("wang\u200dxm01")
    await chat.say(PASSWORD)
    await chat.say(PASSWORD)
    replies = await chat.say("１５５－００００－０１０１")
    assert "155****0101" in texts_of(replies)
    code = await chat.last_code(P1["phone"])
    full_width = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert "注册成功" in texts_of(await chat.say(full_width))
    account = await stored(app, "wangxm01")
    assert account.login_name == "wangxm01" and account.phone == "15500000101"


async def test_b25_phone_with_zero_width_spaces(app: App, chat: Chat) -> None:
    await register_until(chat, "phone")
    replies = await chat.say("155\u200b0000\u200b0101")
    assert last_text(replies) == prompt("sms_code")


# -- one invalid answer per validator: the reason, then the same question ------------------------

@pytest.mark.parametrize(("step", "answer", "reason_key"), [
    ("name", "王小明2", "error.name.format"),
    ("id_type", "身份证吧", "error.choice.unknown"),
    ("id_number", "110105199003071238", "error.id_number.check_digit"),
    ("id_number", "11010519900307123", "error.id_number.format"),
    ("captcha", WRONG_CAPTCHA, "error.captcha.mismatch"),
    ("captcha", "王小明", "error.captcha.mismatch"),
    ("agreement", "好的吧", "error.choice.unknown"),
    ("login_name", "1wangxm", "error.login_name.format"),
    ("login_name", "wxm", "error.login_name.length"),
    ("password", "Ab1!", "error.password.length"),
    ("password", "abcdefghij", "error.password.classes"),
    ("password", "Abc 12345!", "error.password.spaces"),
    ("phone", "120-0000-0606", "error.phone.format"),
    ("phone", "155-0000-010", "error.phone.format"),
    ("sms_code", "12345", "error.code.format"),
])
async def test_invalid_answer_says_what_is_expected_and_asks_again(
        app: App, chat: Chat, step: str, answer: str, reason_key: str) -> None:
    await register_until(chat, step)
    replies = await chat.say(answer)
    assert T(reason_key) in texts_of(replies)
    assert last_text(replies) == prompt(step)
    assert await asked(app, chat) == ("register", step)


async def test_wrong_captcha_shows_a_new_picture(app: App, chat: Chat) -> None:
    await register_until(chat, "captcha")
    replies = await chat.say(WRONG_CAPTCHA)
    assert has_image(replies)


async def test_wrong_sms_code_counts_down_and_sends_no_new_code(app: App, chat: Chat) -> None:
    await register_until(chat, "sms_code")
    code = await chat.last_code(P1["phone"])
    replies = await chat.say(wrong_code(code))
    assert T("error.code.mismatch", remaining=4) in texts_of(replies)
    assert last_text(replies) == prompt("sms_code")
    assert await sms_count(app, P1["phone"]) == 1
    assert "注册成功" in texts_of(await chat.say(code))


async def test_identity_already_registered_is_said_only_after_captcha_and_sms_code(app: App, chat: Chat) -> None:
    await register_until(chat, "sms_code")
    await finish(chat)
    other = Chat(app, "rest:other")
    await register_until(other, "id_number")
    replies = await other.say(P1["id_number"])  # the document question tells nothing
    assert T("register.identity_taken") not in texts_of(replies) and last_text(replies) == prompt("captcha")
    for step, answer in (("captcha", CAPTCHA), ("agreement", "/agreement:accept"), ("login_name", "wangxm02"),
                         ("password", PASSWORD), ("password_confirm", PASSWORD)):
        replies = await (other.tap(answer) if answer.startswith("/") else other.say(answer))
        assert T("register.identity_taken") not in texts_of(replies), step
    replies = await other.say(P4["phone"])
    assert last_text(replies) == prompt("sms_code")
    replies = await other.say(await other.last_code(P4["phone"]))
    assert T("register.identity_taken") in texts_of(replies)
    assert {"/recover_login", "/reset_password"} <= set(buttons_of(replies))
    assert await accounts_count(app) == 1 and await app.services.accounts.find_by_login("wangxm02") is None
    assert await asked(app, other) == (None, None)  # the flow has ended
    assert PASSWORD not in await state_json(app, other) and "wangxm02" not in await state_json(app, other)


async def test_login_names_are_looked_up_a_limited_number_of_times(app: App, chat: Chat) -> None:
    from dialogs.flows.register import LOGIN_CHECKS_PER_HOUR

    await register_until(chat, "login_name")
    for i in range(LOGIN_CHECKS_PER_HOUR):
        assert last_text(await chat.say(f"probe{i:03d}x")) == prompt("password")
        assert last_text(await chat.say("返回")) == prompt("login_name")
    replies = await chat.say("probe999x")
    assert T("register.login_name.too_many") in texts_of(replies)
    assert await asked(app, chat) == (None, None)
    assert await accounts_count(app) == 0


async def test_login_name_taken_is_refused_whatever_its_case(app: App, chat: Chat) -> None:
    await register_until(chat, "sms_code")
    await finish(chat)
    other = Chat(app, "rest:other")
    await register_until(other, "login_name", person=P2)
    replies = await other.say("WangXM01")
    assert T("error.login_taken") in texts_of(replies)
    assert last_text(replies) == prompt("login_name")


async def test_passwords_that_differ_ask_for_both_again(app: App, chat: Chat) -> None:
    await register_until(chat, "password_confirm")
    replies = await chat.say("Xyz12345!")
    assert T("error.password.mismatch") in texts_of(replies)
    assert last_text(replies) == prompt("password")
    assert last_text(await chat.say(PASSWORD)) == prompt("password_confirm")
    assert last_text(await chat.say(PASSWORD)) == prompt("phone")


async def test_declining_the_agreement_cancels_and_keeps_nothing(app: App, chat: Chat) -> None:
    await register_until(chat, "agreement")
    replies = await chat.tap("/agreement:decline")
    assert T("error.agreement.declined") in texts_of(replies)
    assert "/register" in buttons_of(replies)
    state = await state_of(app, chat)
    assert (state["flow"], state["slots"], state["stack"]) == (None, {}, [])
    assert P1["id_number"] not in await state_json(app, chat)
    assert await accounts_count(app) == 0


async def test_a_button_from_an_earlier_question_is_refused(app: App, chat: Chat) -> None:
    await register_until(chat, "login_name")
    replies = await chat.tap("/id_type:2")
    assert T("error.stale_button") in texts_of(replies)
    assert last_text(replies) == prompt("login_name")


async def test_a_button_of_a_finished_registration_says_it_is_stale(app: App, chat: Chat) -> None:
    await register(chat)
    replies = await chat.tap("/agreement:accept")
    assert T("error.stale_button_idle") in texts_of(replies)
    assert "/register" in buttons_of(replies) or "/login" in buttons_of(replies)  # the menu follows
    assert await accounts_count(app) == 1


# -- cancel, back, help, not text ---------------------------------------------------------------

async def test_cancel_at_the_sms_step_clears_state_and_writes_no_account(app: App, chat: Chat) -> None:
    await register_until(chat, "sms_code")
    replies = await chat.say("/cancel")
    assert T("cancelled") in texts_of(replies)
    state = await state_of(app, chat)
    assert (state["flow"], state["slots"], state["asked"], state["stack"]) == (None, {}, None, [])
    assert await accounts_count(app) == 0
    replies = await chat.say(await chat.last_code(P1["phone"]))  # the code typed afterwards does nothing
    assert await accounts_count(app) == 0
    assert "注册成功" not in texts_of(replies)


async def test_cancel_word_without_slash(app: App, chat: Chat) -> None:
    await register_until(chat, "id_number")
    assert T("cancelled") in texts_of(await chat.say("取消"))
    assert await asked(app, chat) == (None, None)


@pytest.mark.parametrize(("step", "previous"), [("id_type", "name"), ("id_number", "id_type"),
                                                ("password_confirm", "password"), ("sms_code", "phone")])
async def test_back_asks_the_previous_question_again(app: App, chat: Chat, step: str, previous: str) -> None:
    await register_until(chat, step)
    replies = await chat.say("返回")
    assert last_text(replies) == prompt(previous)
    assert await asked(app, chat) == ("register", previous)


async def test_back_at_the_first_question_says_so_and_asks_it_again(app: App, chat: Chat) -> None:
    await chat.say("/register")
    replies = await chat.say("/back")
    assert T("back.first") in texts_of(replies)
    assert last_text(replies) == prompt("name")


async def test_help_explains_then_asks_the_same_question(app: App, chat: Chat) -> None:
    await register_until(chat, "id_number")
    replies = await chat.say("帮助")
    assert T("help.register") in texts_of(replies)
    assert last_text(replies) == prompt("id_number")


async def test_help_at_the_sms_step_sends_no_new_code(app: App, chat: Chat) -> None:
    await register_until(chat, "sms_code")
    replies = await chat.say("/help")
    assert last_text(replies) == prompt("sms_code")
    assert "频繁" not in texts_of(replies)
    assert await sms_count(app, P1["phone"]) == 1


@pytest.mark.parametrize("step", ["name", "id_type", "sms_code"])
async def test_sticker_where_text_is_asked(app: App, chat: Chat, step: str) -> None:
    await register_until(chat, step)
    replies = await chat.send("sticker")
    assert T("error.not_text") in texts_of(replies)
    assert last_text(replies) == prompt(step)
    assert await sms_count(app, P1["phone"]) == (1 if step == "sms_code" else 0)


async def test_a_name_containing_a_command_word_is_an_answer(app: App, chat: Chat) -> None:
    await chat.say("/register")
    replies = await chat.say("帮助明")
    assert last_text(replies) == prompt("id_type")


# -- secrets ------------------------------------------------------------------------------------

async def test_password_messages_are_deleted_and_never_stored_in_clear(app: App, chat: Chat) -> None:
    await register_until(chat, "password")
    replies = await chat.say(PASSWORD)
    assert deletes_of(replies) == [last_ref(chat)]
    assert PASSWORD not in await state_json(app, chat)
    replies = await chat.say(PASSWORD)
    assert deletes_of(replies) == [last_ref(chat)]
    assert PASSWORD not in await state_json(app, chat)
    await chat.say(P1["phone"])
    replies = await chat.say(await chat.last_code(P1["phone"]))
    assert deletes_of(replies) == [last_ref(chat)]


async def test_a_password_starting_with_a_slash_is_taken_not_echoed(app: App, chat: Chat) -> None:
    await register_until(chat, "password")
    replies = await chat.say("/Abc12345")
    assert deletes_of(replies) == [last_ref(chat)]
    assert "Abc12345" not in texts_of(replies)
    assert last_text(replies) == prompt("password_confirm")


async def test_questions_that_are_not_secret_keep_the_message(app: App, chat: Chat) -> None:
    await chat.say("/register")
    assert deletes_of(await chat.say("王小明")) == []


# -- idle and resumed (B01, B02 flavour) ----------------------------------------------------------

async def test_b01_each_answer_restarts_the_idle_time(app: App, chat: Chat, clock: FixedClock) -> None:
    await chat.say("/register")
    clock.advance(200)
    await chat.say("王小明")
    await chat.tap("/id_type:0")
    clock.advance(200)
    replies = await chat.say("110105199003071239")
    assert last_text(replies) == prompt("captcha")
    clock.advance(50)
    assert last_text(await chat.say(CAPTCHA)) == prompt("agreement")


async def test_b01_timeout_counts_from_the_last_input(app: App, chat: Chat, clock: FixedClock) -> None:
    """Four answers 200, 200 and 50 s apart (each under the limit) keep the flow alive; one deadline."""
    assert app.settings.flow_timeout_seconds == 600
    await chat.say("/register")
    for delay, answer in ((400, P1["name"]), (400, "/id_type:0"), (400, P1["id_number"]), (450, CAPTCHA)):
        clock.advance(delay)
        assert await app.dispatcher.run_once() == 0
        await chat.say(answer)
    assert await asked(app, chat) == ("register", "agreement")
    assert await app.services.deadlines.count(chat.conversation_id) == 1


async def test_b02_timeout_says_so_once_and_removes_what_was_collected(
        app: App, chat: Chat, clock: FixedClock) -> None:
    await register_until(chat, "password")
    clock.advance(app.settings.flow_timeout_seconds + 1)
    await app.dispatcher.run_once()
    notices = await app.services.outbox.take(chat.conversation_id)
    assert [m["text"] for m in notices][0] == T("session.flow_expired")
    assert await app.services.kv.get(f"flow:{chat.conversation_id}") is None
    assert P1["id_number"] not in await state_json(app, chat) and P1["name"] not in await state_json(app, chat)
    assert await app.services.deadlines.count(chat.conversation_id) == 0
    await app.dispatcher.run_once()
    assert await app.services.outbox.take(chat.conversation_id) == []  # one notice, not one per pass
    replies = await chat.say(PASSWORD)  # meant for the question that timed out
    assert PASSWORD not in texts_of(replies)
    assert PASSWORD not in await state_json(app, chat)


async def test_a_flow_whose_state_was_lost_in_a_restart_is_still_announced(
        app: App, chat: Chat, clock: FixedClock) -> None:
    """In-process state dies with the process; its deadline row does not, so the person is told."""
    await register_until(chat, "password")
    await app.engine.reset(chat.conversation_id)  # what a restart does to an in-process store
    clock.advance(app.settings.flow_timeout_seconds + 1)
    await app.dispatcher.run_once()
    notices = await app.services.outbox.take(chat.conversation_id)
    assert [m["text"] for m in notices][0] == T("session.flow_expired")


async def test_b02_a_late_answer_after_the_timeout_is_not_taken(app: App, chat: Chat, clock: FixedClock) -> None:
    """Even before the sweeper ran, the next message hears of the timeout and is not stored."""
    await register_until(chat, "password")
    clock.advance(app.settings.flow_timeout_seconds + 1)
    replies = await chat.say(PASSWORD)
    assert T("session.flow_expired") in texts_of(replies)
    assert any(isinstance(r, Delete) for r in replies)  # it was typed at a password question
    assert PASSWORD not in texts_of(replies) and PASSWORD not in await state_json(app, chat)
    assert await asked(app, chat) == (None, None)


async def test_b02_after_the_conversation_lifetime_a_late_password_is_not_kept(
        app: App, chat: Chat, clock: FixedClock) -> None:
    await register_until(chat, "password")
    clock.advance(app.settings.conversation_ttl_seconds + 1)
    replies = await chat.say(PASSWORD)
    assert PASSWORD not in texts_of(replies)
    assert PASSWORD not in await state_json(app, chat)
    assert P1["id_number"] not in await state_json(app, chat)
    assert await asked(app, chat) == (None, None)


# -- concurrent turns (B03) ----------------------------------------------------------------------

async def test_b03_two_resend_requests_at_once_send_one_sms(app: App, chat: Chat, clock: FixedClock) -> None:
    await register_until(chat, "sms_code")
    clock.advance(61)
    first, second = await asyncio.gather(chat.say("/resend"), chat.say("/resend"))
    assert await sms_count(app, P1["phone"]) == 2  # the first code, and exactly one resend
    assert "验证码已发送" in texts_of(first) and "频繁" in texts_of(second)
    assert "注册成功" in texts_of(await chat.say(await chat.last_code(P1["phone"])))


async def test_b03_the_phone_sent_twice_at_once_asks_for_one_code(app: App, chat: Chat) -> None:
    await register_until(chat, "phone")
    await asyncio.gather(chat.say(P1["phone"]), chat.say(P1["phone"]))
    assert await sms_count(app, P1["phone"]) == 1
    assert await asked(app, chat) == ("register", "sms_code")


async def test_b03_resend_within_the_window_keeps_the_first_code(app: App, chat: Chat, clock: FixedClock) -> None:
    await register_until(chat, "sms_code")
    code = await chat.last_code(P1["phone"])
    clock.advance(30)
    replies = await chat.say("/resend")
    assert "30秒后" in texts_of(replies) and "仍然有效" in texts_of(replies)
    assert last_text(replies) == prompt("sms_code")
    assert await sms_count(app, P1["phone"]) == 1
    assert "注册成功" in texts_of(await chat.say(code))


async def test_b03_code_then_cancel_are_handled_in_arrival_order(app: App, chat: Chat) -> None:
    await register_until(chat, "sms_code")
    code = await chat.last_code(P1["phone"])

    async def cancel_a_moment_later() -> str:
        await asyncio.sleep(0)  # arrives second
        return texts_of(await chat.say("/cancel"))

    done, cancelled = await asyncio.gather(chat.say(code), cancel_a_moment_later())
    assert "注册成功" in texts_of(done)
    assert T("nothing_to_cancel") in cancelled
    assert await accounts_count(app) == 1


async def test_b03_cancel_then_code_in_arrival_order(app: App, chat: Chat) -> None:
    await register_until(chat, "sms_code")
    code = await chat.last_code(P1["phone"])

    async def code_a_moment_later() -> str:
        await asyncio.sleep(0)
        return texts_of(await chat.say(code))

    cancelled, late = await asyncio.gather(chat.say("/cancel"), code_a_moment_later())
    assert T("cancelled") in texts_of(cancelled)
    assert "注册成功" not in late
    assert await accounts_count(app) == 0


async def test_b03_another_conversation_is_not_held_by_this_ones_lock(app: App, chat: Chat) -> None:
    await register_until(chat, "sms_code")
    other = Chat(app, "rest:other")
    async with app.services.kv.lock(f"conv:{chat.conversation_id}"):
        await asyncio.wait_for(register_until(other, "sms_code", person=P2, login="lijianguo1"), timeout=30)
        assert "注册成功" in texts_of(await asyncio.wait_for(other.say(await other.last_code(P2["phone"])), 30))
    assert "注册成功" in await finish(chat)
    assert await accounts_count(app) == 2


async def test_a_passport_is_asked_for_as_a_passport_not_an_id_card(app: App, chat: Chat) -> None:
    await chat.say("/register")
    await chat.say(P1["name"])
    replies = await chat.tap("/id_type:2")
    assert last_text(replies) == T("register.id_number.prompt_other")


@pytest.mark.parametrize("typed", ["1", "１", "1.", "１、", " 1 ", "居民身份证"])
async def test_an_option_number_typed_any_way_an_ime_gives_it_is_understood(app: App, chat: Chat, typed: str) -> None:
    await register_until(chat, "id_type")
    replies = await chat.say(typed)
    assert last_text(replies) == prompt("id_number")
