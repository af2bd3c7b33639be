"""The SMS webhook with CREDITBOT_SMS_WEBHOOK_SECRET set, over real HTTP: only requests the gateway signed
(HMAC-SHA256 over timestamp and raw body) within five minutes, each once, are taken; nothing else texts anyone.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import httpx
import pytest
from procs import ServerProcess

from backend.errors import ConfigurationError
from backend.settings import Secret, Settings
from backend.sms import HttpSms
from bot.sms_inbound import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    build_sms_signature,
    check_sms_signature,
    sms_routes,
)
from dialogs.catalog import Translator

SECRET = "gateway-shared-secret-for-tests"
SERVICE = "106980008899"
T = Translator("zh")
NOW = 1_760_000_000


def phone() -> str:
    return f"137{random.randrange(10**8):08d}"


def body_for(sender: str, text: str = "CXnobody99") -> bytes:
    return json.dumps({"from": sender, "to": SERVICE, "text": text}).encode()


def signed(body: bytes, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    timestamp = str(int(time.time()) if at is None else at)
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: build_sms_signature(secret, timestamp, body),
            "Content-Type": "application/json"}


# -- the pure check --------------------------------------------------------------------------------------

def test_a_good_signature_passes_in_the_window() -> None:
    body = body_for("15500000101")
    assert check_sms_signature(SECRET, signed(body, at=NOW), body, NOW + 299) is None
    assert check_sms_signature(SECRET, signed(body, at=NOW), body, NOW - 299) is None


@pytest.mark.parametrize(("headers", "body", "now", "why"), [
    ({}, b"{}", NOW, "required"),
    ({TIMESTAMP_HEADER: str(NOW)}, b"{}", NOW, "required"),
    ({TIMESTAMP_HEADER: "yesterday", SIGNATURE_HEADER: "00"}, b"{}", NOW, "Unix seconds"),
    (signed(b"{}", at=NOW), b"{}", NOW + 301, "seconds from"),
    (signed(b"{}", at=NOW), b"{}", NOW - 301, "seconds from"),
    (signed(b"{}", at=NOW), b'{"x":1}', NOW, "does not match"),  # body changed after signing
    (signed(b"{}", secret="another", at=NOW), b"{}", NOW, "does not match"),
    ({TIMESTAMP_HEADER: str(NOW + 1), SIGNATURE_HEADER: build_sms_signature(SECRET, str(NOW), b"{}")}, b"{}", NOW,
     "does not match"),  # timestamp changed after signing
])
def test_a_bad_signature_is_refused(headers: dict[str, str], body: bytes, now: int, why: str) -> None:
    assert why in (check_sms_signature(SECRET, headers, body, now) or "")


def test_real_gateway_without_secret_refuses_to_start() -> None:
    app = SimpleNamespace(settings=Settings(), services=SimpleNamespace(sms=HttpSms("http://gateway.invalid")))
    with pytest.raises(ConfigurationError, match="CREDITBOT_SMS_WEBHOOK_SECRET is required"):
        sms_routes(app)  # type: ignore[arg-type]
    app.settings = Settings(sms_webhook_secret=Secret(SECRET))
    assert sms_routes(app)  # type: ignore[arg-type]


# -- over HTTP -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("sms-signed") / "var", CREDITBOT_SMS_WEBHOOK_SECRET=SECRET)
    asyncio.run(proc.start())
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def client(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield c


async def inbox(client: httpx.AsyncClient, number: str) -> list[str]:
    return [m["text"] for m in (await client.get(f"/sandbox/phones/{number}/messages")).json()]


@pytest.mark.slow
async def test_signed_request_is_answered_by_sms(client: httpx.AsyncClient) -> None:
    sender = phone()
    body = body_for(sender)
    response = await client.post("/sms/inbound", content=body, headers=signed(body))
    assert response.status_code == 202 and response.json() == {"status": "accepted"}
    assert await inbox(client, sender) == [T("sms_query.not_matched")]


@pytest.mark.slow
async def test_forged_or_old_requests_text_nobody(client: httpx.AsyncClient) -> None:
    sender = phone()
    body = body_for(sender)
    attempts = [
        {"Content-Type": "application/json"},  # unsigned: the sandbox phone is not trusted once a secret is set
        signed(body, secret="guessed"),
        signed(body, at=int(time.time()) - 400),  # captured long ago
        signed(body_for(phone())),  # a signature made for another body
    ]
    for headers in attempts:
        response = await client.post("/sms/inbound", content=body, headers=headers)
        assert response.status_code == 401, headers
        assert "error" in response.json() and sender not in response.text
    assert await inbox(client, sender) == []


@pytest.mark.slow
async def test_an_exact_replay_is_refused(client: httpx.AsyncClient) -> None:
    sender = phone()
    body = body_for(sender)
    headers = signed(body)
    assert (await client.post("/sms/inbound", content=body, headers=headers)).status_code == 202
    replay = await client.post("/sms/inbound", content=body, headers=headers)
    assert replay.status_code == 401 and "already" in replay.json()["error"]
    assert len(await inbox(client, sender)) == 1
    await asyncio.sleep(1.1)  # the gateway's own retry signs again, with a new timestamp
    assert (await client.post("/sms/inbound", content=body, headers=signed(body))).status_code == 202
    assert len(await inbox(client, sender)) == 2
