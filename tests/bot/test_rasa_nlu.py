"""bot/rasa_nlu.py against a fake Rasa NLU server on 127.0.0.1: used when sure, bypassed when down,
slow, unsure or answering an intent the engine does not know."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from procs import free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.rasa_nlu import RasaNluRecogniser
from bot.wiring import App
from dialogs.engine import Engine
from dialogs.intents import Intent
from dialogs.registry import flows_by_id
from dialogs.types import Text, Turn


class FakeRasa:
    """POST /model/parse answers with `answer` (or an HTTP status, or after `delay`); keeps the texts."""

    def __init__(self) -> None:
        self.port = free_port()
        self.answer: dict[str, Any] | int = {}
        self.delay = 0.0
        self.texts: list[str] = []

    async def parse(self, request: Request) -> Response:
        self.texts.append((await request.json())["text"])
        await asyncio.sleep(self.delay)
        if isinstance(self.answer, int):
            return Response("boom", status_code=self.answer)
        return JSONResponse(self.answer)

    def says(self, intent: str, confidence: float) -> None:
        self.answer = {"text": "", "intent": {"name": intent, "confidence": confidence}, "entities": []}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    fake = FakeRasa()
    app = Starlette(routes=[Route("/model/parse", fake.parse, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=fake.port, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield fake
    server.should_exit = True
    await task


@pytest.fixture
async def recogniser(rasa: FakeRasa) -> AsyncIterator[RasaNluRecogniser]:
    rec = RasaNluRecogniser(rasa.url, threshold=0.6, timeout=0.5)
    yield rec
    await rec.aclose()


async def test_a_confident_answer_is_used(rasa: FakeRasa, recogniser: RasaNluRecogniser) -> None:
    rasa.says("bank_card", 0.91)
    assert await recogniser("我想让账户更安全") == Intent("bank_card", 0.91)
    assert rasa.texts == ["我想让账户更安全"]


@pytest.mark.parametrize(("rasa_intent", "engine_intent"), [("greet", "menu"), ("fetch_result", "my_requests")])
async def test_the_assistants_own_names_map_to_the_engines(rasa: FakeRasa, recogniser: RasaNluRecogniser,
                                                           rasa_intent: str, engine_intent: str) -> None:
    rasa.says(rasa_intent, 0.8)
    assert await recogniser("随便说点什么") == Intent(engine_intent, 0.8)


async def test_low_confidence_falls_back_to_the_keywords(rasa: FakeRasa, recogniser: RasaNluRecogniser) -> None:
    rasa.says("request_report", 0.41)
    assert await recogniser("我要注册") == Intent("register", 0.7)
    assert await recogniser("今天天气不错") is None


@pytest.mark.parametrize("intent", ["inform", "affirm", "nlu_fallback"])
async def test_intents_the_engine_does_not_have_fall_back(rasa: FakeRasa, recogniser: RasaNluRecogniser,
                                                          intent: str) -> None:
    rasa.says(intent, 0.99)
    assert await recogniser("登录") == Intent("login", 0.9)


@pytest.mark.parametrize("answer", [500, 404, {"unexpected": True}, {"intent": {"name": "login", "confidence": "x"}}])
async def test_errors_and_garbage_fall_back(rasa: FakeRasa, recogniser: RasaNluRecogniser, answer: Any) -> None:
    rasa.answer = answer
    assert await recogniser("登录") == Intent("login", 0.9)


async def test_a_slow_server_falls_back_after_the_timeout(rasa: FakeRasa, recogniser: RasaNluRecogniser) -> None:
    rasa.says("register", 0.99)
    rasa.delay = 2.0
    started = asyncio.get_running_loop().time()
    assert await recogniser("登录") == Intent("login", 0.9)
    assert asyncio.get_running_loop().time() - started < 1.5


async def test_a_server_that_is_down_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    rec = RasaNluRecogniser(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    try:
        assert await rec("log in please") == Intent("login", 0.7)
        assert await rec("help") == Intent("help", 0.9)
    finally:
        await rec.aclose()
    assert len([r for r in caplog.records if "Rasa NLU" in r.getMessage()]) == 1  # once per outage


async def test_the_engine_starts_the_flow_rasa_recognised(app: App, rasa: FakeRasa,
                                                          recogniser: RasaNluRecogniser) -> None:
    rasa.says("register", 0.93)
    engine = Engine(app.services, flows_by_id(), app.services.kv, recogniser=recogniser)
    replies = await engine.handle(Turn(channel="rest", conversation_id="rest:nlu", text="我是第一次来"))
    texts = "\n".join(r.text for r in replies if isinstance(r, Text))
    assert "开始注册" in texts
