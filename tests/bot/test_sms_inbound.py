"""SMS query over real HTTP against a running `creditbot serve`: "CX<login name>" texted from the registered
phone; the hint comes back by SMS. The refusals tell a stranger nothing about which accounts exist, and the
HTTP answer is the same whatever happened (the sandbox SMS provider with no secret: unsigned requests).

One server for the module; every test texts from phones of its own (the limit is per phone and hour).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fakes import CAPTCHA, P1
from flowkit import P2, P3
from procs import ServerProcess

from dialogs.catalog import Translator

pytestmark = pytest.mark.slow
T = Translator("zh")
SERVICE = "106980008899"
PASSWORD = "Abc12345!"
HINTS = (T("result.hint_empty"), T("result.hint_clean"))
_PHONES = itertools.count(random.randrange(1000, 9000) * 100)


def stranger() -> str:
    return f"139{next(_PHONES):08d}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("sms") / "var", CREDITBOT_REPORT_DELAY=1)
    asyncio.run(proc.start())
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def client(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield c


async def inbox(client: httpx.AsyncClient, phone: str) -> list[str]:
    response = await client.get(f"/sandbox/phones/{phone}/messages")
    assert response.status_code == 200
    return [m["text"] for m in response.json()]


async def last_sms(client: httpx.AsyncClient, phone: str) -> str:
    return (await inbox(client, phone))[-1]


async def say(client: httpx.AsyncClient, sender: str, message: str) -> list[dict[str, Any]]:
    response = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": message})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def register(client: httpx.AsyncClient, sender: str, person: dict[str, str], login: str) -> None:
    for step in ["注册", person["name"], "/id_type:0", person["id_number"], CAPTCHA, "/agreement:accept", login,
                 PASSWORD, PASSWORD, person["phone"]]:
        await say(client, sender, step)
    code = re.findall(r"\d{6}", await last_sms(client, person["phone"]))[0]
    assert any("注册成功" in m.get("text", "") for m in await say(client, sender, code))


@pytest.fixture(scope="module")
def high(server: ServerProcess) -> str:
    """P1 registered over REST and at security level high (bank card verified); returns the login name."""

    asyncio.run(register_high(server, "sms-p1", P1, "wangxm01"))
    return "wangxm01"


async def register_high(server: ServerProcess, sender: str, person: dict[str, str], login: str) -> None:
    """Registers the person over REST and verifies the bank card: security level high."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        await register(client, sender, person, login)
        for step in ["登录", login, PASSWORD, CAPTCHA, "/bank_card", person["card"], person["name"], "/id_type:0",
                     person["id_number"], person["phone"]]:
            await say(client, sender, step)
        await say(client, sender, re.findall(r"\d{6}", await last_sms(client, person["phone"]))[0])
        replies = await say(client, sender, CAPTCHA)
        assert any("银行卡验证通过" in m.get("text", "") for m in replies), replies


async def text_in(client: httpx.AsyncClient, sender: str, text: str, to: str = SERVICE) -> httpx.Response:
    return await client.post("/sms/inbound", json={"from": sender, "to": to, "text": text})


def accepted(response: httpx.Response) -> bool:
    """The one answer to every well-formed request: nothing about the outcome."""
    return response.status_code == 202 and response.json() == {"status": "accepted"}


async def wait_for_sms(client: httpx.AsyncClient, phone: str, count: int, timeout: float = 15) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = await inbox(client, phone)
        if len(messages) >= count:
            return messages
        await asyncio.sleep(0.2)
    return await inbox(client, phone)


async def test_accepted_then_hint_texted_when_due(client: httpx.AsyncClient, high: str) -> None:
    before = len(await inbox(client, P1["phone"]))
    response = await text_in(client, "+86 155 0000 0101", "ＣＸ　ＷａｎｇＸＭ０１ ")
    assert accepted(response)
    messages = await wait_for_sms(client, P1["phone"], before + 2)
    assert "已受理" in messages[before]
    hint = messages[before + 1]
    assert hint.startswith("【征信中心】您的个人信用信息提示") and any(h in hint for h in HINTS), hint
    await asyncio.sleep(1.5)  # a few more dispatcher rounds
    assert len(await inbox(client, P1["phone"])) == before + 2  # texted once


async def test_unknown_name_and_wrong_phone_get_the_same_answer(client: httpx.AsyncClient, high: str) -> None:
    foreign = stranger()
    before = len(await inbox(client, P1["phone"]))
    response = await text_in(client, foreign, "CXwangxm01")  # a real login name, from a phone not its own
    assert accepted(response)
    wrong_phone = await last_sms(client, foreign)
    response = await text_in(client, P1["phone"], "CXnobody99")  # the owner's phone, an unknown name
    assert accepted(response)
    unknown = await last_sms(client, P1["phone"])
    assert wrong_phone == unknown == T("sms_query.not_matched")
    assert "wangxm01" not in wrong_phone and "155" not in wrong_phone  # nothing about the account
    assert len(await inbox(client, P1["phone"])) == before + 1  # the owner hears nothing of the stranger


async def test_low_level_owner_is_told_how_to_raise_it(client: httpx.AsyncClient, server: ServerProcess) -> None:
    await register(client, "sms-p2", P2, "lijg1969")
    response = await text_in(client, P2["phone"], "cx lijg1969")
    assert accepted(response)
    assert await last_sms(client, P2["phone"]) == T("sms_query.level_low")
    foreign = stranger()  # the same name from another phone: told nothing about the level
    assert accepted(await text_in(client, foreign, "cx lijg1969"))
    assert await last_sms(client, foreign) == T("sms_query.not_matched")


