"""Per-address limits over real HTTP against `creditbot serve`: X-Forwarded-For is believed only from the
proxies in CREDITBOT_TRUSTED_PROXIES, so by default a client cannot pick a new address for each attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from procs import ServerProcess

from bot.agent_console import CSRF_HEADER, CSRF_VALUE, LOGIN_LIMIT
from bot.web import VERIFY_LIMIT

pytestmark = pytest.mark.slow
NUMBER = "0" * 20


def serving(var: Path, **env: str) -> Iterator[ServerProcess]:
    proc = ServerProcess(var, **env)
    asyncio.run(proc.start())
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from serving(tmp_path_factory.mktemp("xff-default") / "var")


@pytest.fixture(scope="module")
def proxied_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from serving(tmp_path_factory.mktemp("xff-proxied") / "var", CREDITBOT_TRUSTED_PROXIES="127.0.0.1,::1")


def forwarded(i: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"203.0.113.{i % 250 + 1}", "X-Real-IP": f"198.51.100.{i % 250 + 1}",
            "Forwarded": f"for=192.0.2.{i % 250 + 1}"}


async def verify_statuses(server: ServerProcess, count: int) -> list[int]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        return [(await client.get(f"/reports/verify/{NUMBER}", headers=forwarded(i))).status_code
                for i in range(count)]


async def test_forwarded_addresses_do_not_escape_the_report_verify_limit(default_server: ServerProcess) -> None:
    statuses = await verify_statuses(default_server, VERIFY_LIMIT + 3)
    assert statuses[:VERIFY_LIMIT] == [404] * VERIFY_LIMIT
    assert statuses[VERIFY_LIMIT:] == [429] * 3


async def test_forwarded_addresses_do_not_escape_the_agent_sign_in_limit(default_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=default_server.url, timeout=30) as client:
        statuses = [(await client.post("/agent/api/login", json={"username": "nobody", "password": "wrong"},
                                       headers={CSRF_HEADER: CSRF_VALUE, **forwarded(i)})).status_code
                    for i in range(LOGIN_LIMIT + 2)]
    assert 429 not in statuses[:LOGIN_LIMIT]
    assert statuses[LOGIN_LIMIT:] == [429] * 2


async def test_a_trusted_proxy_is_believed(proxied_server: ServerProcess) -> None:
    # The proxy (here: loopback) vouches for each client's address: each is counted on its own.
    assert 429 not in await verify_statuses(proxied_server, VERIFY_LIMIT + 3)
