"""The agents' console API and its live events, against a running `creditbot serve` over real HTTP.

A person talks over the REST channel; agents are made with `creditbot agent add` (the command
itself, in a subprocess on the server's database) and use the console's JSON API and WebSocket
like the page does. Two processes sharing PostgreSQL and Redis show events crossing processes.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from fakes import CAPTCHA, P1
from procs import REPO, ServerProcess
from services import fresh_postgres, fresh_redis

from dialogs.catalog import Translator

pytestmark = pytest.mark.slow
T = Translator("zh")
HEADER = {"X-Requested-With": "creditbot-console"}
AGENT_PASSWORD = "correct horse battery"
ID_NUMBER = "110101199003077777"


def add_agent(server: ServerProcess, username: str, display: str, password: str = AGENT_PASSWORD) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "agent", "add", "--username", username,
                           "--display-name", display, "--password-stdin"], input=password + "\n", cwd=REPO,
                          env=server.env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("console") / "var", CREDITBOT_HANDOFF_WAIT=600)
    asyncio.run(proc.start())
    try:
        for username, name in (("li", "小李"), ("wang", "小王")):
            done = add_agent(proc, username, name)
            assert done.returncode == 0, done.stderr
        yield proc
    finally:
        proc.stop()


class Person:
    _seq = 0

    def __init__(self, client: httpx.AsyncClient, base: str) -> None:
        Person._seq += 1
        self.client, self.base = client, base
        self.sender = f"console-person-{time.monotonic_ns()}-{Person._seq}"

    async def say(self, message: str) -> list[dict[str, Any]]:
        response = await self.client.post(f"{self.base}/webhooks/rest/webhook",
                                          json={"sender": self.sender, "message": message})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def pushed(self, until: str | None = None, timeout: float = 10) -> list[dict[str, Any]]:
        """Proactive messages; with `until`, keeps collecting until one contains that text."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got += (await self.client.get(f"{self.base}/webhooks/rest/messages/{self.sender}")).json()
            if got and (until is None or any(until in m.get("text", "") for m in got)):
                return got
            await asyncio.sleep(0.1)
        return got


class Agent:
    def __init__(self, base: str, username: str) -> None:
        self.base, self.username = base, username
        self.client = httpx.AsyncClient(base_url=base, timeout=30, headers=HEADER)

    async def sign_in(self, password: str = AGENT_PASSWORD) -> httpx.Response:
        return await self.client.post("/agent/api/login", json={"username": self.username, "password": password})

    async def queue(self) -> list[dict[str, Any]]:
        response = await self.client.get("/agent/api/queue")
        assert response.status_code == 200, response.text
        return response.json()["handoffs"]  # type: ignore[no-any-return]

    async def post(self, handoff: int, action: str, **body: Any) -> httpx.Response:
        return await self.client.post(f"/agent/api/handoffs/{handoff}/{action}", json=body or None)

    async def show(self, handoff: int) -> httpx.Response:
        return await self.client.get(f"/agent/api/handoffs/{handoff}")

    async def aclose(self) -> None:
        await self.client.aclose()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as c:
        yield c


@pytest.fixture
async def li(server: ServerProcess) -> AsyncIterator[Agent]:
    agent = Agent(server.url, "li")
    assert (await agent.sign_in()).status_code == 200
    yield agent
    await agent.aclose()


@pytest.fixture
async def wang(server: ServerProcess) -> AsyncIterator[Agent]:
    agent = Agent(server.url, "wang")
    assert (await agent.sign_in()).status_code == 200
    yield agent
    await agent.aclose()


async def waiting_for(agent: Agent, before: set[int]) -> dict[str, Any]:
    for _ in range(50):
        new = [h for h in await agent.queue() if h["id"] not in before and h["status"] == "waiting"]
        if new:
            return new[0]
        await asyncio.sleep(0.1)
    raise AssertionError("the handoff never reached the queue")


