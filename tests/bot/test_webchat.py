"""The web chat's WebSocket protocol over a real socket against `creditbot serve`, and its pieces in-process."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from procs import ServerProcess
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bot.web import build_web
from bot.webchat import (MAX_FRAME, RATE_LIMIT, SESSION_HEADER, Connection, WebLog, WebRenderer, busy_key,
                         conversation_for, session_owns)
from bot.wiring import App
from dialogs.types import Button, Delete, Document, Image, Text, Typing

pytestmark = pytest.mark.slow

Frame = dict[str, Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("webchat") / "var")
    loop = asyncio.new_event_loop()  # a private loop: the tests' own loops are per function
    try:
        loop.run_until_complete(proc.start())
    finally:
        loop.close()
    yield proc
    proc.stop()


def new_session() -> str:
    return secrets.token_hex(16)


class Tab:
    """One browser tab's socket: collects the entries it was shown, in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.entries: list[Frame] = []
        self.frames: list[Frame] = []

    @classmethod
    async def open(cls, server: ServerProcess, session: str, after: int = 0, lang: str = "zh") -> Tab:
        tab = cls(await connect(f"ws://127.0.0.1:{server.port}/ws/chat", max_size=None))
        await tab.ws.send(json.dumps({"type": "hello", "session": session, "after": after, "lang": lang}))
        await tab.until(lambda f: f["type"] == "ready")
        return tab

    async def recv(self, timeout: float = 10) -> Frame:
        frame: Frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.frames.append(frame)
        if frame["type"] == "entry":
            self.entries.append(frame)
        return frame

    async def until(self, done: Callable[[Frame], bool], timeout: float = 15) -> Frame:
        async with asyncio.timeout(timeout):
            while not done(frame := await self.recv()):
                pass
        return frame

    async def send(self, text: str, client_id: str | None = None, **extra: Any) -> str:
        client_id = client_id or secrets.token_hex(4)
        await self.ws.send(json.dumps({"type": "message", "id": client_id, "text": text, **extra}))
        return client_id

    async def say(self, text: str, **extra: Any) -> list[Frame]:
        """Sends and waits for the turn to end (typing off comes after its entries)."""
        before = len(self.entries)
        await self.send(text, **extra)
        await self.until(lambda f: f["type"] == "typing" and f["on"] is False)
        return self.entries[before:]

    async def quiet(self, seconds: float = 1.0) -> list[Frame]:
        """Frames that arrive within `seconds` of silence."""
        got = []
        try:
            while True:
                got.append(await self.recv(seconds))
        except TimeoutError:
            return got

    @property
    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.entries]

    async def close(self) -> None:
        await self.ws.close()


async def test_reconnect_replays_what_was_missed_and_nothing_twice(server: ServerProcess) -> None:
    session = new_session()
    first = await Tab.open(server, session)
    await first.say("帮助")
    seen = first.seqs
    await first.close()
    other = await Tab.open(server, session)  # meanwhile another tab talks on
    assert other.seqs == seen  # a new tab replays the whole history
    await other.say("/menu")
    await other.close()
    again = await Tab.open(server, session, after=seen[-1])
    await again.quiet(0.5)
    assert again.seqs == [s for s in other.seqs if s > seen[-1]] and again.seqs
    assert len(set(again.seqs)) == len(again.seqs) == len(other.seqs) - len(seen)
    await again.close()


async def test_a_second_tab_sees_the_same_entries_live(server: ServerProcess) -> None:
    session = new_session()
    one, two = await Tab.open(server, session), await Tab.open(server, session)
    shown = await one.say("帮助")
    assert [e["from"] for e in shown][0] == "user" and any(e["from"] == "bot" for e in shown)
    await two.until(lambda f: f["type"] == "entry" and f["seq"] == shown[-1]["seq"])
    assert [(e["seq"], e["text"]) for e in two.entries] == [(e["seq"], e["text"]) for e in one.entries]
    await one.close()
    await two.close()


