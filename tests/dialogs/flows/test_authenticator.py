"""Authenticator app transcripts: bind with the phone's code and a first app code, confirm quick-query
requests with the app's codes (no SMS), refusals said in words, remove it again; the key never reaches
the conversation's state or an agent."""

from __future__ import annotations

import re

import pyotp
import pytest
from fakes import P1, Chat, texts_of
from flowkit import asked, buttons_of, deletes_of, last_text, quick_user, sms_count, state_json, wrong_code
from sqlalchemy import select

from backend.clock import FixedClock
from backend.models import QueryRequest, TranscriptEntry
from bot.wiring import App
from dialogs.catalog import Translator
from dialogs.types import Text

T = Translator("zh")
KEY = re.compile(r"([A-Z2-7]{4}(?: [A-Z2-7]{4})+)")


def key_of(replies: list[object]) -> str:
    shown = next(r for r in replies if isinstance(r, Text) and r.secret)
    match = KEY.search(shown.text)
    assert match is not None, shown.text
    return match.group(1).replace(" ", "")


async def key_shown(chat: Chat) -> str:
    """Quick-query user P1 starts binding and answers the phone's code: the key the bot then shows."""
    await quick_user(chat)
    await chat.tap("/authenticator")
    await chat.tap("/decision:bind")
    return key_of(await chat.say(await chat.last_code(P1["phone"])))


async def bind(app: App, chat: Chat, clock: FixedClock) -> str:
    """Quick-query user P1 binds an app; the returned key is what the app was given."""
    await quick_user(chat)
    replies = await chat.tap("/authenticator")
    assert last_text(replies) == T("authenticator.decision.prompt")
    assert buttons_of(replies) == ["/decision:bind", "/decision:later"]
    replies = await chat.tap("/decision:bind")
    assert last_text(replies) == T("authenticator.sms_code.prompt")
    replies = await chat.say(await chat.last_code(P1["phone"]))
    assert last_text(replies) == T("authenticator.app_code.prompt")
    key = key_of(replies)
    assert "otpauth://totp/" in texts_of(replies) and "wangxm01" in texts_of(replies)
    replies = await chat.say(pyotp.TOTP(key).at(clock.now()))
    assert T("authenticator.done_bind") in texts_of(replies)
    assert deletes_of(replies)  # the typed code is deleted from the chat once read
    clock.advance(30)  # the next request uses the next step's code
    return key


async def test_binding_then_a_request_is_confirmed_by_the_app_with_no_text_message(
        app: App, chat: Chat, clock: FixedClock) -> None:
    key = await bind(app, chat, clock)
    assert key not in await state_json(app, chat)
    replies = await chat.tap("/my_account")
    assert "动态码应用：" + T("my_account.app_on") in texts_of(replies) and "/authenticator" in buttons_of(replies)
    texts_before = await sms_count(app, P1["phone"])
    await chat.tap("/request_report")
    replies = await chat.tap("/product:summary")
    assert last_text(replies) == T("request_report.dynamic_code.prompt_app")
    assert await sms_count(app, P1["phone"]) == texts_before  # nothing texted
    replies = await chat.say(pyotp.TOTP(key).at(clock.now()))
    assert "查询申请已提交" in texts_of(replies)
    async with app.services.db.sessions() as session:
        assert (await session.scalars(select(QueryRequest.product))).all() == ["summary"]