async def test_agent_add_refuses_duplicates_and_short_passwords(server: ServerProcess) -> None:
    again = add_agent(server, "li", "someone")
    assert again.returncode == 2 and "exists" in again.stderr
    short = add_agent(server, "zhao", "小赵", "short")
    assert short.returncode == 2 and "12 characters" in short.stderr


async def test_sign_in_needs_the_console_header_and_the_right_password(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as plain:
        forged = await plain.post("/agent/api/login", json={"username": "li", "password": AGENT_PASSWORD})
        assert forged.status_code == 403  # a cross-site form cannot add the header
        assert (await plain.get("/agent/api/queue")).status_code == 401
    agent = Agent(server.url, "li")
    try:
        assert (await agent.sign_in("wrong password!")).status_code == 401
        response = await agent.sign_in()
        assert response.status_code == 200
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/agent" in cookie
        assert (await agent.client.get("/agent/api/me")).json()["agent"]["display_name"] == "小李"
        assert (await agent.client.post("/agent/api/logout")).status_code == 200
        agent.client.cookies.clear()
        assert (await agent.client.get("/agent/api/me")).status_code == 401
    finally:
        await agent.aclose()


def agent_admin(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "agent", *args], cwd=REPO, env=server.env,
                          capture_output=True, text=True, timeout=60)


async def test_disabling_an_agent_ends_their_open_session_at_once(server: ServerProcess) -> None:
    assert add_agent(server, "zhou", "小周").returncode == 0
    agent = Agent(server.url, "zhou")
    try:
        assert (await agent.sign_in()).status_code == 200
        assert (await agent.client.get("/agent/api/me")).status_code == 200
        done = agent_admin(server, "disable", "--username", "zhou")
        assert done.returncode == 0, done.stderr
        assert (await agent.client.get("/agent/api/me")).status_code == 401  # the server process sees it
        assert (await agent.sign_in()).status_code == 401
        assert "zhou\t小周\tdisabled" in agent_admin(server, "list").stdout
        assert agent_admin(server, "enable", "--username", "zhou").returncode == 0
        assert (await agent.sign_in()).status_code == 200
        missing = agent_admin(server, "disable", "--username", "nobody")
        assert missing.returncode == 2 and "no agent" in missing.stderr
    finally:
        await agent.aclose()


async def test_parallel_sign_ins_cannot_outrun_the_address_limit(tmp_path: Path) -> None:
    from bot.agent_console import LOGIN_LIMIT

    proc = ServerProcess(tmp_path / "var")
    await proc.start()
    try:
        assert add_agent(proc, "li", "小李").returncode == 0
        async with httpx.AsyncClient(base_url=proc.url, timeout=60, headers=HEADER) as client:
            attempts = [client.post("/agent/api/login", json={"username": "li", "password": f"guess {n}"})
                        for n in range(2 * LOGIN_LIMIT)]
            statuses = [r.status_code for r in await asyncio.gather(*attempts)]
            assert statuses.count(401) <= LOGIN_LIMIT and statuses.count(429) >= LOGIN_LIMIT
    finally:
        await proc.astop()