async def test_a_resent_message_id_is_acknowledged_but_runs_once(server: ServerProcess) -> None:
    tab = await Tab.open(server, new_session())
    first = await tab.say("帮助", client_id="m-1")
    assert first[0]["client_id"] == "m-1"
    await tab.send("帮助", client_id="m-1")
    later = await tab.quiet(1.0)
    assert [f["type"] for f in later] == ["ack"] and later[0]["id"] == "m-1"
    await tab.close()


async def test_a_button_is_echoed_by_its_title_and_markup_stays_text(server: ServerProcess) -> None:
    tab = await Tab.open(server, new_session())
    shown = await tab.say("/menu", title="主菜单")
    assert shown[0]["text"] == "主菜单"
    markup = '<img src=x onerror="alert(1)"> <script>alert(2)</script>'
    shown = await tab.say(markup)
    assert shown[0] == {**shown[0], "from": "user", "text": markup}  # stored as sent; the widget shows text
    await tab.close()


async def test_secret_answers_are_masked_in_the_log(server: ServerProcess) -> None:
    session = new_session()
    tab = await Tab.open(server, session)
    await tab.say("登录")
    asked = await tab.say("nobody01")
    assert asked[-1].get("secret_input") is True, asked
    shown = await tab.say("Sup3rSecret!")
    assert shown[0]["text"] == "••••••"
    await tab.close()
    replay = await Tab.open(server, session)
    assert "Sup3rSecret!" not in json.dumps(replay.entries, ensure_ascii=False)
    await replay.close()


async def test_files_get_the_rest_channels_checks(server: ServerProcess) -> None:
    tab = await Tab.open(server, new_session())
    await tab.ws.send(json.dumps({"type": "file", "id": "f1", "name": "x.p12", "mime": "application/x-pkcs12",
                                  "data_base64": "%%%"}))
    error = await tab.until(lambda f: f["type"] == "error")
    assert error["code"] == "bad_file" and error["id"] == "f1"
    content = base64.b64encode(b"\x30\x82 not a certificate").decode()
    await tab.ws.send(json.dumps({"type": "file", "id": "f2", "name": "x.p12", "mime": "application/x-pkcs12",
                                  "data_base64": content}))
    await tab.until(lambda f: f["type"] == "typing" and f["on"] is False)
    echo = next(e for e in tab.entries if e.get("client_id") == "f2")
    assert echo["text"] == "📎 x.p12"  # the file's name, so the person sees which one went
    await tab.close()


async def test_a_first_visit_is_greeted_once_with_the_menu(server: ServerProcess) -> None:
    session = new_session()
    one, two = await asyncio.gather(Tab.open(server, session), Tab.open(server, session))  # two tabs at once
    assert [e["from"] for e in one.entries] == ["bot", "bot"] and one.entries[1]["buttons"]
    assert one.entries[0]["lang"] == "zh"
    assert two.seqs == one.seqs  # the same greeting, not a second one
    await one.close()
    await two.close()
    again = await Tab.open(server, session)  # a reconnect does not greet again
    assert again.seqs == one.seqs
    await again.close()
    english = await Tab.open(server, new_session(), lang="en")
    assert english.entries[0]["lang"] == "en"  # the widget's language starts a new conversation
    await english.close()


async def test_entries_carry_the_conversations_language_after_the_turn(server: ServerProcess) -> None:
    tab = await Tab.open(server, new_session())
    shown = await tab.say("English")
    assert shown[0]["from"] == "user" and "lang" not in shown[0]
    assert {e["lang"] for e in shown[1:]} == {"en"}
    shown = await tab.say("中文")
    assert {e["lang"] for e in shown[1:]} == {"zh"}
    await tab.close()


class FakeSocket:
    """The server side of one WebSocket, in-process: a hello, then nothing until it is told to go."""

    def __init__(self, hello: Frame) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.incoming.put_nowait({"type": "websocket.receive", "text": json.dumps(hello)})
        self.sent: list[Frame] = []
        self.client = None  # as Starlette's WebSocket when the address is unknown

    async def accept(self) -> None:
        pass

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))
        if self.sent[-1]["type"] in ("ready", "typing"):
            self.incoming.put_nowait({"type": "websocket.disconnect"})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        pass


