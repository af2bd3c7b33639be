"""Registration over real HTTP (REST channel of a running `creditbot serve`): whether a document already has
an account is told only after a solved captcha and a code texted to the phone, and nothing is kept then;
login names are looked up a limited number of times per conversation.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fakes import CAPTCHA
from flowkit import P2, P3
from procs import ServerProcess

from dialogs.catalog import Translator
from dialogs.flows.register import LOGIN_CHECKS_PER_HOUR

pytestmark = pytest.mark.slow
T = Translator("zh")
PASSWORD = "Abc12345!"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("register") / "var")
    asyncio.run(proc.start())
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def client(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield c


async def say(client: httpx.AsyncClient, sender: str, message: str) -> list[dict[str, Any]]:
    response = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": message})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in replies)


async def code_for(client: httpx.AsyncClient, phone: str) -> str:
    messages = (await client.get(f"/sandbox/phones/{phone}/messages")).json()
    return re.findall(r"\d{6}", messages[-1]["text"])[0]


async def register(client: httpx.AsyncClient, sender: str, person: dict[str, str], login: str,
                   phone: str | None = None) -> list[list[dict[str, Any]]]:
    """Every answer of a registration; returns the replies to each, the last to the SMS code."""
    phone = phone or person["phone"]
    answers = ["注册", person["name"], "/id_type:0", person["id_number"], CAPTCHA, "/agreement:accept", login,
               PASSWORD, PASSWORD, phone]
    replies = [await say(client, sender, answer) for answer in answers]
    return [*replies, await say(client, sender, await code_for(client, phone))]


async def test_a_registered_document_is_told_only_after_captcha_and_code(client: httpx.AsyncClient) -> None:
    first = await register(client, "reg-owner", P2, "lijg0001")
    assert "注册成功" in texts(first[-1])
    # Someone else types the same document: the same next question as for a new one, no word of an account.
    probe = await register(client, "reg-prober", P2, "lijg0002", phone=P3["phone"])
    new = [await say(client, "reg-new", answer) for answer in ("注册", P3["name"], "/id_type:0", P3["id_number"])]
    assert texts(probe[3]) == texts(new[3]) and T("register.captcha.prompt") in texts(probe[3])
    assert all(T("register.identity_taken") not in texts(r) for r in probe[:-1])
    assert T("register.identity_taken") in texts(probe[-1])
    assert {"/recover_login", "/reset_password"} <= {b["payload"] for m in probe[-1] for b in m.get("buttons", [])}
    # Nothing half-written: the login name chosen in the refused registration is still free.
    again = await register(client, "reg-new", P3, "lijg0002")
    assert "注册成功" in texts(again[-1])


async def test_login_names_are_not_looked_up_without_limit(client: httpx.AsyncClient) -> None:
    sender = "reg-login-prober"
    for answer in ("注册", P3["name"], "/id_type:0", P3["id_number"], CAPTCHA, "/agreement:accept"):
        await say(client, sender, answer)
    for _ in range(LOGIN_CHECKS_PER_HOUR):
        assert T("error.login_taken") in texts(await say(client, sender, "lijg0001"))  # taken: said, normally
    replies = await say(client, sender, "lijg0001")
    assert T("register.login_name.too_many") in texts(replies) and T("error.login_taken") not in texts(replies)
    replies = [await say(client, sender, answer) for answer in ("注册", P3["name"], "/id_type:0", P3["id_number"],
                                                                 CAPTCHA, "/agreement:accept", "lijg0001")]
    assert T("register.login_name.too_many") in texts(replies[-1])  # a new start in the same chat: still over
