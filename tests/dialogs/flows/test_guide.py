"""New-user guide transcripts: shown to anyone; suggests bank-card verification to low-level users."""

from __future__ import annotations

from fakes import Chat, register, texts_of, verify_card
from flowkit import state_of, asked, buttons_of, last_text, log_in

from bot.wiring import App
from dialogs.catalog import Translator

T = Translator("zh")


async def test_guide_for_a_visitor_ends_with_the_visitor_menu(app: App, chat: Chat) -> None:
    replies = await chat.say("/guide")
    assert T("guide.text") in texts_of(replies)
    assert last_text(replies) == T("menu.prompt")
    assert "/register" in buttons_of(replies) and "/login" in buttons_of(replies)
    assert await asked(app, chat) == (None, None)


async def test_guide_from_free_text(app: App, chat: Chat) -> None:
    assert T("guide.text") in texts_of(await chat.say("新手指南怎么用"))


async def test_low_level_user_is_offered_bank_card_verification(app: App, chat: Chat) -> None:
    await register(chat)
    await log_in(chat)
    replies = await chat.say("/guide")
    assert T("guide.next_verify") in texts_of(replies)
    assert buttons_of(replies) == ["/bank_card", "/certificate", "/question_verify", "/menu"]


async def test_high_level_user_gets_the_menu(app: App, chat: Chat) -> None:
    await register(chat)
    await log_in(chat)
    await chat.tap("/bank_card")
    await verify_card(chat)
    await chat.tap("/decision:decline")
    replies = await chat.say("/guide")
    assert T("guide.next_verify") not in texts_of(replies)
    assert "/request_report" in buttons_of(replies)


async def test_guide_asks_nothing_so_cancel_and_back_have_nothing_to_do(app: App, chat: Chat) -> None:
    await chat.say("/guide")
    assert T("nothing_to_cancel") in texts_of(await chat.say("/cancel"))
    assert T("back.nothing") in texts_of(await chat.say("返回"))
    replies = await chat.say("帮助")
    assert T("help.general") in texts_of(replies) and last_text(replies) == T("menu.prompt")


async def test_sticker_after_the_guide(app: App, chat: Chat) -> None:
    await chat.say("/guide")
    replies = await chat.send("sticker")
    assert T("error.not_text_idle") in texts_of(replies)
    assert last_text(replies) == T("menu.prompt")


async def test_guide_in_the_middle_of_registration_replaces_it(app: App, chat: Chat) -> None:
    await chat.say("/register")
    await chat.say("王小明")
    replies = await chat.say("/guide")
    assert T("guide.text") in texts_of(replies)
    state = await state_of(app, chat)
    assert state["slots"] == {} and "王小明" not in str(state)
