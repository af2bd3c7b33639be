"""Every account flow through the REST channel of a running `creditbot serve`, over real HTTP.

One server for the module (a fresh database); each test has its own sender and its own person:
sandbox personas where the credit file matters, invented people (their bank card added through the
sandbox endpoint) elsewhere. Codes are read from the sandbox SMS inbox over HTTP, like a person would.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import random
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import httpx
import pyotp
import pytest
from fakes import CAPTCHA, P1
from procs import REPO, ServerProcess
from pypdf import PdfReader

from backend.credit_data import load_sandbox
from backend.identity_rules import luhn_valid, make_test_id
from backend.questions import build_questions
from backend.sandbox_ca import issue_certificate
from dialogs.catalog import Translator
from dialogs.flows.question_verify import KIND_KEYS, OPTION_KEYS, TRANSLATED_KINDS

pytestmark = pytest.mark.slow
T = Translator("zh")
PASSWORD = "Abc12345!"
NEW_PASSWORD = "Xyz98765!"
CERT_PASSWORD = "Zhengshu2026!"
PERSONAS = REPO / "data" / "fixtures" / "personas.json"
P3 = {"name": "张伟", "id_number": "510107198712030010", "phone": "17300000303", "card": "6200000000000003038"}
P4 = {"name": "阿依古丽·买买提", "id_number": "650102199506012464", "phone": "19200000404",
      "card": "6200000000000004044"}
_SEQ = itertools.count(random.randrange(100, 800))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("http-flows") / "var", CREDITBOT_REPORT_DELAY=1)
    asyncio.run(proc.start())
    try:
        yield proc
    finally:
        proc.stop()


class User:
    """One person's REST conversation (a sender id of its own) and their SMS inbox."""

    def __init__(self, client: httpx.AsyncClient, base: str, sender: str) -> None:
        self.client, self.base, self.sender = client, base, sender

    async def post(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        response = await self.client.post(f"{self.base}/webhooks/rest/webhook", json={"sender": self.sender, **body})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def say(self, message: str) -> list[dict[str, Any]]:
        return await self.post({"message": message})

    async def send_file(self, data: bytes) -> list[dict[str, Any]]:
        return await self.post({"attachment": {"filename": "me.p12", "mime": "application/x-pkcs12",
                                               "content_base64": base64.b64encode(data).decode()}})

    async def inbox(self, phone: str) -> list[str]:
        response = await self.client.get(f"{self.base}/sandbox/phones/{phone}/messages")
        assert response.status_code == 200
        return [m["text"] for m in response.json()]

    async def code(self, phone: str) -> str:
        return re.findall(r"\d{6}", (await self.inbox(phone))[-1])[0]

    async def pushed(self, timeout: float = 15) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = (await self.client.get(f"{self.base}/webhooks/rest/messages/{self.sender}")).json()
            if messages:
                return messages  # type: ignore[no-any-return]
            await asyncio.sleep(0.2)
        return []


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as c:
        yield c


@pytest.fixture
def user(server: ServerProcess, client: httpx.AsyncClient, request: pytest.FixtureRequest) -> User:
    return User(client, server.url, f"{request.node.name}-{next(_SEQ)}")


def text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def last(messages: list[dict[str, Any]]) -> str:
    texts = [m["text"] for m in messages if m.get("text")]
    assert texts, messages
    return str(texts[-1])


def payloads(messages: list[dict[str, Any]]) -> list[str]:
    return [b["payload"] for m in messages for b in m.get("buttons", [])]


async def invented(user: User) -> dict[str, str]:
    """A new person with a bank card the sandbox bank knows (added over HTTP)."""
    n = next(_SEQ)
    body = f"621799{n:012d}"
    person = {"name": "钱测试", "id_number": make_test_id("110101", f"1985{n % 12 + 1:02d}{n % 28 + 1:02d}",
                                                          f"{n % 1000:03d}"),
              "phone": f"1770{n:07d}", "card": next(body + d for d in "0123456789" if luhn_valid(body + d)),
              "login": f"http{n}"}
    response = await user.client.post(f"{user.base}/sandbox/bank-cards",
                                      json={**{k: person[k] for k in ("card", "name", "id_number", "phone")},
                                            "id_type": "0"})
    assert response.status_code in (200, 201), response.text
    return person


async def test_a_sandbox_card_added_again_or_a_fixture_card_is_not_added(user: User) -> None:
    person = await invented(user)  # added once: 201
    holder = {**{k: person[k] for k in ("card", "name", "id_number", "phone")}, "id_type": "0"}
    again = await user.client.post(f"{user.base}/sandbox/bank-cards", json=holder)
    fixture = await user.client.post(f"{user.base}/sandbox/bank-cards", json={**holder, "card": P3["card"]})
    assert (again.status_code, again.json()) == (200, {"added": False})
    assert (fixture.status_code, fixture.json()) == (200, {"added": False})  # the fixture's holder stays


async def register(user: User, person: dict[str, str], login: str) -> None:
    for step in ["注册", person["name"], "/id_type:0", person["id_number"], CAPTCHA, "/agreement:accept", login,
                 PASSWORD, PASSWORD, person["phone"]]:
        await user.say(step)
    assert "注册成功" in text(await user.say(await user.code(person["phone"])))


async def log_in(user: User, login: str, password: str = PASSWORD) -> list[dict[str, Any]]:
    for step in ["登录", login, password]:
        await user.say(step)
    return await user.say(CAPTCHA)


async def card_steps(user: User, person: dict[str, str]) -> list[dict[str, Any]]:
    """Answers a running bank-card flow from the card question on."""
    for step in [person["card"], person["name"], "/id_type:0", person["id_number"], person["phone"]]:
        await user.say(step)
    await user.say(await user.code(person["phone"]))
    return await user.say(CAPTCHA)


async def my_account(user: User) -> str:
    return text(await user.say("/my_account"))


# -- verification --------------------------------------------------------------------------------


def right_options(person: dict[str, str]) -> dict[str, set[str]]:
    """The right answer of each question kind, derived from the persona's credit data as shown in chat."""
    file = load_sandbox(PERSONAS).personas[f"resident_id:{person['id_number']}"].file
    right: dict[str, set[str]] = {}
    for seed in range(30):  # the server's seed is its own: gather every answer any seed gives
        for question in build_questions(file, random.Random(seed), today=date.today()):
            option = question.answer
            shown = T(OPTION_KEYS[option]) if option in OPTION_KEYS and question.kind in TRANSLATED_KINDS else option
            right.setdefault(question.kind, set()).add(shown)
    return right


async def test_question_verification_raises_the_level_to_medium(user: User) -> None:
    await register(user, P3, "zhangwei01")
    assert "登录成功" in text(await log_in(user, "zhangwei01"))
    right = right_options(P3)
    replies = await user.say("/question_verify")
    assert T("question_verify.intro", total=5, minutes=10) in text(replies)
    for number in range(1, 6):
        prompt = last(replies)
        assert T("question_verify.question", number=number, total=5) in prompt
        kind = next(k for k, key in KIND_KEYS.items() if T(key) in prompt and k in right)
        lines = [line for line in prompt.splitlines() if re.match(r"[A-D]\. ", line)]
        picks = [line[0] for line in lines if line[3:] in right[kind]]
        assert len(picks) == 1, (kind, lines, right[kind])
        replies = await user.say(f"/q{number}:{'ABCD'.index(picks[0])}")
    assert T("question_verify.done", level=T("level.medium")) in text(replies)
    assert "安全等级：" + T("level.medium") in await my_account(user)


async def test_bank_card_verification_then_my_account_toggles_quick_query(user: User) -> None:
    await register(user, P4, "ayiguli01")
    await log_in(user, "ayiguli01")
    summary = await my_account(user)
    assert "安全等级：" + T("level.low") in summary and "快捷查询：" + T("my_account.quick_off") in summary
    await user.say("/bank_card")
    replies = await card_steps(user, P4)
    assert "银行卡验证通过" in text(replies) and T("level.high") in text(replies)
    assert "/decision:open" in payloads(replies)  # quick query offered at once
    await user.say("/decision:decline")
    summary = await my_account(user)
    assert "安全等级：" + T("level.high") in summary and "快捷查询：" + T("my_account.quick_off") in summary
    assert "/quick_query" in payloads(await user.say("/my_account"))
    await user.say("/quick_query")
    replies = await user.say("/decision:open")
    assert last(replies) == T("verify_identity.method.prompt")  # opening asks for verification again
    await user.say("/method:bank_card")
    replies = await card_steps(user, P4)
    assert T("quick_query.done_open") in text(replies)
    assert "快捷查询：" + T("my_account.quick_on") in await my_account(user)
    await user.say("/quick_query")
    assert T("quick_query.done_close") in text(await user.say("/decision:close"))
    assert "快捷查询：" + T("my_account.quick_off") in await my_account(user)


# -- account operations ------------------------------------------------------------------------


async def test_change_phone_with_the_code_texted_to_the_new_number(user: User) -> None:
    person = await invented(user)
    await register(user, person, person["login"])
    await log_in(user, person["login"])
    replies = await user.say("/change_phone")
    assert last(replies) == T("verify_identity.method.prompt")
    await user.say("/method:bank_card")
    replies = await card_steps(user, person)
    assert last(replies) == T("change_phone.new_phone.prompt")
    new_phone = "1880" + person["phone"][4:]
    await user.say(new_phone)
    code = await user.code(new_phone)
    replies = await user.say(code)
    assert "注册手机号码已更换为 188****" in text(replies), replies
    assert "188****" in (await user.inbox(person["phone"]))[-1]  # the old number is told
    assert "188****" + new_phone[-4:] in await my_account(user)
    await user.say("/logout")
    await user.say("/recover_login")  # the recovery code now goes to the new number
    for step in [person["name"], "/id_type:0", person["id_number"]]:
        await user.say(step)
    before = len(await user.inbox(person["phone"]))
    await user.say(CAPTCHA)
    assert len(await user.inbox(person["phone"])) == before
    assert person["login"] in text(await user.say(await user.code(new_phone)))


async def start_reset(user: User, login: str, phone: str) -> list[dict[str, Any]]:
    await user.say("/reset_password")
    await user.say("/by:login_name")
    await user.say(login)
    assert T("recovery.code_sent", minutes=5) in text(await user.say(CAPTCHA))
    replies = await user.say(await user.code(phone))
    assert last(replies) == T("reset_password.method.prompt")
    assert payloads(replies) == ["/method:bank_card", "/method:certificate"]
    return replies


async def test_reset_password_by_bank_card(user: User) -> None:
    person = await invented(user)
    await register(user, person, person["login"])
    await start_reset(user, person["login"], person["phone"])
    assert last(await user.say("/method:bank_card")) == T("reset_password.card.prompt")
    await user.say(person["card"])
    assert last(await user.say(person["phone"])) == T("reset_password.password.prompt")
    await user.say(NEW_PASSWORD)
    assert T("reset_password.done") in text(await user.say(NEW_PASSWORD))
    assert "登录成功" not in text(await log_in(user, person["login"], PASSWORD))
    await user.say("/cancel")
    assert "登录成功" in text(await log_in(user, person["login"], NEW_PASSWORD))


async def test_reset_password_by_certificate(user: User) -> None:
    person = await invented(user)
    await register(user, person, person["login"])
    await start_reset(user, person["login"], person["phone"])
    replies = await user.say("/method:certificate")
    assert last(replies) == T("certificate.certificate.prompt")
    p12 = issue_certificate(name=person["name"], id_number=person["id_number"], password=CERT_PASSWORD)
    assert last(await user.send_file(p12)) == T("certificate.password.prompt")
    assert last(await user.say(CERT_PASSWORD)) == T("certificate.name.prompt")  # first use
    await user.say(person["name"])
    await user.say("/id_type:0")
    replies = await user.say(person["id_number"])
    assert "数字证书验证通过" in text(replies) and last(replies) == T("reset_password.password.prompt")
    await user.say(NEW_PASSWORD)
    assert T("reset_password.done") in text(await user.say(NEW_PASSWORD))
    assert "登录成功" in text(await log_in(user, person["login"], NEW_PASSWORD))
    assert "安全等级：" + T("level.high") in await my_account(user)  # the certificate is now bound


async def test_recover_login_name(user: User) -> None:
    person = await invented(user)
    await register(user, person, person["login"])
    replies = await user.say("/recover_login")
    assert T("recover_login.intro") in text(replies)
    for step in [person["name"], "/id_type:0", person["id_number"]]:
        await user.say(step)
    assert T("recovery.code_sent", minutes=5) in text(await user.say(CAPTCHA))
    replies = await user.say(await user.code(person["phone"]))
    assert T("recover_login.done", login_name=person["login"]) in text(replies)


async def test_close_account_then_register_again_with_the_same_identity_and_login(user: User) -> None:
    person = await invented(user)
    await register(user, person, person["login"])
    await log_in(user, person["login"])
    replies = await user.say("/close_account")
    assert T("close_account.intro") in text(replies) and last(replies) == T("verify_identity.method.prompt")
    await user.say("/method:bank_card")
    replies = await card_steps(user, person)
    assert "/decision:confirm" in payloads(replies)
    assert T("close_account.done") in text(await user.say("/decision:confirm"))
    assert T("login.required") in text(await user.say("/my_account"))  # logged out
    await user.say("/cancel")
    assert "登录成功" not in text(await log_in(user, person["login"]))
    await user.say("/cancel")
    await register(user, person, person["login"])
    assert "登录成功" in text(await log_in(user, person["login"]))
    assert "安全等级：" + T("level.low") in await my_account(user)  # a new account starts low


async def test_authenticator_app_bound_then_a_request_confirmed_by_its_code(user: User) -> None:
    """The server's own clock against pyotp's: the code a phone app shows now is taken."""
    person = await invented(user)
    await register(user, person, person["login"])
    await log_in(user, person["login"])
    await user.say("/bank_card")
    await card_steps(user, person)
    assert T("quick_query.done_open") in text(await user.say("/decision:open"))
    await user.say("/authenticator")
    await user.say("/decision:bind")
    replies = await user.say(await user.code(person["phone"]))
    shown = text(replies)
    uri = re.search(r"otpauth://totp/\S+", shown)
    assert uri is not None and last(replies) == T("authenticator.app_code.prompt")
    app = pyotp.parse_uri(uri.group(0))
    assert T("authenticator.done_bind") in text(await user.say(app.now()))
    texts_before = len(await user.inbox(person["phone"]))
    await user.say("/request_report")
    assert last(await user.say("/product:hint")) == T("request_report.dynamic_code.prompt_app")
    await asyncio.sleep(30 - time.time() % 30 + 0.5)  # the next step: the binding used this one's code
    assert "查询申请已提交" in text(await user.say(app.now()))
    assert len(await user.inbox(person["phone"])) == texts_before  # no SMS dynamic code was sent
    assert "动态码应用：" + T("my_account.app_on") in await my_account(user)


# -- the three products ------------------------------------------------------------------------


async def fetch(user: User, product: str) -> list[dict[str, Any]]:
    await user.say("/request_report")
    await user.say(f"/product:{product}")
    assert "查询申请已提交" in text(await user.say(await user.code(P1["phone"])))
    pushed = await user.pushed()
    assert T(f"product.{product}") in text(pushed) and "已生成" in text(pushed), pushed
    return await user.say(await user.code(P1["phone"]))


async def test_hint_summary_and_report_requested_and_fetched(user: User) -> None:
    await register(user, P1, "wangxm01")
    await log_in(user, "wangxm01")
    await user.say("/bank_card")
    await card_steps(user, P1)
    assert T("quick_query.done_open") in text(await user.say("/decision:open"))

    hint = await fetch(user, "hint")
    assert T("result.hint_clean") in text(hint)  # P1's file has nothing overdue
    summary = await fetch(user, "summary")
    assert "【个人信用信息概要】" in text(summary) and "信用卡：2 个账户" in text(summary)
    report = await fetch(user, "report")
    assert T("result.report") in text(report)
    attachment = next(m["attachment"] for m in report if "attachment" in m)
    assert attachment["mime"] == "application/pdf" and "个人信用报告" in attachment["filename"]
    response = await user.client.get(attachment["url"])
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(response.content))
    assert reader.is_encrypted and reader.decrypt(P1["id_number"][-6:])
    assert len(reader.pages) > 1
    pages = "".join(page.extract_text() for page in reader.pages)
    assert "个人信用报告" in pages and re.search(r"110105\*+1239", pages.replace(" ", ""))
    listing = text(await user.say("我的申请"))
    assert listing.count("已获取") == 3, listing

    # Closing the account takes the report's download link with it: it still opened afterwards.
    await user.say("/close_account")
    await user.say("/method:bank_card")
    await card_steps(user, P1)
    assert T("close_account.done") in text(await user.say("/decision:confirm"))
    gone = await user.client.get(attachment["url"])
    assert gone.status_code == 404 and not gone.content.startswith(b"%PDF")
