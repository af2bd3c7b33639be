"""Digital-certificate transcripts: file, password (deleted, never kept), identity on first use only."""

from __future__ import annotations

import base64

import pytest
from fakes import P1, Chat, register, texts_of
from flowkit import P2, asked, deletes_of, last_ref, last_text, log_in, state_json

from backend.clock import FixedClock
from backend.sandbox_ca import issue_certificate
from bot.wiring import App
from dialogs.catalog import Translator
from dialogs.types import Attachment, Reply, Text, Turn

T = Translator("zh")
PASSWORD = "Zhengshu2026!"
NON_ASCII = "证书密码2026"


def prompt(slot: str) -> str:
    return T(f"certificate.{slot}.prompt")


def refusal(reason: str) -> str:
    return T(f"certificate.password.{reason}")


def p12_for(clock: FixedClock, person: dict[str, str] = P1, password: str = PASSWORD, **kw: object) -> bytes:
    return issue_certificate(name=person["name"], id_number=person["id_number"], password=password,
                             now=clock.now(), **kw)  # type: ignore[arg-type]


async def send_file(chat: Chat, data: bytes, name: str = "me.p12") -> list[Reply]:
    chat._ref += 1
    turn = Turn(channel="rest", conversation_id=chat.conversation_id, kind="file",
                attachment=Attachment(name, "application/x-pkcs12", data),
                message_ref=f"{chat.conversation_id}:{chat._ref}")
    replies = await chat.app.engine.handle(turn)
    chat.history.extend(replies)
    return replies


async def level(app: App, login: str = "wangxm01") -> str:
    account = await app.services.accounts.find_by_login(login)
    assert account is not None
    return account.security_level


@pytest.fixture
async def started(app: App, chat: Chat) -> Chat:
    """P1 registered, logged in, and at the file question."""
    await register(chat)
    await log_in(chat)
    replies = await chat.tap("/certificate")
    assert T("certificate.intro") in texts_of(replies)
    assert last_text(replies) == prompt("certificate")
    return chat


async def answer_identity(chat: Chat, person: dict[str, str] = P1) -> list[Reply]:
    assert last_text(await chat.say(person["name"])) == prompt("id_type")
    assert last_text(await chat.tap("/id_type:0")) == prompt("id_number")
    return await chat.say(person["id_number"])


async def test_first_use_asks_identity_binds_and_raises_level(app: App, started: Chat, clock: FixedClock) -> None:
    chat, p12 = started, p12_for(clock)
    replies = await send_file(chat, p12)
    assert last_text(replies) == prompt("password")
    assert any(isinstance(r, Text) and r.secret_input for r in replies)
    replies = await chat.say(PASSWORD)
    assert deletes_of(replies) == [last_ref(chat)]  # the password message is deleted once read
    assert last_text(replies) == prompt("name")
    stored = await app.services.kv.get(f"flow:{chat.conversation_id}")
    assert stored is not None and stored["asked"] == "name"
    raw = await state_json(app, chat)
    assert PASSWORD not in raw and base64.b64encode(p12).decode()[:40] not in raw and P1["id_number"] not in raw
    assert await level(app) == "low"
    replies = await answer_identity(chat)
    assert T("certificate.done", subject="CN=王*明, serialNumber=110105********1239", level="高") in texts_of(replies)
    assert await level(app) == "high"
    assert PASSWORD not in await state_json(app, chat)


async def test_second_use_needs_no_identity(app: App, started: Chat, clock: FixedClock) -> None:
    chat, p12 = started, p12_for(clock)
    await send_file(chat, p12)
    await chat.say(PASSWORD)
    await answer_identity(chat)
    await chat.tap("/menu")
    await chat.tap("/certificate")
    await send_file(chat, p12)
    replies = await chat.say(PASSWORD)
    assert deletes_of(replies) == [last_ref(chat)]
    assert prompt("name") not in texts_of(replies)
    assert "数字证书验证通过" in texts_of(replies)
    assert await level(app) == "high"


async def test_wrong_password_three_times_stops(app: App, started: Chat, clock: FixedClock) -> None:
    chat = started
    await send_file(chat, p12_for(clock))
    for attempt in range(1, 4):
        replies = await chat.say("zhengshu")
        assert deletes_of(replies) == [last_ref(chat)]
        assert "密码错误" in texts_of(replies)
        if attempt < 3:
            assert last_text(replies) == prompt("password")
    assert refusal("too_many") in texts_of(replies)
    assert await asked(app, chat) == (None, None)
    assert await level(app) == "low"
    assert "zhengshu" not in await state_json(app, chat)


async def test_b45_non_ascii_password_from_a_gbk_exporter_loads(app: App, started: Chat, clock: FixedClock) -> None:
    chat = started
    await send_file(chat, p12_for(clock, password=NON_ASCII, password_encoding="gb18030"))
    replies = await chat.say(NON_ASCII)
    assert last_text(replies) == prompt("name")


