"""Quick-query transcripts: only for high-level accounts; open, decline, close; the choice is a button."""

from __future__ import annotations

import pytest
from fakes import Chat, register, texts_of, verify_card
from flowkit import answer_login, asked, buttons_of, last_text, log_in, state_of

from bot.wiring import App
from dialogs.catalog import Translator

T = Translator("zh")


@pytest.fixture
async def high(app: App, chat: Chat) -> Chat:
    """P1 at level high, just asked whether to open quick query (as after bank-card verification)."""
    await register(chat)
    await log_in(chat)
    await chat.tap("/bank_card")
    replies = await verify_card(chat)
    assert last_text(replies) == T("quick_query.prompt")
    return chat


async def quick_query_on(app: App) -> bool:
    account = await app.services.accounts.find_by_login("wangxm01")
    assert account is not None
    return account.quick_query


async def test_open(app: App, high: Chat) -> None:
    assert buttons_of(high.history[-1:]) == ["/decision:open", "/decision:decline"]
    replies = await high.tap("/decision:open")
    assert T("quick_query.done_open") in texts_of(replies)
    assert last_text(replies) == T("menu.prompt")
    assert await quick_query_on(app)
    assert await asked(app, high) == (None, None)


@pytest.mark.parametrize("typed", ["1", "开通快捷查询"])
async def test_open_by_number_or_label(app: App, high: Chat, typed: str) -> None:
    assert T("quick_query.done_open") in texts_of(await high.say(typed))
    assert await quick_query_on(app)


async def test_decline(app: App, high: Chat) -> None:
    assert T("quick_query.done_decline") in texts_of(await high.tap("/decision:decline"))
    assert not await quick_query_on(app)


async def test_close_when_open_and_keep(app: App, high: Chat) -> None:
    await high.tap("/decision:open")
    replies = await high.tap("/quick_query")
    assert last_text(replies) == T("quick_query.prompt_close")
    assert buttons_of(replies) == ["/decision:close", "/decision:keep"]
    assert T("quick_query.done_keep") in texts_of(await high.tap("/decision:keep"))
    assert await quick_query_on(app)
    await high.tap("/quick_query")
    assert T("quick_query.done_close") in texts_of(await high.tap("/decision:close"))
    assert not await quick_query_on(app)


async def test_low_level_account_is_sent_to_bank_card_verification(app: App, chat: Chat) -> None:
    await register(chat)
    await log_in(chat)
    replies = await chat.tap("/quick_query")
    assert T("quick_query.needs_high") in texts_of(replies)
    assert buttons_of(replies)[0] == "/bank_card"  # then the menu
    assert await asked(app, chat) == (None, None)


async def test_needs_log_in_first(app: App, chat: Chat) -> None:
    await register(chat)
    replies = await chat.say("快捷查询")
    assert T("login.required") in texts_of(replies)
    assert T("quick_query.needs_high") in texts_of(await answer_login(chat))


async def test_unknown_answer_is_refused_and_asked_again(app: App, high: Chat) -> None:
    replies = await high.say("也许吧")
    assert T("error.choice.unknown") in texts_of(replies)
    assert last_text(replies) == T("quick_query.prompt")
    assert buttons_of(replies) == ["/decision:open", "/decision:decline"]


async def test_a_closing_button_while_opening_is_asked_is_refused(app: App, high: Chat) -> None:
    replies = await high.tap("/decision:close")
    assert T("error.choice.unknown") in texts_of(replies)
    assert not await quick_query_on(app)


async def test_cancel_changes_nothing(app: App, high: Chat) -> None:
    assert T("cancelled") in texts_of(await high.say("/cancel"))
    assert not await quick_query_on(app)
    state = await state_of(app, high)
    assert (state["flow"], state["slots"]) == (None, {})


async def test_back_at_the_only_question(app: App, high: Chat) -> None:
    replies = await high.say("返回")
    assert T("back.first") in texts_of(replies) and last_text(replies) == T("quick_query.prompt")


async def test_help_then_the_same_question(app: App, high: Chat) -> None:
    replies = await high.say("帮助")
    assert T("help.quick_query") in texts_of(replies) and last_text(replies) == T("quick_query.prompt")


async def test_sticker_then_the_same_question(app: App, high: Chat) -> None:
    replies = await high.send("sticker")
    assert T("error.not_text") in texts_of(replies) and last_text(replies) == T("quick_query.prompt")
