"""Quick-query transcripts: only for high-level accounts; open (identity verified first), decline, close."""

from __future__ import annotations

import pytest
from fakes import P1, Chat, register, texts_of, verify_card
from flowkit import answer_login, asked, buttons_of, last_text, log_in, state_of

from backend.clock import FixedClock
from backend.sandbox_ca import issue_certificate
from bot.wiring import App
from dialogs.catalog import Translator
from dialogs.types import Attachment, Turn

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
    """Right after bank-card verification, opening does not ask for verification again."""
    assert buttons_of(high.history[-1:]) == ["/decision:open", "/decision:decline"]
    replies = await high.tap("/decision:open")
    assert T("verify_identity.method.prompt") not in texts_of(replies)
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


async def test_opening_later_from_the_menu_asks_for_verification(app: App, high: Chat) -> None:
    await high.tap("/decision:decline")
    replies = await high.tap("/quick_query")
    assert last_text(replies) == T("quick_query.prompt")
    replies = await high.tap("/decision:open")
    assert T("verify_identity.intro") in texts_of(replies)
    assert last_text(replies) == T("verify_identity.method.prompt")
    assert buttons_of(replies) == ["/method:bank_card", "/method:certificate"]
    assert not await quick_query_on(app)
    await high.tap("/method:bank_card")
    replies = await verify_card(high)
    assert "银行卡验证通过" in texts_of(replies) and T("quick_query.done_open") in texts_of(replies)
    assert texts_of(replies).count(T("quick_query.prompt")) == 0  # not offered again by the card flow
    assert last_text(replies) == T("menu.prompt")
    assert await quick_query_on(app)
    assert await asked(app, high) == (None, None)


async def test_opening_right_after_certificate_verification_does_not_ask_again(
        app: App, chat: Chat, clock: FixedClock) -> None:
    await register(chat)
    await log_in(chat)
    await chat.tap("/certificate")
    p12 = issue_certificate(name=P1["name"], id_number=P1["id_number"], password="Zhengshu2026!", now=clock.now())
    chat._ref += 1
    turn = Turn(channel="rest", conversation_id=chat.conversation_id, kind="file",
                attachment=Attachment("me.p12", "application/x-pkcs12", p12),
                message_ref=f"{chat.conversation_id}:{chat._ref}")
    chat.history.extend(await app.engine.handle(turn))
    await chat.say("Zhengshu2026!")
    await chat.say(P1["name"])
    await chat.tap("/id_type:0")
    replies = await chat.say(P1["id_number"])
    assert last_text(replies) == T("quick_query.prompt")
    replies = await chat.tap("/decision:open")
    assert T("verify_identity.method.prompt") not in texts_of(replies)
    assert T("quick_query.done_open") in texts_of(replies)
    assert await quick_query_on(app)


async def test_cancelling_the_verification_leaves_quick_query_off(app: App, high: Chat) -> None:
    await high.tap("/decision:decline")
    await high.tap("/quick_query")
    await high.tap("/decision:open")
    assert T("cancelled") in texts_of(await high.say("/cancel"))
    assert not await quick_query_on(app)
    state = await state_of(app, high)
    assert (state["flow"], state["slots"], state["stack"]) == (None, {}, [])


async def test_closing_and_declining_need_no_verification(app: App, high: Chat) -> None:
    await high.tap("/decision:open")
    await high.tap("/quick_query")
    replies = await high.tap("/decision:close")
    assert T("verify_identity.method.prompt") not in texts_of(replies)
    assert T("quick_query.done_close") in texts_of(replies)
    assert not await quick_query_on(app)
    await high.tap("/quick_query")
    replies = await high.tap("/decision:decline")
    assert T("verify_identity.method.prompt") not in texts_of(replies)
    assert T("quick_query.done_decline") in texts_of(replies)


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
