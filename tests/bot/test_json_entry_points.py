"""Every JSON entry point against a running `creditbot serve`, over real HTTP and WebSocket: lone
UTF-16 surrogates ("\\ud800", valid JSON escapes) get a normal answer or a clear 4xx, never a 500 or
a dropped connection; ids past the database's range are 404; what the web chat echoes of a frame's
title and file name is masked."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from procs import REPO, ServerProcess
from websockets.asyncio.client import ClientConnection, connect

from bot.json_in import parse_id, parse_json, parse_object, repair_text

pytestmark = pytest.mark.slow
HEADER = {"X-Requested-With": "creditbot-console", "Content-Type": "application/json"}
PASSWORD = "correct horse battery"
ID_NUMBER = "110105199003071239"
LONE = "\ud800"


def body(data: Any) -> str:
    """JSON with surrogates as \\u escapes, as a client would send them (ensure_ascii)."""
    return json.dumps(data)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("json") / "var", CREDITBOT_HANDOFF_WAIT=600)
    asyncio.run(proc.start())
    try:
        done = subprocess.run([sys.executable, "-m", "bot", "agent", "add", "--username", "zhao",
                               "--display-name", "小赵", "--password-stdin"], input=PASSWORD + "\n", cwd=REPO,
                              env=proc.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def client(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture
async def agent(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=HEADER) as c:
        signed = await c.post("/agent/api/login", content=body({"username": "zhao", "password": PASSWORD}))
        assert signed.status_code == 200, signed.text
        yield c


# -- the helper ---------------------------------------------------------------------------------


def test_every_string_is_repaired_keys_too() -> None:
    raw = body({"a\udc00": ["\ud83d\ude00", "x\ud800y", {"k": "\udfff"}], "n": 1})
    assert parse_json(raw) == {"a\ufffd": ["😀", "x\ufffdy", {"k": "\ufffd"}], "n": 1}
    assert repair_text('"\ud83d' + '\ude00"') == '"😀"'  # a pair split in two escapes is joined
    assert parse_object("[1]") is None and parse_object("{") is None and parse_object("[" * 100_000) is None
    assert parse_object(b"{}", limit=1) is None


@pytest.mark.parametrize("raw", ["99999999999999999999", "2147483648", "0", "-1", "+1", " 1", "1_0", "٣", "abc"])
def test_ids_outside_the_database_range_are_none(raw: str) -> None:
    assert parse_id(raw) is None


def test_ids_in_range_parse() -> None:
    assert parse_id("1") == 1 and parse_id("2147483647") == 2**31 - 1


# -- REST and SMS --------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    {"sender": LONE, "message": "hi"},
    {"sender": "s-" + secrets.token_hex(4), "message": "hi" + LONE},
    {"sender": "s-" + secrets.token_hex(4), "message": "hi", "metadata": {"locale": "\udc00"}},
    {"sender": "s-" + secrets.token_hex(4), "message": "",
     "attachment": {"filename": "a\ud800.png", "mime": "image/png\udc00",
                    "content_base64": base64.b64encode(b"\x89PNG").decode()}},
])
async def test_rest_webhook_answers_surrogates(client: httpx.AsyncClient, data: dict[str, Any]) -> None:
    response = await client.post("/webhooks/rest/webhook", content=body(data),
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), list)


async def test_rest_messages_of_a_repaired_sender(client: httpx.AsyncClient) -> None:
    response = await client.get("/webhooks/rest/messages/%ED%A0%80")  # a surrogate, UTF-8-encoded
    assert response.status_code in (200, 400, 404)


@pytest.mark.parametrize("data", [
    {"from": "13800000000", "to": "106980008899", "text": "CX" + LONE},
    {"from": LONE, "to": "106980008899", "text": "CX"},
    {"from": "13800000000", "to": LONE, "text": "CX"},
])
async def test_sms_inbound_answers_surrogates(client: httpx.AsyncClient, data: dict[str, Any]) -> None:
    response = await client.post("/sms/inbound", content=body(data), headers={"Content-Type": "application/json"})
    assert response.status_code in (202, 404, 422), response.text
    assert "error" in response.json() or response.json() == {"status": "accepted"}


async def test_sandbox_card_answers_surrogates(client: httpx.AsyncClient) -> None:
    response = await client.post("/sandbox/cards", content=body({"name": LONE, "card": "\udc00"}),
                                 headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.text


# -- the agents' console -----------------------------------------------------------------------


@pytest.mark.parametrize("data", [{"username": LONE, "password": PASSWORD},
                                  {"username": "zhao", "password": PASSWORD + LONE},
                                  {"username": "zh\udc00ao", "password": "\ud83d"}])
async def test_console_sign_in_refuses_surrogates_cleanly(server: ServerProcess, data: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=HEADER) as c:
        response = await c.post("/agent/api/login", content=body(data))
    assert response.status_code in (400, 401), response.text


@pytest.mark.parametrize("path", ["99999999999999999999", "2147483648", "-1", "0", "1e3"])
async def test_handoff_ids_past_the_database_are_404(agent: httpx.AsyncClient, path: str) -> None:
    base = f"/agent/api/handoffs/{path}"
    assert (await agent.get(base)).status_code == 404
    assert (await agent.get(base + "/transcript.txt")).status_code == 404
    for action in ("claim", "reply", "note", "handback", "close"):
        response = await agent.post(f"{base}/{action}", content=body({"text": "hi"}))
        assert response.status_code == 404, (action, response.text)


async def test_reply_and_note_with_surrogates(client: httpx.AsyncClient, agent: httpx.AsyncClient) -> None:
    sender = "s-" + secrets.token_hex(6)
    before = {h["id"] for h in (await agent.get("/agent/api/queue")).json()["handoffs"]}
    said = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": "人工"})
    assert said.status_code == 200
    for _ in range(50):
        new = [h for h in (await agent.get("/agent/api/queue")).json()["handoffs"] if h["id"] not in before]
        if new:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the handoff never reached the queue")
    one = f"/agent/api/handoffs/{new[0]['id']}"
    assert (await agent.post(one + "/claim")).status_code == 200
    reply = await agent.post(one + "/reply", content=body({"text": "您好" + LONE + "\ud83d\ude00"}))
    assert reply.status_code == 200, reply.text
    assert reply.json()["entry"]["text"] == "您好\ufffd😀"
    note = await agent.post(one + "/note", content=body({"text": "\udc00 note"}))
    assert note.status_code == 200, note.text
    assert (await agent.post(one + "/note", content=body({"text\ud800": 1}))).status_code < 500
    assert (await agent.post(one + "/reply", content="[" * 50_000)).status_code == 400
    assert (await agent.get(one)).status_code == 200
    assert (await agent.post(one + "/close")).status_code == 200


# -- the web chat ------------------------------------------------------------------------------


async def open_tab(server: ServerProcess) -> ClientConnection:
    ws = await connect(f"ws://127.0.0.1:{server.port}/ws/chat", max_size=None)
    await ws.send(json.dumps({"type": "hello", "session": secrets.token_hex(16), "after": 0, "lang": "zh"}))
    await until(ws, lambda f: f["type"] == "ready")
    return ws


async def until(ws: ClientConnection, done: Any, timeout: float = 15) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while not seen or not done(seen[-1]):
            seen.append(json.loads(await ws.recv()))
    return seen


async def turn(ws: ClientConnection, frame: dict[str, Any]) -> list[dict[str, Any]]:
    """Sends (surrogates as escapes) and returns the frames up to the turn's end."""
    await ws.send(body(frame))
    return await until(ws, lambda f: f["type"] == "error" or (f["type"] == "typing" and f["on"] is False))


