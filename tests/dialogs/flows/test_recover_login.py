"""Recover-login transcripts: identity and a code to the registered phone tell the login name."""

from __future__ import annotations

from fakes import CAPTCHA, P1, Chat, register, texts_of
from flowkit import P2, asked, buttons_of, count_rows, last_text, sms_count, wrong_code

from backend.models import SmsMessage
from bot.wiring import App
from dialogs.catalog import Translator
from dialogs.types import Reply

T = Translator("zh")
CODE_SENT = T("recovery.code_sent", minutes=5)


async def ask_code(chat: Chat, person: dict[str, str] = P1, name: str | None = None) -> list[Reply]:
    await chat.tap("/recover_login")
    await chat.say(name or person["name"])
    await chat.tap("/id_type:0")
    await chat.say(person["id_number"])
    return await chat.say(CAPTCHA)


async def test_happy_path_shows_the_login_name(app: App, chat: Chat) -> None:
    await register(chat, login="WangXM01")
    replies = await ask_code(chat)
    assert CODE_SENT in texts_of(replies)
    replies = await chat.say(await chat.last_code(P1["phone"]))
    assert T("recover_login.done", login_name="WangXM01") in texts_of(replies)
    assert buttons_of(replies) == ["/login", "/reset_password"]
    assert await asked(app, chat) == (None, None)


async def test_unknown_identity_gets_the_same_words_and_no_text(app: App, chat: Chat) -> None:
    await register(chat)
    known = texts_of(await ask_code(chat))
    texted = await count_rows(app, SmsMessage)
    stranger = Chat(app, "rest:stranger")
    assert texts_of(await ask_code(stranger, P2)) == known
    assert await count_rows(app, SmsMessage) == texted  # no text to anyone at all
    assert await sms_count(app, P2["phone"]) == 0
    replies = await stranger.say("123456")
    assert T("error.code.mismatch", remaining=4) in texts_of(replies)


async def test_right_document_wrong_name_texts_nobody(app: App, chat: Chat) -> None:
    await register(chat)
    assert CODE_SENT in texts_of(await ask_code(chat, name=P2["name"]))
    assert await sms_count(app, P1["phone"]) == 1  # the registration code only


async def test_wrong_code_is_reasked(app: App, chat: Chat) -> None:
    await register(chat)
    await ask_code(chat)
    replies = await chat.say(wrong_code(await chat.last_code(P1["phone"])))
    assert T("error.code.mismatch", remaining=4) in texts_of(replies)
    assert last_text(replies) == T("recover_login.sms_code.prompt")


async def test_invalid_id_number_is_reasked(app: App, chat: Chat) -> None:
    await chat.tap("/recover_login")
    await chat.say(P1["name"])
    await chat.tap("/id_type:0")
    replies = await chat.say("110105199003071238")
    assert T("error.id_number.check_digit") in texts_of(replies)
    assert await asked(app, chat) == ("recover_login", "id_number")


async def test_invalid_name_is_reasked(app: App, chat: Chat) -> None:
    await chat.tap("/recover_login")
    assert T("error.name.format") in texts_of(await chat.say("Wang 123"))


async def test_cancel(app: App, chat: Chat) -> None:
    await chat.tap("/recover_login")
    assert T("cancelled") in texts_of(await chat.say("/cancel"))
    assert await asked(app, chat) == (None, None)
