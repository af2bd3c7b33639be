"""The REST channel with CREDITBOT_REST_TOKEN, over real HTTP: it trusts the "sender" it is told, so only
the holder of the token may speak (or read the outbox) as anyone; without a token production serves no REST.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from procs import ServerProcess

from backend.settings import Secret, Settings
from bot.web import rest_routes

TOKEN = "rest-client-token-for-tests"
GOOD = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("rest-token") / "var", CREDITBOT_REST_TOKEN=TOKEN)
    asyncio.run(proc.start())
    try:
        yield proc
    finally:
        proc.stop()


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": TOKEN},                       # no scheme
    {"Authorization": f"Basic {TOKEN}"},            # another scheme
    {"Authorization": f"Bearer {TOKEN}x"},          # one character more
    {"Authorization": f"Bearer {TOKEN[:-1]}"},      # one character less
    {"Authorization": "Bearer"},
])
async def test_without_the_token_nobody_speaks_or_reads_as_a_sender(server: ServerProcess,
                                                                   headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        said = await client.post("/webhooks/rest/webhook", json={"sender": "tok-a", "message": "注册"},
                                 headers=headers)
        read = await client.get("/webhooks/rest/messages/tok-a", headers=headers)
    for response in (said, read):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in response.json()["error"]
        assert TOKEN not in response.text


async def test_with_the_token_the_conversation_goes_on(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=GOOD) as client:
        first = await client.post("/webhooks/rest/webhook", json={"sender": "tok-b", "message": "注册"})
        assert first.status_code == 200
        assert any("姓名" in (reply.get("text") or "") for reply in first.json())
        assert (await client.get("/webhooks/rest/messages/tok-b")).status_code == 200
    assert TOKEN not in server.output()


def test_production_without_a_token_serves_no_rest_channel(caplog: pytest.LogCaptureFixture) -> None:
    production = Settings(env="production")
    app = SimpleNamespace(settings=production)
    with caplog.at_level(logging.WARNING, logger="bot.web"):
        assert rest_routes(app) == []  # type: ignore[arg-type]
    assert "CREDITBOT_REST_TOKEN" in caplog.text
    app.settings = Settings(env="production", rest_token=Secret(TOKEN))
    assert {route.path for route in rest_routes(app)} == {  # type: ignore[arg-type]
        "/webhooks/rest/webhook", "/webhooks/rest/messages/{sender}"}
    app.settings = Settings()  # the sandbox, for demos and tests: open
    assert len(rest_routes(app)) == 2  # type: ignore[arg-type]