async def test_a_tab_connecting_mid_turn_is_told_a_turn_is_running(app: App) -> None:
    session = new_session()
    await app.services.kv.set(busy_key(conversation_for(session)), 1, ttl=60)  # as run_turn does meanwhile
    ws = FakeSocket({"type": "hello", "session": session, "after": 0, "lang": "zh"})
    await Connection(ws, app, WebLog(app.services.outbox, app.services.bus), WebRenderer(app.services.files),
                     lambda raw: "no files here").run()  # type: ignore[arg-type]
    kinds = [frame["type"] for frame in ws.sent]
    assert kinds[-2:] == ["ready", "typing"] and ws.sent[-1]["on"] is True
    assert kinds.count("entry") == 2  # the greeting: welcome and menu


async def test_a_tab_connecting_between_turns_hears_no_typing(app: App) -> None:
    ws = FakeSocket({"type": "hello", "session": new_session(), "after": 0, "lang": "en"})
    ws.incoming.put_nowait({"type": "websocket.disconnect"})
    await Connection(ws, app, WebLog(app.services.outbox, app.services.bus), WebRenderer(app.services.files),
                     lambda raw: "no files here").run()  # type: ignore[arg-type]
    assert "typing" not in [frame["type"] for frame in ws.sent]
    assert {frame.get("lang") for frame in ws.sent if frame["type"] == "entry"} == {"en"}