async def test_whole_handoff_over_http(server: ServerProcess, client: httpx.AsyncClient, li: Agent) -> None:
    person = Person(client, server.url)
    before = {h["id"] for h in await li.queue()}
    await person.say("/register")
    await person.say(P1["name"])
    await person.say("/id_type:0")
    await person.say(P1["id_number"])
    await person.say(CAPTCHA)
    await person.say("/agreement:accept")
    await person.say("wangxm77")
    await person.say("Abc12345!")  # a secret answer: the transcript must never show it
    replies = await person.say("人工")
    assert replies[-1]["text"] == T("agent.queued", position=1, minutes=10)

    item = await waiting_for(li, before)
    assert item["position"] >= 1 and item["flow"] == "register" and item["step"] == "password_confirm"
    assert item["channel"] == "rest" and item["lang"] == "zh" and "conversation_id" not in item

    claimed = await li.post(item["id"], "claim")
    assert claimed.status_code == 200, claimed.text
    assert T("agent.claimed", agent="小李") in [m["text"] for m in await person.pushed("小李")]

    assert await person.say(f"我的身份证是 {ID_NUMBER}，<img src=x onerror=alert(1)>") == []  # silent bot
    shown = await li.show(item["id"])
    raw = shown.text
    for secret in (ID_NUMBER, "Abc12345!", P1["id_number"], P1["name"]):
        assert secret not in raw, secret
    lines = shown.json()["transcript"]
    assert ("user", "••••••") in [(x["author"], x["text"]) for x in lines]
    assert lines[-1]["text"] == "我的身份证是 110101********7777，<img src=x onerror=alert(1)>"

    download = await li.client.get(f"/agent/api/handoffs/{item['id']}/transcript.txt")
    assert download.headers["content-type"] == "text/plain; charset=utf-8"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "attachment" in download.headers["content-disposition"]
    assert "<img src=x onerror=alert(1)>" in download.text and ID_NUMBER not in download.text

    canned = (await li.client.get("/agent/api/canned", params={"lang": "zh"})).json()["canned"]
    greeting = next(c["text"] for c in canned if c["key"] == "canned.greeting")
    assert (await li.post(item["id"], "reply", text=greeting)).status_code == 200
    got = await person.pushed(greeting)
    assert {"text": greeting, "custom": {"agent": "小李"}}.items() <= next(
        m for m in got if m["text"] == greeting).items()

    assert (await li.post(item["id"], "note", text="内部：客户在注册第二步")).status_code == 200
    back = await li.post(item["id"], "handback")
    assert back.status_code == 200, back.text
    texts = [m["text"] for m in await person.pushed(T("register.password_confirm.prompt"))]
    assert "内部：客户在注册第二步" not in str(texts)  # notes never reach the person
    assert texts[-2:] == [T("agent.handed_back"), T("register.password_confirm.prompt")]
    replies = await person.say("Abc12345!")
    assert replies[-1]["text"] == T("register.phone.prompt")  # the flow went on where it stood
    assert (await li.post(item["id"], "reply", text="还在吗")).status_code == 409


async def test_two_agents_race_for_one_conversation(server: ServerProcess, client: httpx.AsyncClient,
                                                    li: Agent, wang: Agent) -> None:
    before = {h["id"] for h in await li.queue()}
    person = Person(client, server.url)
    await person.say("human")
    item = await waiting_for(li, before)
    first, second = await asyncio.gather(li.post(item["id"], "claim"), wang.post(item["id"], "claim"))
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    loser = wang if second.status_code == 409 else li
    winner = li if loser is wang else wang
    assert (await loser.show(item["id"])).status_code == 403
    assert (await loser.post(item["id"], "reply", text="我来")).status_code == 403
    assert (await winner.post(item["id"], "close")).status_code == 200
    assert T("agent.closed") in [m["text"] for m in await person.pushed(T("agent.closed"))]


async def test_an_old_handoff_id_never_opens_the_conversations_later_life(
        server: ServerProcess, client: httpx.AsyncClient, li: Agent, wang: Agent) -> None:
    """Transcripts live per conversation; access and reach go by the handoff an agent holds or held."""
    person = Person(client, server.url)
    before = {h["id"] for h in await li.queue()}
    await person.say("人工")
    abandoned = await waiting_for(li, before)
    await person.say("返回机器人")  # ended with no agent: nobody's to read
    assert (await wang.show(abandoned["id"])).status_code == 409
    transcript = await wang.client.get(f"/agent/api/handoffs/{abandoned['id']}/transcript.txt")
    assert transcript.status_code == 409

    await person.say("转人工")
    second = await waiting_for(li, before | {abandoned["id"]})
    assert (await li.post(second["id"], "claim")).status_code == 200
    await li.post(second["id"], "reply", text="李的第一句")
    await person.say("只对小李说的话")
    assert (await wang.show(abandoned["id"])).status_code == 409
    assert (await wang.show(second["id"])).status_code == 403
    assert (await li.post(second["id"], "close")).status_code == 200
    assert "只对小李说的话" in (await li.show(second["id"])).text  # the holder may review it

    await person.say("客服")
    third = await waiting_for(wang, before | {abandoned["id"], second["id"]})
    assert (await wang.post(third["id"], "claim")).status_code == 200
    await person.say("这句只给小王")
    await wang.post(third["id"], "reply", text="王的回答")
    review = await li.show(second["id"])
    assert review.status_code == 200
    assert "这句只给小王" not in review.text and "王的回答" not in review.text
    assert (await li.show(third["id"])).status_code == 403
    assert (await wang.post(third["id"], "close")).status_code == 200


