"""My-account transcripts: masked details, the level and what it allows, quick query, actions; menu entries."""

from __future__ import annotations

import pytest
from fakes import P1, Chat, register, texts_of, verify_card
from flowkit import asked, buttons_of, log_in

from bot.wiring import App
from dialogs.catalog import Translator

T = Translator("zh")
EN = Translator("en")


async def test_low_level_account(app: App, chat: Chat) -> None:
    await register(chat)
    await log_in(chat)
    replies = await chat.tap("/my_account")
    text = texts_of(replies)
    assert "wangxm01" in text and "王*明" in text and "110105********1239" in text and "155****0101" in text
    assert P1["id_number"] not in text and P1["phone"] not in text
    assert T("my_account.allows_low") in text and T("level.low") in text
    assert buttons_of(replies)[:5] == ["/quick_query", "/authenticator", "/change_phone", "/verify_identity",
                                       "/close_account"]
    assert T("my_account.app_off") in text
    assert T("my_account.quick_open") in [b.title for r in replies for b in getattr(r, "buttons", ())]
    assert await asked(app, chat) == (None, None)


async def test_high_level_with_quick_query_open(app: App, chat: Chat) -> None:
    await register(chat)
    await log_in(chat)
    await chat.tap("/bank_card")
    await verify_card(chat)
    await chat.tap("/decision:open")
    replies = await chat.tap("/my_account")
    text = texts_of(replies)
    assert T("my_account.allows_high") in text and T("my_account.quick_on") in text
    assert T("my_account.quick_close") in [b.title for r in replies for b in getattr(r, "buttons", ())]


async def test_english(app: App, chat: Chat) -> None:
    await register(chat)
    await log_in(chat)
    await chat.say("/lang en")
    text = texts_of(await chat.tap("/my_account"))
    assert EN("my_account.allows_low") in text and "Login name: wangxm01" in text


async def test_needs_login(app: App, chat: Chat) -> None:
    assert T("login.required") in texts_of(await chat.tap("/my_account"))
    assert await asked(app, chat) == ("login", "login_name")


async def test_menu_entries(app: App, chat: Chat) -> None:
    logged_out = buttons_of(await chat.say("/menu"))
    assert "/reset_password" in logged_out and "/recover_login" in logged_out and "/my_account" not in logged_out
    await register(chat)
    await log_in(chat)
    logged_in = buttons_of(await chat.say("/menu"))
    assert "/my_account" in logged_in and "/reset_password" not in logged_in
    assert "/bank_card" in logged_in  # level low: the card raises it


async def test_at_level_high_the_menu_offers_no_level_raising(app: App, chat: Chat) -> None:
    await register(chat)
    await log_in(chat)
    await chat.tap("/bank_card")
    await verify_card(chat)
    await chat.tap("/decision:decline")
    assert "/bank_card" not in buttons_of(await chat.say("/menu"))
    assert "/request_report" in buttons_of(await chat.say("/menu"))


async def test_verify_button_runs_identity_verification_alone(app: App, chat: Chat) -> None:
    await register(chat)
    await log_in(chat)
    replies = await chat.tap("/verify_identity")
    assert buttons_of(replies) == ["/method:bank_card", "/method:certificate"]
    await chat.tap("/method:bank_card")
    replies = await verify_card(chat)
    assert T("menu.prompt") in texts_of(replies)
    assert await asked(app, chat) == (None, None)
    account = await app.services.accounts.find_by_login("wangxm01")
    assert account is not None and account.security_level == "high"


@pytest.mark.parametrize("typed", ["1", "１", "1."])
async def test_a_number_picks_a_button_of_the_last_message_outside_a_question_too(app: App, typed: str) -> None:
    chat = Chat(app, "rest:numbers")
    assert buttons_of(await chat.say("/menu"))[0] == "/register"
    replies = await chat.say(typed)
    assert T("register.name.prompt") in texts_of(replies)


async def test_a_number_with_no_button_behind_it_is_not_understood(app: App) -> None:
    chat = Chat(app, "rest:numbers2")
    await chat.say("/menu")
    replies = await chat.say("42")
    assert T("error.not_understood") in texts_of(replies)
