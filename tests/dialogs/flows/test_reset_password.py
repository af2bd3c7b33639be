"""Reset-password transcripts: account by login name or identity, code to its phone, bank card, new password."""

from __future__ import annotations

import pytest
from fakes import CAPTCHA, P1, Chat, login, register, texts_of
from flowkit import (
    P2,
    PASSWORD,
    asked,
    buttons_of,
    deletes_of,
    last_text,
    sms_count,
    wrong_code,
)

from bot.wiring import App
from dialogs.catalog import Translator
from dialogs.types import Image, Reply

T = Translator("zh")
NEW_PASSWORD = "Xyz98765!"
CODE_SENT = T("recovery.code_sent", minutes=5)


async def start_by_login(chat: Chat, login_name: str = "wangxm01") -> list[Reply]:
    replies = await chat.tap("/reset_password")
    assert buttons_of(replies) == ["/by:login_name", "/by:identity"]
    await chat.tap("/by:login_name")
    await chat.say(login_name)
    return await chat.say(CAPTCHA)


@pytest.fixture
async def coded(app: App, chat: Chat) -> Chat:
    """P1 registered (not logged in), asked for the code texted to the registered phone."""
    await register(chat)
    replies = await start_by_login(chat)
    assert CODE_SENT in texts_of(replies)
    assert last_text(replies) == T("reset_password.sms_code.prompt")
    return chat


async def test_happy_path_by_login_name(app: App, coded: Chat) -> None:
    replies = await coded.say(await coded.last_code(P1["phone"]))
    assert last_text(replies) == T("reset_password.card.prompt")
    replies = await coded.say(P1["card"])
    assert deletes_of(replies)  # the card number is removed from the chat
    await coded.say(P1["phone"])
    await coded.say(NEW_PASSWORD)
    replies = await coded.say(NEW_PASSWORD)
    assert T("reset_password.done") in texts_of(replies)
    assert await asked(app, coded) == (None, None)
    assert T("login.failed", max_failures=5, minutes=15) in texts_of(await login(coded, password=PASSWORD))
    await coded.say("/cancel")
    assert "登录成功" in texts_of(await login(coded, password=NEW_PASSWORD))


async def test_happy_path_by_identity(app: App, chat: Chat) -> None:
    await register(chat)
    await chat.tap("/reset_password")
    await chat.tap("/by:identity")
    await chat.say(P1["name"])
    await chat.tap("/id_type:0")
    await chat.say(P1["id_number"])
    assert CODE_SENT in texts_of(await chat.say(CAPTCHA))
    await chat.say(await chat.last_code(P1["phone"]))
    await chat.say(P1["card"])
    await chat.say(P1["phone"])
    await chat.say(NEW_PASSWORD)
    assert T("reset_password.done") in texts_of(await chat.say(NEW_PASSWORD))
    assert "登录成功" in texts_of(await login(chat, password=NEW_PASSWORD))


def _words(replies: list[Reply]) -> list[str]:
    return [r.caption if isinstance(r, Image) else str(getattr(r, "text", "")) for r in replies]


async def test_unknown_login_name_looks_the_same_and_texts_nobody(app: App, coded: Chat) -> None:
    known = _words(coded.history[-2:])
    stranger = Chat(app, "rest:stranger")
    replies = await start_by_login(stranger, "nobody123")
    assert _words(replies) == known
    assert await sms_count(app, P1["phone"]) == 2  # registration, and the first chat's code only
    replies = await stranger.say("123456")
    assert T("error.code.mismatch", remaining=4) in texts_of(replies)
    assert await asked(app, stranger) == ("reset_password", "sms_code")


async def test_identity_with_another_name_is_treated_as_unknown(app: App, chat: Chat) -> None:
    await register(chat)
    await chat.tap("/reset_password")
    await chat.tap("/by:identity")
    await chat.say(P2["name"])
    await chat.tap("/id_type:0")
    await chat.say(P1["id_number"])
    assert CODE_SENT in texts_of(await chat.say(CAPTCHA))
    assert await sms_count(app, P1["phone"]) == 1  # only the registration code


async def test_wrong_code_is_reasked(app: App, coded: Chat) -> None:
    replies = await coded.say(wrong_code(await coded.last_code(P1["phone"])))
    assert T("error.code.mismatch", remaining=4) in texts_of(replies)
    assert last_text(replies) == T("reset_password.sms_code.prompt")


async def test_malformed_login_name_is_reasked(app: App, chat: Chat) -> None:
    await chat.tap("/reset_password")
    await chat.tap("/by:login_name")
    replies = await chat.say("王")
    assert T("error.login_name.format") in texts_of(replies)
    assert await asked(app, chat) == ("reset_password", "login_name")


async def test_card_of_someone_else_is_refused_then_stops(app: App, coded: Chat) -> None:
    await coded.say(await coded.last_code(P1["phone"]))
    for attempt in range(3):
        await coded.say(P2["card"])
        replies = await coded.say(P2["phone"])
        if attempt < 2:
            assert T("error.card.not_verified") in texts_of(replies)
            assert last_text(replies) == T("reset_password.card.prompt")
    assert T("error.card.too_many_failures") in texts_of(replies)
    assert await asked(app, coded) == (None, None)
    assert "登录成功" in texts_of(await login(coded))  # the password is unchanged


async def test_passwords_that_differ_are_asked_again(app: App, coded: Chat) -> None:
    await coded.say(await coded.last_code(P1["phone"]))
    await coded.say(P1["card"])
    await coded.say(P1["phone"])
    await coded.say(NEW_PASSWORD)
    replies = await coded.say("Other9876!")
    assert T("error.password.mismatch") in texts_of(replies)
    assert last_text(replies) == T("reset_password.password.prompt")


async def test_weak_password_is_reasked(app: App, coded: Chat) -> None:
    await coded.say(await coded.last_code(P1["phone"]))
    await coded.say(P1["card"])
    await coded.say(P1["phone"])
    replies = await coded.say("short")
    assert T("error.password.length") in texts_of(replies)


async def test_cancel_keeps_the_old_password(app: App, coded: Chat) -> None:
    assert T("cancelled") in texts_of(await coded.say("/cancel"))
    assert "登录成功" in texts_of(await login(coded))
