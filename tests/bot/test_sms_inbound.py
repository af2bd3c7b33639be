"""SMS query over HTTP (in process): "CX<login name>" from the registered phone; the hint comes back by SMS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fakes import P1, Chat, register, verify_card
from flowkit import P2, log_in, requests_count, sms_count
from starlette.applications import Starlette

from backend.clock import FixedClock
from bot.sms_inbound import SmsSender, sms_routes
from bot.wiring import App
from dialogs.catalog import Translator

T = Translator("zh")
SERVICE = "106980008899"
STRANGER = "13900139000"
HINTS = (T("result.hint_empty"), T("result.hint_clean"))


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    web = Starlette(routes=sms_routes(app))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://sms") as c:
        yield c


@pytest.fixture
async def high(app: App) -> Chat:
    """P1 registered and at security level high (bank card verified)."""
    chat = Chat(app, "rest:p1")
    await register(chat)
    await log_in(chat)
    await chat.tap("/bank_card")
    await verify_card(chat)
    return chat


async def text_in(client: httpx.AsyncClient, sender: str, text: str, to: str = SERVICE) -> httpx.Response:
    return await client.post("/sms/inbound", json={"from": sender, "to": to, "text": text})


async def last_sms(app: App, phone: str) -> str:
    inbox = await app.services.sms.inbox(phone)  # type: ignore[attr-defined]
    return str(inbox[-1].text)


async def test_accepted_then_hint_texted_when_due(app: App, clock: FixedClock, client: httpx.AsyncClient,
                                                 high: Chat) -> None:
    app.channels.register("sms", SmsSender(app.services))
    response = await text_in(client, "+86 155 0000 0101", "ＣＸ　ＷａｎｇＸＭ０１ ")
    assert response.status_code == 200 and response.json() == {"status": "received"}
    assert "已受理" in await last_sms(app, P1["phone"])
    assert await requests_count(app) == 1
    assert await app.dispatcher.run_once() == 0  # not due yet
    clock.advance(61)
    assert await app.dispatcher.run_once() == 1
    hint = await last_sms(app, P1["phone"])
    assert hint.startswith("【征信中心】您的个人信用信息提示") and any(h in hint for h in HINTS), hint
    count = await sms_count(app, P1["phone"])
    clock.advance(3600)
    await app.dispatcher.run_once()
    assert await sms_count(app, P1["phone"]) == count  # texted once


async def test_unknown_name_and_wrong_phone_get_the_same_answer(app: App, client: httpx.AsyncClient,
                                                              high: Chat) -> None:
    await text_in(client, STRANGER, "CXwangxm01")
    wrong_phone = await last_sms(app, STRANGER)
    await text_in(client, P1["phone"], "CXnobody99")
    unknown = await last_sms(app, P1["phone"])
    assert wrong_phone == unknown == T("sms_query.not_matched")
    assert await requests_count(app) == 0


async def test_low_level_owner_is_told_how_to_raise_it(app: App, client: httpx.AsyncClient) -> None:
    chat = Chat(app, "rest:p2")
    await register(chat, P2, "lijg1969")
    response = await text_in(client, P2["phone"], "cx lijg1969")
    assert response.json() == {"status": "level_low"}
    assert await last_sms(app, P2["phone"]) == T("sms_query.level_low")
    assert await requests_count(app) == 0


@pytest.mark.parametrize("text", ["hello", "CX", "CX 王小明", "查询"])
async def test_malformed_text_gets_the_instructions(app: App, client: httpx.AsyncClient, text: str) -> None:
    await text_in(client, STRANGER, text)
    assert await last_sms(app, STRANGER) == T("sms_query.help")


async def test_rate_limited_per_phone(app: App, clock: FixedClock, client: httpx.AsyncClient) -> None:
    for _ in range(5):
        assert (await text_in(client, STRANGER, "CXwangxm01")).json() == {"status": "not_matched"}
    assert (await text_in(client, STRANGER, "CXwangxm01")).json() == {"status": "rate_limited"}
    assert await sms_count(app, STRANGER) == 5
    clock.advance(3601)
    assert (await text_in(client, STRANGER, "CXwangxm01")).json() == {"status": "not_matched"}


async def test_bad_requests(app: App, client: httpx.AsyncClient) -> None:
    assert (await client.post("/sms/inbound", content=b"not json")).status_code == 400
    assert (await text_in(client, "12345", "CXwangxm01")).status_code == 400
    assert (await text_in(client, STRANGER, "CXwangxm01", to="10086")).status_code == 404
    assert await sms_count(app, STRANGER) == 0