async def test_b45_non_ascii_password_that_fails_suggests_ascii_reexport(app: App, started: Chat,
                                                                         clock: FixedClock) -> None:
    chat = started
    await send_file(chat, p12_for(clock))
    replies = await chat.say(NON_ASCII)
    assert texts_of(replies).startswith(refusal("non_ascii"))
    assert "重新导出" in texts_of(replies) and "密码错误" in texts_of(replies)
    assert last_text(replies) == prompt("password")
    assert NON_ASCII not in await state_json(app, chat)


@pytest.mark.parametrize(("kw", "reason"), [({"expired": True}, "expired"), ({"other_ca": True}, "untrusted"),
                                            ({"key_usage": False}, "key_usage")])
async def test_refused_certificate_asks_for_another_file(app: App, started: Chat, clock: FixedClock,
                                                         kw: dict[str, bool], reason: str) -> None:
    chat = started
    await send_file(chat, p12_for(clock, **kw))
    replies = await chat.say(PASSWORD)
    assert refusal(reason) in texts_of(replies)
    assert last_text(replies) == prompt("certificate")
    assert await level(app) == "low"


async def test_garbage_or_text_at_the_file_question(app: App, started: Chat) -> None:
    chat = started
    replies = await send_file(chat, b"hello, this is not a certificate")
    assert T("certificate.certificate.bad_file") in texts_of(replies)
    assert last_text(replies) == prompt("certificate")
    replies = await chat.say("我的证书")
    assert T("error.not_file") in texts_of(replies)
    assert last_text(replies) == prompt("certificate")


async def test_certificate_bound_to_another_account_is_refused(app: App, clock: FixedClock) -> None:
    p12 = p12_for(clock)
    owner = Chat(app, "rest:owner")
    await register(owner)
    await log_in(owner)
    await owner.tap("/certificate")
    await send_file(owner, p12)
    await owner.say(PASSWORD)
    await answer_identity(owner)
    other = Chat(app, "rest:other")
    await register(other, P2, "lijianguo1")
    await log_in(other, "lijianguo1")
    await other.tap("/certificate")
    await send_file(other, p12)
    replies = await other.say(PASSWORD)
    assert refusal("bound_elsewhere") in texts_of(replies)
    assert await level(app, "lijianguo1") == "low"


async def test_someone_elses_identity_is_refused(app: App, started: Chat, clock: FixedClock) -> None:
    chat = started
    await send_file(chat, p12_for(clock))
    await chat.say(PASSWORD)
    replies = await answer_identity(chat, P2)
    assert T("certificate.not_holder") in texts_of(replies)
    assert last_text(replies) == prompt("certificate")
    assert await level(app) == "low"


async def test_needs_login_and_request_mode_intro(app: App, chat: Chat) -> None:
    replies = await chat.tap("/certificate")
    assert T("login.required") in texts_of(replies)
    await chat.tap("/cancel")
    await register(chat)
    await log_in(chat)
    turn = Turn(channel="rest", conversation_id=chat.conversation_id, kind="other")
    replies = await app.engine.push(turn, "certificate", mode="request")
    assert T("certificate.intro_request") in texts_of(replies)
    assert last_text(replies) == prompt("certificate")


async def test_third_refused_certificate_ends_the_flow(app: App, started: Chat, clock: FixedClock) -> None:
    chat = started
    for _ in range(3):
        await send_file(chat, p12_for(clock, expired=True))
        replies = await chat.say(PASSWORD)
        assert refusal("expired") in texts_of(replies)
    assert refusal("too_many") in texts_of(replies)
    assert await asked(app, chat) == (None, None)


async def test_english_transcript(app: App, started: Chat, clock: FixedClock) -> None:
    chat = started
    await chat.tap("/lang en")
    en = Translator("en")
    assert last_text(chat.history) == en("certificate.certificate.prompt")
    await send_file(chat, p12_for(clock))
    replies = await chat.say("zhengshu")
    assert texts_of(replies).startswith(en("certificate.password.wrong_password"))
    assert last_text(replies) == en("certificate.password.prompt")


async def test_without_trust_roots_the_method_says_it_is_unavailable(app: App, chat: Chat) -> None:
    """A deployment with no CREDITBOT_CERT_TRUST_ROOTS: a clear message, never the sandbox CA."""
    from backend.certificates import CertificateService

    services = app.services
    services.extras["certificates"] = CertificateService(services.db, services.vault, services.clock,
                                                         services.audit, None)
    await register(chat)
    await log_in(chat)
    replies = await chat.tap("/certificate")
    assert T("certificate.unavailable") in texts_of(replies)
    assert (await asked(app, chat)) == (None, None)
    assert "/register" not in str(replies) and T("menu.prompt") in texts_of(replies)