async def test_bad_frames_get_errors_then_the_socket_closes(server: ServerProcess) -> None:
    tab = await Tab.open(server, new_session())
    await tab.ws.send("not json")
    assert (await tab.recv())["code"] == "bad_frame"
    await tab.send("x" * 5000, client_id="long")
    error = await tab.recv()
    assert (error["code"], error["id"]) == ("too_long", "long")
    for _ in range(3):
        await tab.ws.send(json.dumps({"type": "message", "id": "bad id with spaces", "text": "hi"}))
    with pytest.raises(ConnectionClosed) as closed:
        await tab.until(lambda f: False)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_a_frame_too_large_closes_with_1009(server: ServerProcess) -> None:
    tab = await Tab.open(server, new_session())
    await tab.ws.send(json.dumps({"type": "message", "id": "big", "text": "x" * MAX_FRAME}))
    with pytest.raises(ConnectionClosed) as closed:
        await tab.until(lambda f: False)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_a_connection_without_hello_is_closed(server: ServerProcess) -> None:
    async with connect(f"ws://127.0.0.1:{server.port}/ws/chat") as ws:
        await ws.send(json.dumps({"type": "hello", "session": "short"}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_too_many_messages_are_refused_per_session(server: ServerProcess) -> None:
    session = new_session()
    one = await Tab.open(server, session)
    for _ in range(RATE_LIMIT):  # resends count too, and cost no turn: a quick way to the limit
        await one.send("/help", client_id="again")
    await one.send("/help", client_id="over")
    error = await one.until(lambda f: f["type"] == "error")
    assert error["code"] == "rate_limited" and error["id"] == "over"
    two = await Tab.open(server, session)  # another tab of the same session shares the limit
    await two.send("/help", client_id="other")
    assert (await two.until(lambda f: f["type"] == "error"))["code"] == "rate_limited"
    await one.close()
    await two.close()


async def test_the_widget_and_demo_page_are_served(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        page = await client.get("/")
        script = await client.get("/widget.js")
        style = await client.get("/widget.css")
    assert page.status_code == 200 and '<script src="/widget.js"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert script.headers["content-type"].startswith("text/javascript")
    assert "Talk to a person" in script.text and "人工客服" in script.text and "/*@I18N@*/" not in script.text
    assert "innerHTML" not in script.text and "insertAdjacentHTML" not in script.text  # B46
    assert style.status_code == 200 and ".cb-root" in style.text


# -- in-process ------------------------------------------------------------------------------


async def test_a_web_conversations_file_needs_its_session(app: App) -> None:
    session, files = new_session(), app.services.files
    web_token = await files.put(conversation_for(session), "r.pdf", "application/pdf", b"%PDF-1.7 x")
    rest_token = await files.put("rest:alice", "r.pdf", "application/pdf", b"%PDF-1.7 y")
    transport = httpx.ASGITransport(app=build_web(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get(f"/files/{web_token}")).status_code == 404
        wrong = await client.get(f"/files/{web_token}", headers={SESSION_HEADER: new_session()})
        assert wrong.status_code == 404
        right = await client.get(f"/files/{web_token}", headers={SESSION_HEADER: session})
        assert right.status_code == 200 and right.content.startswith(b"%PDF")
        assert right.headers["access-control-allow-origin"] == "*"
        assert (await client.get(f"/files/{rest_token}")).status_code == 200
        preflight = await client.options(f"/files/{web_token}")
        assert preflight.status_code == 204 and SESSION_HEADER in preflight.headers["access-control-allow-headers"]


@pytest.mark.parametrize(("conversation", "session", "owns"), [
    ("rest:alice", None, True),
    ("web:" + "0" * 32, None, False),
    ("web:" + "0" * 32, "not a session!", False),
])
def test_session_owns(conversation: str, session: str | None, owns: bool) -> None:
    assert session_owns(conversation, session) is owns


async def test_replies_become_log_entries(app: App) -> None:
    renderer = WebRenderer(app.services.files)
    bodies = await renderer.render("web:x", [
        Text("hi", (Button("OK", "/ok"),), secret_input=True), Text("hello", agent="Li"), Image(b"\x89PNG", "c"),
        Document(b"%PDF", "r.pdf", "cap"), Delete("m1"), Typing()])
    assert bodies[0] == {"from": "bot", "text": "hi", "buttons": [{"title": "OK", "payload": "/ok"}],
                         "secret_input": True}
    assert bodies[1] == {"from": "agent", "agent": "Li", "text": "hello"}
    assert bodies[2]["image"].startswith("data:image/png;base64,")
    assert bodies[3]["document"]["url"].startswith("/files/") and bodies[3]["text"] == "cap"
    assert len(bodies) == 4


async def test_proactive_messages_land_in_the_web_log(app: App) -> None:
    conversation = conversation_for(new_session())
    async with app.services.bus.subscribe(f"webchat:{conversation}") as subscription:
        delivery = await app.channels.send(conversation, [Text("你的报告已生成")])
        assert delivery.outcome == "sent"
        assert (await subscription.get(1.0)) is not None
    assert [body["text"] for _, body in await app.services.outbox.since(conversation)] == ["你的报告已生成"]



async def test_new_conversations_per_address_are_capped_but_known_ones_always_connect(tmp_path: Path) -> None:
    """A flood of fresh session ids would fill the database with greetings; the cap is a setting,
    high by default since a carrier's NAT puts many people behind one address."""
    proc = ServerProcess(tmp_path / "var", CREDITBOT_WEBCHAT_NEW_PER_ADDRESS=3)
    await proc.start()
    try:
        known = new_session()
        tabs = [await Tab.open(proc, s) for s in (known, new_session(), new_session())]
        refused = Tab(await connect(f"ws://127.0.0.1:{proc.port}/ws/chat"))
        await refused.ws.send(json.dumps({"type": "hello", "session": new_session(), "after": 0, "lang": "zh"}))
        error = await refused.until(lambda f: f["type"] == "error")
        assert error["code"] == "too_many_conversations" and "id" not in error
        with pytest.raises(ConnectionClosed) as closed:
            await refused.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        again = await Tab.open(proc, known)  # a conversation that exists is never refused
        assert again.seqs == tabs[0].seqs
        for tab in [*tabs, again]:
            await tab.close()
    finally:
        await proc.astop()
