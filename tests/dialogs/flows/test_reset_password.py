"""Reset-password transcripts: account by login name or identity, code to its phone, then bank card or
digital certificate (the person's choice), new password."""

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
    log_in,
    sms_count,
    wrong_code,
)

from backend.clock import FixedClock
from backend.sandbox_ca import issue_certificate
from bot.wiring import App
from dialogs.catalog import Translator
from dialogs.types import Attachment, Image, Reply, Turn

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


async def by_card(chat: Chat, phone: str = P1["phone"]) -> list[Reply]:
    """Answers the code question and chooses the bank card; returns the replies asking for the card."""
    replies = await chat.say(await chat.last_code(phone))
    assert last_text(replies) == T("reset_password.method.prompt")
    assert buttons_of(replies) == ["/method:bank_card", "/method:certificate"]
    return await chat.tap("/method:bank_card")


async def test_happy_path_by_login_name(app: App, coded: Chat) -> None:
    replies = await by_card(coded)
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
    await by_card(chat)
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
    await by_card(coded)
    for attempt in range(3):
        await coded.say(P2["card"])
        replies = await coded.say(P2["phone"])
        if attempt < 2:
            assert T("error.card.not_verified") in texts_of(replies)
            assert last_text(replies) == T("reset_password.card.prompt")
    assert T("error.card.too_many_failures") in texts_of(replies)
    assert await asked(app, coded) == (None, None)
    assert "登录成功" in texts_of(await login(coded))  # the password is unchanged


async def test_starting_again_gives_no_new_card_guesses_until_the_next_day(app: App, coded: Chat,
                                                                             clock: FixedClock) -> None:
    await by_card(coded)
    await coded.say(P2["card"])
    await coded.say(P2["phone"])  # one wrong card in this attempt
    await coded.say("/cancel")
    clock.advance(61)  # the code may be sent again
    await start_by_login(coded)
    await by_card(coded)
    await coded.say(P2["card"])
    assert T("error.card.not_verified") in texts_of(await coded.say(P2["phone"]))
    await coded.say(P2["card"])
    replies = await coded.say(P2["phone"])  # the third of the day, not the second of this attempt
    assert T("error.card.too_many_failures") in texts_of(replies)
    clock.advance(24 * 3600)
    await start_by_login(coded)
    await by_card(coded)
    await coded.say(P1["card"])
    assert last_text(await coded.say(P1["phone"])) == T("reset_password.password.prompt")


async def test_the_old_password_is_not_taken_as_the_new_one(app: App, coded: Chat) -> None:
    await by_card(coded)
    await coded.say(P1["card"])
    await coded.say(P1["phone"])
    replies = await coded.say(PASSWORD)
    assert T("error.password.same_as_old") in texts_of(replies) and PASSWORD not in texts_of(replies)
    assert last_text(replies) == T("reset_password.password.prompt")


async def test_passwords_that_differ_are_asked_again(app: App, coded: Chat) -> None:
    await by_card(coded)
    await coded.say(P1["card"])
    await coded.say(P1["phone"])
    await coded.say(NEW_PASSWORD)
    replies = await coded.say("Other9876!")
    assert T("error.password.mismatch") in texts_of(replies)
    assert last_text(replies) == T("reset_password.password.prompt")


async def test_weak_password_is_reasked(app: App, coded: Chat) -> None:
    await by_card(coded)
    await coded.say(P1["card"])
    await coded.say(P1["phone"])
    replies = await coded.say("short")
    assert T("error.password.length") in texts_of(replies)


async def test_cancel_keeps_the_old_password(app: App, coded: Chat) -> None:
    assert T("cancelled") in texts_of(await coded.say("/cancel"))
    assert "登录成功" in texts_of(await login(coded))


# -- by digital certificate -------------------------------------------------------------------------

CERT_PASSWORD = "Zhengshu2026!"


def p12_for(clock: FixedClock, person: dict[str, str] = P1) -> bytes:
    return issue_certificate(name=person["name"], id_number=person["id_number"], password=CERT_PASSWORD,
                             now=clock.now())


async def send_file(chat: Chat, data: bytes) -> list[Reply]:
    chat._ref += 1
    turn = Turn(channel="rest", conversation_id=chat.conversation_id, kind="file",
                attachment=Attachment("me.p12", "application/x-pkcs12", data),
                message_ref=f"{chat.conversation_id}:{chat._ref}")
    replies = await chat.app.engine.handle(turn)
    chat.history.extend(replies)
    return replies


