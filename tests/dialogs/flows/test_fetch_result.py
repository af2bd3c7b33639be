"""Fetch-result transcripts: the notice opens the flow, the texted code unlocks the PDF; who may fetch; expiry."""

from __future__ import annotations

import pytest
from fakes import P1, Chat, documents_of, register, texts_of
from flowkit import (
    P2,
    all_texts,
    asked,
    deletes_of,
    last_ref,
    last_text,
    log_in,
    quick_user,
    sms_count,
    state_of,
    submit_request,
    wrong_code,
)

from backend.clock import FixedClock
from bot.wiring import App
from dialogs.catalog import Translator

T = Translator("zh")
PROMPT = T("fetch_result.code.prompt")
WEEK = 7 * 24 * 3600


@pytest.fixture
async def notified(app: App, chat: Chat, clock: FixedClock) -> Chat:
    """P1 asked for a report; it is due, and the notice has opened the fetch flow in this chat."""
    await quick_user(chat)
    await submit_request(chat)
    clock.advance(61)
    assert await app.dispatcher.run_once() == 1
    return chat


async def status(app: App) -> str:
    return (await app.services.queries.get(1)).status


async def test_the_notice_opens_the_flow_and_the_code_unlocks_the_pdf(app: App, notified: Chat) -> None:
    pushed = await app.services.outbox.take(notified.conversation_id)
    texts = [m.get("text", "") for m in pushed]
    assert T("result.ready", product="个人信用报告", number=1, phone="155****0101") in texts
    assert texts[-1] == PROMPT
    assert await asked(app, notified) == ("fetch_result", "code")
    replies = await notified.say(await notified.last_code(P1["phone"]))
    [pdf] = documents_of(replies)
    assert pdf.data.startswith(b"%PDF") and pdf.filename.startswith("个人信用报告_")
    assert deletes_of(replies) == [last_ref(notified)]
    assert "结果保留至" in last_text(replies)
    assert await status(app) == "delivered"
    assert await asked(app, notified) == (None, None)


async def test_wrong_code_is_counted_and_no_new_code_is_sent(app: App, notified: Chat) -> None:
    code, sent = await notified.last_code(P1["phone"]), await sms_count(app, P1["phone"])
    replies = await notified.say(wrong_code(code))
    assert T("error.code.mismatch", remaining=4) in texts_of(replies) and last_text(replies) == PROMPT
    assert await sms_count(app, P1["phone"]) == sent
    assert documents_of(await notified.say(code))


async def test_code_of_the_wrong_shape(app: App, notified: Chat) -> None:
    replies = await notified.say("12 34")
    assert T("error.code.format") in texts_of(replies) and last_text(replies) == PROMPT


async def test_cancel_delivers_nothing_and_the_result_stays_available(app: App, notified: Chat) -> None:
    assert T("cancelled") in texts_of(await notified.say("/cancel"))
    state = await state_of(app, notified)
    assert (state["flow"], state["slots"]) == (None, {})
    assert await status(app) == "ready"
    replies = await notified.tap("/fetch_result 1")
    assert "验证码" in texts_of(replies) and last_text(replies) == PROMPT


@pytest.mark.parametrize("turn", ["帮助", "返回", "sticker"])
async def test_help_back_and_sticker_ask_again_without_a_new_code(app: App, notified: Chat, turn: str) -> None:
    sent = await sms_count(app, P1["phone"])
    replies = await (notified.send(turn) if turn == "sticker" else notified.say(turn))
    assert last_text(replies) == PROMPT
    expected = {"帮助": "help.fetch_result", "返回": "back.first", "sticker": "error.not_text"}[turn]
    assert T(expected) in texts_of(replies)
    assert await sms_count(app, P1["phone"]) == sent


async def test_resend_after_the_window_sends_a_new_code(app: App, notified: Chat, clock: FixedClock) -> None:
    clock.advance(61)
    sent = await sms_count(app, P1["phone"])
    assert "验证码已发送" in texts_of(await notified.say("/resend"))
    assert await sms_count(app, P1["phone"]) == sent + 1
    assert documents_of(await notified.say(await notified.last_code(P1["phone"])))


