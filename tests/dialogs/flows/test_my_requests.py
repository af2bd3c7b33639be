"""My-requests transcripts: the account's own requests with status, and a fetch button once ready."""

from __future__ import annotations

from fakes import Chat, register, texts_of
from flowkit import P2, answer_login, asked, buttons_of, last_text, log_in, quick_user, state_of, submit_request

from backend.clock import FixedClock
from bot.wiring import App
from dialogs.catalog import Translator

T = Translator("zh")


async def test_no_requests_yet(app: App, chat: Chat) -> None:
    await register(chat)
    await log_in(chat)
    replies = await chat.tap("/my_requests")
    assert T("my_requests.none") in texts_of(replies)
    assert buttons_of(replies) == ["/request_report"]
    assert await asked(app, chat) == (None, None)


async def test_lists_requests_with_status_in_beijing_time(app: App, chat: Chat, clock: FixedClock) -> None:
    await quick_user(chat)
    await submit_request(chat, "report")
    clock.advance(61)
    await submit_request(chat, "hint")
    replies = await chat.say("我的申请")
    text = texts_of(replies)
    assert text.startswith(T("my_requests.header"))
    assert "#2 个人信用信息提示｜提交 2026-12-03 10:01（北京时间）｜预计 2026-12-03 10:02（北京时间）｜处理中" in text
    assert "#1 个人信用报告｜提交 2026-12-03 10:00（北京时间）｜预计 2026-12-03 10:01（北京时间）｜处理中" in text
    assert text.index("#2") < text.index("#1")
    assert buttons_of(replies) == ["/menu"]


async def test_ready_results_get_a_fetch_button(app: App, chat: Chat, clock: FixedClock) -> None:
    await quick_user(chat)
    await submit_request(chat)
    clock.advance(61)
    assert await app.dispatcher.run_once() == 1
    await chat.say("/cancel")  # leave the fetch flow the notice opened
    replies = await chat.tap("/my_requests")
    assert T("status.ready") in texts_of(replies)
    assert buttons_of(replies) == ["/fetch_result 1", "/menu"]


async def test_only_the_accounts_own_requests(app: App, chat: Chat) -> None:
    await quick_user(chat)
    await submit_request(chat)
    other = Chat(app, "rest:other")
    await register(other, P2, login="lijianguo1")
    await log_in(other, "lijianguo1")
    assert T("my_requests.none") in texts_of(await other.tap("/my_requests"))


async def test_needs_log_in_first_then_lists(app: App, chat: Chat) -> None:
    await register(chat)
    replies = await chat.tap("/my_requests")
    assert T("login.required") in texts_of(replies)
    assert last_text(replies) == T("login.login_name.prompt")
    assert T("my_requests.none") in texts_of(await answer_login(chat))


async def test_cancel_while_logging_in_first_lists_nothing(app: App, chat: Chat) -> None:
    await register(chat)
    await chat.tap("/my_requests")
    await chat.say("wangxm01")
    replies = await chat.say("/cancel")
    assert T("cancelled") in texts_of(replies) and T("my_requests.header") not in texts_of(replies)
    state = await state_of(app, chat)
    assert (state["flow"], state["stack"], state.get("account_id")) == (None, [], None)


async def test_help_while_logging_in_first(app: App, chat: Chat) -> None:
    await register(chat)
    await chat.tap("/my_requests")
    replies = await chat.say("帮助")
    assert T("help.login") in texts_of(replies) and last_text(replies) == T("login.login_name.prompt")


async def test_sticker_after_the_list(app: App, chat: Chat) -> None:
    await register(chat)
    await log_in(chat)
    await chat.tap("/my_requests")
    replies = await chat.send("sticker")
    assert T("error.not_text_idle") in texts_of(replies) and last_text(replies) == T("menu.prompt")


async def test_after_idle_log_out_asks_to_log_in_again(app: App, chat: Chat, clock: FixedClock) -> None:
    await register(chat)
    await log_in(chat)
    clock.advance(31 * 60)
    replies = await chat.say("我的申请")
    assert T("session.login_expired") in texts_of(replies) and T("login.required") in texts_of(replies)
    assert T("my_requests.none") in texts_of(await answer_login(chat))