async def by_certificate(chat: Chat, p12: bytes, phone: str = P1["phone"]) -> list[Reply]:
    """Answers the code, chooses the certificate, sends the file and its password."""
    await chat.say(await chat.last_code(phone))
    replies = await chat.tap("/method:certificate")
    assert T("certificate.intro") in texts_of(replies)
    assert last_text(replies) == T("certificate.certificate.prompt")
    assert await asked(chat.app, chat) == ("certificate_for_account", "certificate")
    assert last_text(await send_file(chat, p12)) == T("certificate.password.prompt")
    replies = await chat.say(CERT_PASSWORD)
    assert deletes_of(replies)  # the certificate password is removed from the chat
    return replies


async def level(app: App, login_name: str) -> str:
    account = await app.services.accounts.find_by_login(login_name)
    assert account is not None
    return account.security_level


async def new_password(chat: Chat) -> list[Reply]:
    await chat.say(NEW_PASSWORD)
    return await chat.say(NEW_PASSWORD)


async def test_certificate_on_first_use_checks_identity_binds_and_resets(app: App, coded: Chat,
                                                                         clock: FixedClock) -> None:
    replies = await by_certificate(coded, p12_for(clock))
    assert last_text(replies) == T("certificate.name.prompt")  # first use: whose certificate is it?
    await coded.say(P1["name"])
    await coded.tap("/id_type:0")
    replies = await coded.say(P1["id_number"])
    assert "数字证书验证通过" in texts_of(replies)
    assert last_text(replies) == T("reset_password.password.prompt")
    assert await asked(app, coded) == ("reset_password", "password")
    assert T("reset_password.done") in texts_of(await new_password(coded))
    assert await level(app, "wangxm01") == "high"  # bound to the account, like the certificate flow does
    assert await asked(app, coded) == (None, None)
    assert "登录成功" in texts_of(await login(coded, password=NEW_PASSWORD))


async def test_certificate_already_bound_to_the_account_needs_no_identity(app: App, chat: Chat,
                                                                          clock: FixedClock) -> None:
    p12 = p12_for(clock)
    await register(chat)
    await log_in(chat)
    await chat.tap("/certificate")
    await send_file(chat, p12)
    await chat.say(CERT_PASSWORD)
    await chat.say(P1["name"])
    await chat.tap("/id_type:0")
    assert "数字证书验证通过" in texts_of(await chat.say(P1["id_number"]))
    await chat.say("/logout")
    await start_by_login(chat)
    replies = await by_certificate(chat, p12)
    assert "数字证书验证通过" in texts_of(replies)
    assert last_text(replies) == T("reset_password.password.prompt")
    assert T("reset_password.done") in texts_of(await new_password(chat))
    assert "登录成功" in texts_of(await login(chat, password=NEW_PASSWORD))


async def test_certificate_bound_to_another_account_is_refused(app: App, chat: Chat, clock: FixedClock) -> None:
    other, p12 = Chat(app, "rest:other"), p12_for(clock, P2)
    await register(other, P2, "lijianguo1")
    await log_in(other, "lijianguo1")
    await other.tap("/certificate")
    await send_file(other, p12)
    await other.say(CERT_PASSWORD)
    await other.say(P2["name"])
    await other.tap("/id_type:0")
    assert "数字证书验证通过" in texts_of(await other.say(P2["id_number"]))
    await register(chat)
    await start_by_login(chat)
    replies = await by_certificate(chat, p12)
    assert T("certificate.password.bound_elsewhere") in texts_of(replies)
    assert last_text(replies) == T("certificate.certificate.prompt")  # another file, please
    assert await asked(app, chat) == ("certificate_for_account", "certificate")
    for _ in range(2):  # the limit ends the whole reset
        await send_file(chat, p12)
        replies = await chat.say(CERT_PASSWORD)
    assert await asked(app, chat) == (None, None)
    assert T("reset_password.password.prompt") not in texts_of(chat.history)
    assert "登录成功" in texts_of(await login(chat))  # the password is unchanged
    assert await level(app, "wangxm01") == "low"


async def test_someone_elses_unbound_certificate_does_not_match_the_account(app: App, coded: Chat,
                                                                            clock: FixedClock) -> None:
    replies = await by_certificate(coded, p12_for(clock, P2))
    assert last_text(replies) == T("certificate.name.prompt")
    await coded.say(P1["name"])  # the account's identity, but the certificate says P2
    await coded.tap("/id_type:0")
    replies = await coded.say(P1["id_number"])
    assert T("certificate.subject_mismatch") in texts_of(replies)
    assert T("certificate.retry") in texts_of(replies)
    assert await asked(app, coded) == ("certificate_for_account", "certificate")
    await coded.say("/cancel")
    assert "登录成功" in texts_of(await login(coded))
    assert await level(app, "wangxm01") == "low"


async def test_the_account_certificate_step_cannot_be_started_by_hand(app: App, chat: Chat) -> None:
    replies = await chat.say("/certificate_for_account")
    assert T("error.unknown_command", command="certificate_for_account") in texts_of(replies)
    assert await asked(app, chat) == (None, None)