# -- who may fetch --------------------------------------------------------------------------------

async def test_another_chat_not_logged_in_may_not_fetch(app: App, notified: Chat) -> None:
    stranger = Chat(app, "rest:stranger")
    replies = await stranger.tap("/fetch_result 1")
    assert T("fetch_result.not_found") in texts_of(replies)
    assert await asked(app, stranger) == (None, None)


async def test_another_account_may_not_fetch(app: App, notified: Chat) -> None:
    other = Chat(app, "rest:other")
    await register(other, P2, login="lijianguo1")
    await log_in(other, "lijianguo1")
    assert T("fetch_result.not_found") in texts_of(await other.tap("/fetch_result 1"))
    assert T("fetch_result.not_found") in texts_of(await other.tap("/fetch_result 99"))


@pytest.mark.parametrize("number", ["99999999999999999999999", "2147483648", "0", "-1", "#abc"])
async def test_a_number_no_request_can_have_is_simply_not_found(app: App, notified: Chat, number: str) -> None:
    """Past the database's integer range SQLite overflowed: "system problem" instead of "not found"."""
    replies = await notified.tap(f"/fetch_result {number}")
    assert T("fetch_result.not_found") in texts_of(replies) and T("error.generic") not in texts_of(replies)


async def test_the_owner_logged_in_elsewhere_may_fetch(app: App, notified: Chat, clock: FixedClock) -> None:
    clock.advance(61)
    phone = Chat(app, "rest:phone")
    await log_in(phone)
    replies = await phone.tap("/fetch_result 1")
    assert "验证码已发送至手机 155****0101" in texts_of(replies) and last_text(replies) == PROMPT
    assert documents_of(await phone.say(await phone.last_code(P1["phone"])))


async def test_not_ready_yet_says_when(app: App, chat: Chat) -> None:
    await quick_user(chat)
    await submit_request(chat)
    replies = await chat.tap("/fetch_result 1")
    assert T("fetch_result.not_ready", due="2026-12-03 10:01（北京时间）") in texts_of(replies)


# -- expiry -------------------------------------------------------------------------------------

async def test_after_seven_days_the_result_has_expired(app: App, notified: Chat, clock: FixedClock) -> None:
    clock.advance(WEEK + 1)
    replies = await notified.tap("/fetch_result 1")
    assert T("fetch_result.expired") in texts_of(replies)
    assert not documents_of(notified.history)


async def test_expiring_while_the_code_is_typed_delivers_nothing(
        app: App, notified: Chat, clock: FixedClock) -> None:
    clock.advance(WEEK - 120)
    replies = await notified.tap("/fetch_result 1")
    assert last_text(replies) == PROMPT
    code = await notified.last_code(P1["phone"])
    clock.advance(180)
    replies = await notified.say(code)
    assert T("fetch_result.expired") in texts_of(replies)
    assert not documents_of(replies)


# -- the notice and the rest of the conversation --------------------------------------------------

async def test_a_notice_is_not_activity_for_the_log_in_idle_limit(app: App, chat: Chat, clock: FixedClock) -> None:
    await quick_user(chat)
    await submit_request(chat)
    clock.advance(25 * 60)
    assert await app.dispatcher.run_once() == 1
    clock.advance(10 * 60)
    assert T("session.login_expired") in texts_of(await chat.say("/menu"))


async def test_a_question_open_when_the_notice_came_is_asked_again_afterwards(
        app: App, chat: Chat, clock: FixedClock) -> None:
    await quick_user(chat)
    await submit_request(chat)
    await chat.tap("/request_report")
    clock.advance(61)
    await app.dispatcher.run_once()
    replies = await chat.say(await chat.last_code(P1["phone"]))
    assert documents_of(replies)
    assert last_text(replies) == T("request_report.product.prompt")
    assert "110105199003071239" not in all_texts(chat)
