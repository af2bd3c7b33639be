"""Log-in transcripts: binding the chat, wrong passwords and lock-out, captcha, idle log-out and resuming."""

from __future__ import annotations

import pytest
from fakes import CAPTCHA, Chat, register, texts_of
from flowkit import (
    PASSWORD,
    WRONG_CAPTCHA,
    answer_login,
    asked,
    buttons_of,
    deletes_of,
    has_image,
    last_ref,
    last_text,
    log_in,
    login_until,
    requests_count,
    state_json,
    state_of,
)

from backend.clock import FixedClock
from bot.wiring import App
from dialogs.catalog import Translator
from dialogs.types import Text

T = Translator("zh")
FAILED = T("login.failed", max_failures=5, minutes=15)
LOCKED = T("login.locked", minutes=15)
IDLE = 31 * 60


def prompt(slot: str) -> str:
    return T(f"login.{slot}.prompt")


@pytest.fixture
async def registered(app: App, chat: Chat) -> Chat:
    await register(chat)
    return chat


async def account_id(app: App) -> int:
    account = await app.services.accounts.find_by_login("wangxm01")
    assert account is not None
    return account.id


# -- happy path ---------------------------------------------------------------------------------

async def test_happy_path_binds_the_chat_to_the_account(app: App, registered: Chat) -> None:
    chat = registered
    assert last_text(await chat.say("/login")) == prompt("login_name")
    replies = await chat.say("wangxm01")
    assert last_text(replies) == prompt("password")
    assert [r.secret_input for r in replies if isinstance(r, Text)] == [True]
    replies = await chat.say(PASSWORD)
    assert has_image(replies) and last_text(replies) == prompt("captcha")
    replies = await chat.say(CAPTCHA)
    assert T("login.done", login_name="wangxm01", level="低") in texts_of(replies)
    assert (await state_of(app, chat))["account_id"] == await account_id(app)
    assert T("guide.text") in texts_of(replies)  # a new (low-level) user is shown the guide next
    assert await asked(app, chat) == (None, None)


async def test_log_in_from_another_chat_binds_that_chat(app: App, registered: Chat) -> None:
    other = Chat(app, "rest:phone")
    await log_in(other, "WangXM01")  # the login name is not case-sensitive
    assert (await state_of(app, other))["account_id"] == await account_id(app)
    assert (await state_of(app, registered)).get("account_id") is None


async def test_already_logged_in(app: App, registered: Chat) -> None:
    await log_in(registered)
    replies = await registered.say("/login")
    assert T("login.already", login_name="wangxm01") in texts_of(replies)
    assert await asked(app, registered) == (None, None)


async def test_logout(app: App, registered: Chat) -> None:
    await log_in(registered)
    assert T("logout.done") in texts_of(await registered.say("/logout"))
    assert (await state_of(app, registered))["account_id"] is None


# -- wrong answers ------------------------------------------------------------------------------

async def test_wrong_password_is_refused_and_the_questions_start_again(app: App, registered: Chat) -> None:
    await login_until(registered, "captcha", password="Wrong1234!")
    replies = await registered.say(CAPTCHA)
    assert FAILED in texts_of(replies)
    assert last_text(replies) == prompt("login_name")
    assert (await state_of(app, registered)).get("account_id") is None
    await log_in(registered)


async def test_unknown_login_name_gets_the_same_message_as_a_wrong_password(app: App, registered: Chat) -> None:
    await login_until(registered, "captcha", password="Wrong1234!")
    wrong_password = texts_of(await registered.say(CAPTCHA))
    await registered.say("/cancel")
    await login_until(registered, "captcha", login="nobody01")
    unknown_name = texts_of(await registered.say(CAPTCHA))
    assert unknown_name == wrong_password


async def test_five_wrong_passwords_lock_the_account_for_15_minutes(
        app: App, registered: Chat, clock: FixedClock) -> None:
    chat = registered
    await chat.say("/login")
    for attempt in range(1, 6):
        await chat.say("wangxm01")
        await chat.say(f"Wrong{attempt}234!")
        replies = await chat.say(CAPTCHA)
        assert (LOCKED if attempt == 5 else FAILED) in texts_of(replies), attempt
    assert await asked(app, chat) == (None, None)
    await login_until(chat, "captcha")
    assert LOCKED in texts_of(await chat.say(CAPTCHA))  # even the right password, while locked
    clock.advance(14 * 60)
    await login_until(chat, "captcha")
    assert T("login.locked", minutes=1) in texts_of(await chat.say(CAPTCHA))
    clock.advance(61)
    await log_in(chat)


async def test_wrong_passwords_are_counted_across_chats(app: App, registered: Chat) -> None:
    for n in range(5):
        chat = Chat(app, f"rest:attacker{n}")
        await login_until(chat, "captcha", password="Wrong1234!")
        last = texts_of(await chat.say(CAPTCHA))
    assert LOCKED in last


async def test_a_successful_log_in_resets_the_count(app: App, registered: Chat) -> None:
    chat = registered
    for _ in range(4):
        await login_until(chat, "captcha", password="Wrong1234!")
        await chat.say(CAPTCHA)
        await chat.say("/cancel")
    await log_in(chat)
    await chat.say("/logout")
    await login_until(chat, "captcha", password="Wrong1234!")
    assert FAILED in texts_of(await chat.say(CAPTCHA))