@pytest.mark.parametrize("text", ["hello", "CX", "CX 王小明", "查询"])
async def test_malformed_text_gets_the_instructions(client: httpx.AsyncClient, text: str) -> None:
    phone = stranger()
    assert accepted(await text_in(client, phone, text))
    assert await inbox(client, phone) == [T("sms_query.help")]


async def test_rate_limited_per_phone(client: httpx.AsyncClient) -> None:
    phone, other = stranger(), stranger()
    for name in ("CXnobody01", "CXnobody02", "CXnobody03", "CXnobody04", "CXnobody05"):
        assert accepted(await text_in(client, phone, name))
    assert accepted(await text_in(client, phone, "CXnobody06"))  # the same answer when over the limit
    assert len(await inbox(client, phone)) == 5  # the sixth is not answered
    assert accepted(await text_in(client, other, "CXnobody06"))
    assert await inbox(client, other) == [T("sms_query.not_matched")]  # per phone


@pytest.mark.parametrize("login", ["wangxm01", "nobody77"])  # known or not, the same limit
async def test_one_login_name_is_not_tried_from_many_phones(client: httpx.AsyncClient, high: str,
                                                           login: str) -> None:
    phones = [stranger() for _ in range(7)]
    for phone in phones:
        assert accepted(await text_in(client, phone, f"CX{login}"))
    answered = [phone for phone in phones if await inbox(client, phone)]
    # Five strangers an hour per login name (one may have asked about wangxm01 in an earlier test).
    assert answered == phones[:len(answered)] and 4 <= len(answered) <= 5
    for phone in answered:
        assert await inbox(client, phone) == [T("sms_query.not_matched")]
    if login == "wangxm01":  # the owner is not locked out by them
        before = len(await inbox(client, P1["phone"]))
        assert accepted(await text_in(client, P1["phone"], "CX wangxm01"))
        assert "已受理" in (await wait_for_sms(client, P1["phone"], before + 1))[before]


async def test_bad_requests(client: httpx.AsyncClient) -> None:
    phone = stranger()
    for body in (b"not json", b"[]", b'{"from": "15500000101", "to": "106980008899"}', b"x" * 5000):
        response = await client.post("/sms/inbound", content=body)
        assert response.status_code == 400 and "wangxm01" not in response.text
    response = await text_in(client, "12345", "CXwangxm01")
    assert response.status_code == 422 and "wangxm01" not in response.text
    assert (await text_in(client, phone, "CXwangxm01", to="10086")).status_code == 404
    assert await inbox(client, phone) == []


# -- one open request per account: texts sent again, or at the same moment, make no new request ----------

@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Results due after 4 seconds: long enough to text again while the first request is open."""
    proc = ServerProcess(tmp_path_factory.mktemp("sms-slow") / "var", CREDITBOT_REPORT_DELAY=4)
    asyncio.run(proc.start())
    try:
        asyncio.run(register_high(proc, "sms-slow-p1", P1, "wangxm01"))
        asyncio.run(register_high(proc, "sms-slow-p3", P3, "zhangwei87"))
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def slow_client(slow_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=slow_server.url, timeout=30) as c:
        yield c


def request_of(received: str) -> dict[str, str]:
    """The request number and due time an "已受理" text names."""
    match = re.search(r"申请编号(?P<number>\d+).*预计于(?P<due>[\d\- :]+)（北京时间）", received)
    assert match, received
    return match.groupdict()


def is_hint(message: str) -> bool:
    return message.startswith("【征信中心】您的个人信用信息提示（")


async def test_texts_again_while_open_make_no_new_request(slow_client: httpx.AsyncClient) -> None:
    phone = P1["phone"]
    before = len(await inbox(slow_client, phone))
    for _ in range(4):  # the owner texts again and again within seconds
        assert accepted(await text_in(slow_client, phone, "cx wangxm01"))
    messages = (await inbox(slow_client, phone))[before:]
    assert len(messages) == 4 and "已受理" in messages[0], messages
    first = request_of(messages[0])
    assert messages[1:] == [T("sms_query.already_received", **first)] * 3  # one answer each, nothing else
    messages = await wait_for_sms(slow_client, phone, before + 5)
    await asyncio.sleep(1.5)  # a few more dispatcher rounds
    messages = (await inbox(slow_client, phone))[before:]
    assert len(messages) == 5 and is_hint(messages[4]), messages  # one request, so one hint
    # The hint was texted: the next text is a new request.
    assert accepted(await text_in(slow_client, phone, "cx wangxm01"))
    messages = await wait_for_sms(slow_client, phone, before + 6)
    assert "已受理" in messages[-1] and request_of(messages[-1])["number"] != first["number"]


async def test_texts_at_the_same_moment_make_one_request(slow_client: httpx.AsyncClient) -> None:
    phone = P3["phone"]
    before = len(await inbox(slow_client, phone))
    responses = await asyncio.gather(*(text_in(slow_client, phone, "CX zhangwei87") for _ in range(5)))
    assert all(accepted(r) for r in responses)
    messages = (await inbox(slow_client, phone))[before:]
    received = [m for m in messages if "已受理" in m]
    assert len(messages) == 5 and len(received) == 1, messages
    first = request_of(received[0])
    assert sorted(messages) == sorted([received[0]] + [T("sms_query.already_received", **first)] * 4)
    foreign = stranger()  # another phone, while the request is open: told nothing about it
    assert accepted(await text_in(slow_client, foreign, "CX zhangwei87"))
    assert await inbox(slow_client, foreign) == [T("sms_query.not_matched")]
    await wait_for_sms(slow_client, phone, before + 6)
    await asyncio.sleep(1.5)
    messages = (await inbox(slow_client, phone))[before:]
    assert [is_hint(m) for m in messages].count(True) == 1, messages  # one request, one hint