def echoed(frames: list[dict[str, Any]]) -> list[str]:
    return [f["text"] for f in frames if f["type"] == "entry" and f.get("from") == "user"]


async def test_webchat_frames_with_surrogates_run_their_turn(server: ServerProcess) -> None:
    ws = await open_tab(server)
    frames = await turn(ws, {"type": "message", "id": "x", "text": "/register", "title": "\udc00"})
    assert echoed(frames) == ["\ufffd"]
    assert any(f["type"] == "entry" and f.get("from") == "bot" for f in frames)
    frames = await turn(ws, {"type": "message", "id": "y", "text": "帮助" + LONE})
    assert echoed(frames) and all("\ud800" not in t for t in echoed(frames))
    frames = await turn(ws, {"type": "message", "id\ud800": "z", "text": "hi"})  # a bad frame, said clearly
    assert frames[-1]["type"] == "error"
    await ws.close()


async def test_webchat_echo_masks_file_names_and_titles(server: ServerProcess) -> None:
    ws = await open_tab(server)
    name = f"身份证{ID_NUMBER}王小明.png"
    frames = await turn(ws, {"type": "file", "id": "f1", "name": name, "mime": "image/png",
                             "data_base64": base64.b64encode(b"\x89PNG fake").decode()})
    shown = echoed(frames)
    assert len(shown) == 1 and ID_NUMBER not in shown[0] and "110105" in shown[0] and shown[0].endswith(".png")
    frames = await turn(ws, {"type": "message", "id": "t1", "text": "/register", "title": f"证件 {ID_NUMBER}" * 5})
    shown = echoed(frames)
    assert len(shown) == 1 and ID_NUMBER not in shown[0] and len(shown[0]) <= 40
    await ws.close()