async def test_state_changes_need_the_console_header(server: ServerProcess, li: Agent) -> None:
    cookies = li.client.cookies
    async with httpx.AsyncClient(base_url=server.url, timeout=30, cookies=cookies) as forged:
        assert (await forged.post("/agent/api/handoffs/1/claim")).status_code == 403
        assert (await forged.post("/agent/api/logout")).status_code == 403


async def events(url: str, cookie: str) -> Any:
    ws_url = url.replace("http://", "ws://") + "/agent/ws"
    return await websockets.connect(ws_url, additional_headers={"Cookie": cookie}, open_timeout=10)


async def next_event(socket: Any, kind: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = json.loads(await asyncio.wait_for(socket.recv(), deadline - time.monotonic()))
        if event["type"] == kind:
            return event  # type: ignore[no-any-return]
    raise AssertionError(f"no {kind} event")


def cookie_of(agent: Agent) -> str:
    return "; ".join(f"{name}={value}" for name, value in agent.client.cookies.items())


async def test_live_events_reach_the_console_and_need_a_session(server: ServerProcess, client: httpx.AsyncClient,
                                                               li: Agent) -> None:
    with pytest.raises(websockets.InvalidStatus):
        await events(server.url, "creditbot_agent=forged")
    socket = await events(server.url, cookie_of(li))
    try:
        person = Person(client, server.url)
        await person.say("客服")
        queued = await next_event(socket, "queue")
        assert await li.post(queued["handoff"], "claim")
        await person.say("您好，请问报告多久出来？")
        entry = await next_event(socket, "entry")
        assert entry == {"type": "entry", "handoff": queued["handoff"]}
        assert (await li.post(queued["handoff"], "handback")).status_code == 200
    finally:
        await socket.close()


async def test_events_cross_server_processes_through_redis(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The person's process and the agent's console process differ; the console still hears live."""
    async with fresh_postgres(request.config.getoption("--postgres")) as db_url, \
            fresh_redis(request.config.getoption("--redis")) as redis_url:
        shared = {"DATABASE_URL": db_url, "REDIS_URL": redis_url, "CREDITBOT_HANDOFF_WAIT": 600}
        front = ServerProcess(tmp_path / "front", **shared)
        console = ServerProcess(tmp_path / "console", **shared)
        await front.start()
        await console.start()
        try:
            assert add_agent(console, "li", "小李").returncode == 0
            agent = Agent(console.url, "li")
            assert (await agent.sign_in()).status_code == 200
            socket = await events(console.url, cookie_of(agent))
            try:
                async with httpx.AsyncClient(timeout=30) as client:
                    person = Person(client, front.url)
                    await person.say("转人工")
                    queued = await next_event(socket, "queue")
                    assert (await agent.post(queued["handoff"], "claim")).status_code == 200
                    await person.say("报告什么时候出来")
                    assert (await next_event(socket, "entry"))["handoff"] == queued["handoff"]
                    assert (await agent.post(queued["handoff"], "reply", text="大约24小时")).status_code == 200
                    assert "大约24小时" in [m["text"] for m in await person.pushed("大约24小时")]
            finally:
                await socket.close()
                await agent.aclose()
        finally:
            await front.astop()
            await console.astop()
