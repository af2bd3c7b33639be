"""Change-phone transcripts: identity verified first (sub-flow), then the new number and its code."""

from __future__ import annotations

import pytest
from fakes import P1, Chat, register, texts_of, verify_card
from flowkit import asked, buttons_of, last_text, log_in, sms_count, wrong_code

from bot.wiring import App
from dialogs.catalog import Translator

T = Translator("zh")
NEW_PHONE = "13800138000"


@pytest.fixture
async def verified(app: App, chat: Chat) -> Chat:
    """P1 logged in, asked for the new number after bank-card verification inside change_phone."""
    await register(chat)
    await log_in(chat)
    replies = await chat.tap("/change_phone")
    assert T("verify_identity.method.prompt") == last_text(replies)
    assert "/method:bank_card" in buttons_of(replies)
    await chat.tap("/method:bank_card")
    replies = await verify_card(chat)
    assert last_text(replies) == T("change_phone.new_phone.prompt"), texts_of(replies)
    return chat


async def phone_of(app: App) -> str:
    account = await app.services.accounts.find_by_login("wangxm01")
    assert account is not None
    return account.phone


async def test_happy_path_changes_the_phone_and_tells_the_old_one(app: App, verified: Chat) -> None:
    replies = await verified.say("138 0013 8000")
    assert T("code.sent", phone="138****8000", minutes=5) in texts_of(replies)
    before_old = await sms_count(app, P1["phone"])
    replies = await verified.say(await verified.last_code(NEW_PHONE))
    assert T("change_phone.done", phone="138****8000") in texts_of(replies)
    assert last_text(replies) == T("menu.prompt")
    assert await phone_of(app) == NEW_PHONE
    assert await sms_count(app, P1["phone"]) == before_old + 1  # the notice to the old number
    assert await asked(app, verified) == (None, None)
    # The phone hash moved too: codes for the account now go to the new number.
    account = await app.services.accounts.find_by_login("wangxm01")
    assert account is not None and account.security_level == "high"


async def test_same_number_is_refused(app: App, verified: Chat) -> None:
    replies = await verified.say(P1["phone"])
    assert T("error.phone.same") in texts_of(replies)
    assert last_text(replies) == T("change_phone.new_phone.prompt")


async def test_malformed_number_is_reasked(app: App, verified: Chat) -> None:
    replies = await verified.say("12345")
    assert T("error.phone.format") in texts_of(replies)
    assert await asked(app, verified) == ("change_phone", "new_phone")


async def test_wrong_code_keeps_the_old_phone(app: App, verified: Chat) -> None:
    await verified.say(NEW_PHONE)
    replies = await verified.say(wrong_code(await verified.last_code(NEW_PHONE)))
    assert T("error.code.mismatch", remaining=4) in texts_of(replies)
    assert await phone_of(app) == P1["phone"]


async def test_cancel_changes_nothing(app: App, verified: Chat) -> None:
    await verified.say(NEW_PHONE)
    replies = await verified.say("/cancel")
    assert T("cancelled") in texts_of(replies)
    assert await phone_of(app) == P1["phone"]
    assert await asked(app, verified) == (None, None)


async def test_needs_login(app: App, chat: Chat) -> None:
    replies = await chat.tap("/change_phone")
    assert T("login.required") in texts_of(replies)
    assert await asked(app, chat) == ("login", "login_name")