async def test_wrong_reused_and_too_many_app_codes_are_told_in_words(app: App, chat: Chat,
                                                                     clock: FixedClock) -> None:
    key = await bind(app, chat, clock)
    totp = pyotp.TOTP(key)
    await chat.tap("/request_report")
    await chat.tap("/product:hint")
    replies = await chat.say(wrong_code(totp.at(clock.now())))
    assert T("error.authenticator.mismatch", remaining=4) in texts_of(replies)
    assert last_text(replies) == T("request_report.dynamic_code.prompt_app")  # asked again
    replies = await chat.say(totp.at(clock.now()))
    assert "查询申请已提交" in texts_of(replies)
    await chat.tap("/request_report")
    await chat.tap("/product:summary")
    replies = await chat.say(totp.at(clock.now()))  # the same step's code, seen once already
    assert T("error.authenticator.reused") in texts_of(replies)
    for _ in range(5):
        replies = await chat.say(wrong_code(totp.at(clock.now())))
    assert T("error.authenticator.locked", minutes=15) in texts_of(replies)
    assert await asked(app, chat) == (None, None)  # the step ended; a retry could not pass anyway
    async with app.services.db.sessions() as session:
        assert len((await session.scalars(select(QueryRequest))).all()) == 1


async def test_a_wrong_first_app_code_keeps_the_same_key_and_a_right_one_binds(app: App, chat: Chat,
                                                                              clock: FixedClock) -> None:
    key = await key_shown(chat)
    replies = await chat.say(wrong_code(pyotp.TOTP(key).at(clock.now())))
    assert T("error.authenticator.mismatch", remaining=4) in texts_of(replies)
    assert not any(isinstance(r, Text) and r.secret for r in replies)  # no second key
    replies = await chat.say(pyotp.TOTP(key).at(clock.now()))
    assert T("authenticator.done_bind") in texts_of(replies)


async def test_a_key_not_confirmed_in_ten_minutes_ends_the_binding(app: App, chat: Chat,
                                                                  clock: FixedClock) -> None:
    key = await key_shown(chat)
    clock.advance(500)
    await chat.say(wrong_code(pyotp.TOTP(key).at(clock.now())))  # an answer: the flow's own idle time restarts
    clock.advance(101)  # the key is now 601 s old
    replies = await chat.say(pyotp.TOTP(key).at(clock.now()))
    assert T("error.authenticator.enrol_expired") in texts_of(replies)
    assert await asked(app, chat) == (None, None)
    assert not (await app.services.accounts.find_by_login("wangxm01")).authenticator  # type: ignore[union-attr]


async def test_removing_needs_the_phone_code_then_requests_use_text_messages_again(
        app: App, chat: Chat, clock: FixedClock) -> None:
    await bind(app, chat, clock)
    replies = await chat.tap("/authenticator")
    assert last_text(replies) == T("authenticator.decision.prompt_bound")
    assert buttons_of(replies) == ["/decision:remove", "/decision:keep"]
    await chat.tap("/decision:remove")
    texted = (await app.services.sms.inbox(P1["phone"]))[-1].text  # type: ignore[attr-defined]
    assert "解绑动态码应用" in texted and "设置" not in texted  # the text says what it confirms
    replies = await chat.say(await chat.last_code(P1["phone"]))
    assert T("authenticator.done_remove") in texts_of(replies)
    await chat.tap("/request_report")
    replies = await chat.tap("/product:hint")
    assert last_text(replies) == T("request_report.dynamic_code.prompt")
    replies = await chat.say(await chat.last_code(P1["phone"]))
    assert "查询申请已提交" in texts_of(replies)


@pytest.mark.parametrize("choice", ["later"])
async def test_not_now_changes_nothing_and_sends_no_code(app: App, chat: Chat, choice: str) -> None:
    await quick_user(chat)
    await chat.tap("/authenticator")
    before = await sms_count(app, P1["phone"])
    replies = await chat.tap(f"/decision:{choice}")
    assert T(f"authenticator.done_{choice}") in texts_of(replies)
    assert await sms_count(app, P1["phone"]) == before


async def test_an_agent_never_reads_the_key(app: App, chat: Chat, clock: FixedClock) -> None:
    key = await bind(app, chat, clock)
    async with app.services.db.sessions() as session:
        lines = [app.services.vault.open(r.text_enc) for r in (await session.scalars(select(TranscriptEntry))).all()]
    joined = "\n".join(lines)
    assert key not in joined and " ".join(key[i:i + 4] for i in range(0, len(key), 4)) not in joined
    assert "otpauth" not in joined