async def test_wrong_captcha_shows_a_new_picture_and_asks_again(app: App, registered: Chat) -> None:
    await login_until(registered, "captcha")
    replies = await registered.say(WRONG_CAPTCHA)
    assert T("error.captcha.mismatch") in texts_of(replies)
    assert has_image(replies) and last_text(replies) == prompt("captcha")
    await registered.say(CAPTCHA.lower())
    assert (await state_of(app, registered))["account_id"] == await account_id(app)


@pytest.mark.parametrize(("answer", "reason_key"), [("1wangxm", "error.login_name.format"),
                                                    ("wxm", "error.login_name.length")])
async def test_login_name_of_the_wrong_shape(app: App, registered: Chat, answer: str, reason_key: str) -> None:
    await registered.say("/login")
    replies = await registered.say(answer)
    assert T(reason_key) in texts_of(replies)
    assert last_text(replies) == prompt("login_name")


# -- cancel, back, help, not text, secrets --------------------------------------------------------

async def test_cancel_clears_the_state_and_binds_nothing(app: App, registered: Chat) -> None:
    await login_until(registered, "captcha")
    assert T("cancelled") in texts_of(await registered.say("/cancel"))
    state = await state_of(app, registered)
    assert (state["flow"], state["slots"], state.get("account_id")) == (None, {}, None)
    assert T("menu.login") in [b.title for r in registered.history[-1:] if isinstance(r, Text) for b in r.buttons]


@pytest.mark.parametrize(("step", "previous"), [("password", "login_name"), ("captcha", "password")])
async def test_back_asks_the_previous_question(app: App, registered: Chat, step: str, previous: str) -> None:
    await login_until(registered, step)
    assert last_text(await registered.say("返回")) == prompt(previous)


async def test_help_then_the_same_question(app: App, registered: Chat) -> None:
    await login_until(registered, "password")
    replies = await registered.say("帮助")
    assert T("help.login") in texts_of(replies)
    assert last_text(replies) == prompt("password")


@pytest.mark.parametrize("step", ["login_name", "password", "captcha"])
async def test_sticker_where_text_is_asked(app: App, registered: Chat, step: str) -> None:
    await login_until(registered, step)
    replies = await registered.send("sticker")
    assert T("error.not_text") in texts_of(replies)
    assert last_text(replies) == prompt(step)


async def test_password_message_is_deleted_and_not_stored_in_clear(app: App, registered: Chat) -> None:
    await login_until(registered, "password")
    replies = await registered.say(PASSWORD)
    assert deletes_of(replies) == [last_ref(registered)]
    assert PASSWORD not in await state_json(app, registered)
    await registered.say(CAPTCHA)
    assert PASSWORD not in await state_json(app, registered)


# -- idle log-out and resuming ------------------------------------------------------------------

async def test_after_31_idle_minutes_the_next_message_says_logged_out(
        app: App, registered: Chat, clock: FixedClock) -> None:
    await log_in(registered)
    clock.advance(IDLE)
    replies = await registered.say("/menu")
    assert T("session.login_expired") in texts_of(replies)
    assert "/login" in buttons_of(replies)
    assert (await state_of(app, registered))["account_id"] is None


async def test_activity_keeps_the_log_in(app: App, registered: Chat, clock: FixedClock) -> None:
    await log_in(registered)
    for _ in range(3):
        clock.advance(29 * 60)
        assert T("session.login_expired") not in texts_of(await registered.say("/menu"))
    assert (await state_of(app, registered))["account_id"] == await account_id(app)


async def test_after_idle_a_flow_needing_log_in_asks_for_it_then_resumes(
        app: App, registered: Chat, clock: FixedClock) -> None:
    await log_in(registered)
    clock.advance(IDLE)
    replies = await registered.say("/my_requests")
    assert T("session.login_expired") in texts_of(replies)
    assert T("login.required") in texts_of(replies)
    assert last_text(replies) == prompt("login_name")
    replies = await answer_login(registered)
    assert T("my_requests.none") in texts_of(replies)


async def test_idle_in_the_middle_of_a_request_ends_it_and_logs_out(
        app: App, registered: Chat, clock: FixedClock) -> None:
    """Past both limits the person hears both, the late tap is not taken, and nothing is submitted."""
    await log_in(registered)
    await registered.say("/request_report")
    clock.advance(IDLE)
    replies = await registered.tap("/product:report")
    assert T("session.login_expired") in texts_of(replies)
    assert T("session.flow_expired") in texts_of(replies)
    assert await requests_count(app) == 0
    replies = await registered.say("/request_report")
    assert T("login.required") in texts_of(replies)
    assert last_text(replies) == prompt("login_name")
    replies = await answer_login(registered)
    assert last_text(replies) == T("request_report.product.prompt")




@pytest.mark.parametrize(("target", "next_prompt"), [("/authenticator", "authenticator.decision.prompt"),
                                                     ("/request_report", "request_report.product.prompt")])
async def test_typing_login_at_the_log_in_a_flow_waits_for_keeps_that_flow(app: App, chat: Chat, target: str,
                                                                        next_prompt: str) -> None:
    await register(chat)
    assert T("login.required") in texts_of(await chat.tap(target))
    await chat.say("/login")  # the word the message names, instead of the login name itself
    replies = await answer_login(chat)
    assert T("login.done", login_name="wangxm01", level=T("level.low")) in texts_of(replies)
    assert last_text(replies) == T(next_prompt)