async def test_words_reach_the_flow(app: App, chat: Chat) -> None:
    await quick_user(chat)
    replies = await chat.say("我想绑定身份验证器")
    assert last_text(replies) == T("authenticator.decision.prompt")


async def test_an_app_removed_in_another_chat_meanwhile_turns_the_question_into_an_sms_code(
        app: App, chat: Chat, clock: FixedClock) -> None:
    key = await bind(app, chat, clock)
    await chat.tap("/request_report")
    await chat.tap("/product:hint")
    account = await app.services.accounts.find_by_login("wangxm01")
    assert account is not None
    await app.services.authenticator.remove(account.id)  # done in another chat
    replies = await chat.say(pyotp.TOTP(key).at(clock.now()))
    assert T("error.authenticator.gone") in texts_of(replies)
    assert last_text(replies) == T("request_report.dynamic_code.prompt")
    replies = await chat.say(await chat.last_code(P1["phone"]))
    assert "查询申请已提交" in texts_of(replies)


async def test_resend_at_an_app_code_says_nothing_is_sent(app: App, chat: Chat, clock: FixedClock) -> None:
    await bind(app, chat, clock)
    replies = await chat.tap("/request_report")
    assert T("request_report.intro_app") in texts_of(replies)
    await chat.tap("/product:hint")
    before = await sms_count(app, P1["phone"])
    replies = await chat.say("/resend")
    assert T("authenticator.no_resend") in texts_of(replies)
    assert last_text(replies) == T("request_report.dynamic_code.prompt_app")
    assert await sms_count(app, P1["phone"]) == before


async def test_while_app_codes_are_locked_a_request_says_so_before_asking_anything(
        app: App, chat: Chat, clock: FixedClock) -> None:
    key = await bind(app, chat, clock)
    await chat.tap("/request_report")
    await chat.tap("/product:hint")
    for _ in range(5):
        replies = await chat.say(wrong_code(pyotp.TOTP(key).at(clock.now())))
    assert T("error.authenticator.locked", minutes=15) in texts_of(replies)
    replies = await chat.tap("/request_report")
    assert T("error.authenticator.locked", minutes=15) in texts_of(replies)
    assert await asked(app, chat) == (None, None)


async def test_too_many_wrong_first_codes_end_the_binding_in_its_own_words(app: App, chat: Chat,
                                                                          clock: FixedClock) -> None:
    key = await key_shown(chat)
    for _ in range(5):
        replies = await chat.say(wrong_code(pyotp.TOTP(key).at(clock.now())))
    assert T("authenticator.app_code.authenticator.locked", minutes=15) in texts_of(replies)
    assert T("error.authenticator.locked", minutes=15) not in texts_of(replies)  # no "remove it" advice


async def test_the_agents_transcript_shows_a_hidden_key_not_credit_data(app: App, chat: Chat,
                                                                       clock: FixedClock) -> None:
    from dialogs.engine import PRIVATE_PLACEHOLDER, SECRET_PLACEHOLDER

    await bind(app, chat, clock)
    async with app.services.db.sessions() as session:
        lines = [app.services.vault.open(r.text_enc) for r in (await session.scalars(select(TranscriptEntry))).all()]
    assert SECRET_PLACEHOLDER in lines and PRIVATE_PLACEHOLDER not in lines



async def test_a_typo_at_an_app_code_is_told_the_shape_and_costs_no_try(app: App, chat: Chat,
                                                                       clock: FixedClock) -> None:
    key = await bind(app, chat, clock)
    await chat.tap("/request_report")
    await chat.tap("/product:hint")
    replies = await chat.say("１２３")
    assert T("error.code.format") in texts_of(replies)
    replies = await chat.say(wrong_code(pyotp.TOTP(key).at(clock.now())))
    assert T("error.authenticator.mismatch", remaining=4) in texts_of(replies)  # the typo took none
