"""The REST channel over HTTP against a running `creditbot serve`: the whole journey, restarts, backends."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes import CAPTCHA, P1
from procs import ServerProcess
from pypdf import PasswordType, PdfReader
from services import fresh_postgres, fresh_redis

pytestmark = pytest.mark.slow


class RestUser:
    def __init__(self, client: httpx.AsyncClient, base: str, sender: str) -> None:
        self.client, self.base, self.sender = client, base, sender

    async def say(self, message: str) -> list[dict[str, Any]]:
        response = await self.client.post(f"{self.base}/webhooks/rest/webhook",
                                          json={"sender": self.sender, "message": message})
        assert response.status_code == 200, response.text
        return response.json()

    async def code(self, phone: str) -> str:
        inbox = (await self.client.get(f"{self.base}/sandbox/phones/{phone}/messages")).json()
        return re.findall(r"\d{6}", inbox[-1]["text"])[0]

    async def pushed(self, timeout: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = (await self.client.get(f"{self.base}/webhooks/rest/messages/{self.sender}")).json()
            if messages:
                return messages
            await asyncio.sleep(0.2)
        return []


def text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


async def onboard(user: RestUser, person: dict[str, str] = P1, login: str = "wangxm01") -> None:
    """Register, log in, verify the bank card and decline quick query."""
    steps = ["注册", person["name"], "/id_type:0", person["id_number"], CAPTCHA, "/agreement:accept", login,
             "Abc12345!", "Abc12345!", person["phone"]]
    for step in steps:
        await user.say(step)
    assert "注册成功" in text(await user.say(await user.code(person["phone"])))
    for step in ["登录", login, "Abc12345!"]:
        await user.say(step)
    assert "登录成功" in text(await user.say(CAPTCHA))
    for step in ["/bank_card", person["card"], person["name"], "/id_type:0", person["id_number"], person["phone"]]:
        await user.say(step)
    await user.say(await user.code(person["phone"]))
    reply = await user.say(CAPTCHA)
    assert "银行卡验证通过" in text(reply), reply


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "var")
    try:
        await proc.start()
        yield proc
    finally:
        await proc.astop()


async def fetch_pdf(client: httpx.AsyncClient, messages: list[dict[str, Any]]) -> tuple[str, bytes]:
    attachment = next(m["attachment"] for m in messages if "attachment" in m)
    response = await client.get(attachment["url"])
    assert response.status_code == 200
    assert attachment["mime"] == "application/pdf"
    return attachment["filename"], response.content


async def test_whole_journey_over_rest(server: ServerProcess) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        user = RestUser(client, server.url, "alice")
        await onboard(user)
        await user.say("/decision:open")
        await user.say("我要查信用报告")
        reply = await user.say("/product:report")
        assert "动态码" in text(reply)
        reply = await user.say(await user.code(P1["phone"]))
        assert "查询申请已提交" in text(reply) and "北京时间" in text(reply)
        pushed = await user.pushed()
        assert "已生成" in text(pushed), pushed
        reply = await user.say(await user.code(P1["phone"]))
        filename, pdf = await fetch_pdf(client, reply)
        assert filename.endswith(".pdf") and "个人信用报告" in filename
        reader = PdfReader(io.BytesIO(pdf))
        assert reader.is_encrypted and reader.decrypt(P1["id_number"][-6:]) != PasswordType.NOT_DECRYPTED
        assert "证件号码的后六位" in text(reply) and P1["id_number"][-6:] not in text(reply)
        page_text = "".join(page.extract_text() for page in reader.pages)
        assert "个人信用报告" in page_text and "王小明" not in page_text
        assert re.search(r"110105\*+1239", page_text.replace(" ", "")), page_text[:500]
        reply = await user.say("我的申请")
        assert "已获取" in text(reply)
    assert_no_clear_personal_data(server)


def assert_no_clear_personal_data(server: ServerProcess) -> None:
    """Logs and the database file (with its WAL) hold masks and ciphertext only."""
    secrets = [P1["id_number"], P1["phone"], P1["card"], "Abc12345!", P1["name"]]
    log = server.output()
    stored = b"".join(p.read_bytes() for p in server.var_dir.glob("creditbot.db*"))
    for secret in secrets:
        assert secret not in log, f"{secret!r} in the server log"
        assert secret.encode() not in stored, f"{secret!r} stored in clear"


async def test_bad_requests_get_clear_errors(server: ServerProcess) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        url = f"{server.url}/webhooks/rest/webhook"
        assert (await client.post(url, content=b"not json")).status_code == 400
        assert (await client.post(url, json={"sender": "", "message": "hi"})).status_code == 400
        assert (await client.post(url, json={"sender": "x", "message": 5})).status_code == 400
        huge = await client.post(url, content=b'{"sender": "x", "message": "' + b"x" * 3_000_000 + b'"}')
        assert huge.status_code == 413 and "at most" in huge.json()["error"]
        missing = await client.get(f"{server.url}/files/not-a-token")
        assert missing.status_code == 404
        # A lone surrogate is valid JSON but no text encoder takes it: the turn still runs.
        for broken in ('{"sender": "s1", "message": "\\ud800"}', '{"sender": "s1", "message": "/register"}',
                       '{"sender": "s1", "message": "\\udc00\\u738b\\u5c0f\\u660e"}'):
            answer = await client.post(url, content=broken.encode(), headers={"Content-Type": "application/json"})
            assert answer.status_code == 200, answer.text
            assert answer.json() and all(m.get("text") for m in answer.json())
            assert "系统暂时出现问题" not in str(answer.json())


async def test_result_survives_a_restart_and_arrives_once(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path / "var", CREDITBOT_REPORT_DELAY=4)
    second = ServerProcess(tmp_path / "var", port=first.port, CREDITBOT_REPORT_DELAY=4)
    try:
        await first.start()
        async with httpx.AsyncClient(timeout=30) as client:
            user = RestUser(client, first.url, "bob")
            await onboard(user)
            await user.say("/decision:decline")
            await user.say("/request_report")
            reply = await user.say("/product:hint")
            assert "请选择身份验证方式" in text(reply), reply
            reply = await user.say("/method:bank_card")
            assert "银行卡验证" in text(reply), reply
            for step in [P1["card"], P1["name"], "/id_type:0", P1["id_number"], P1["phone"]]:
                await user.say(step)
            await user.say(await user.code(P1["phone"]))
            assert "查询申请已提交" in text(await user.say(CAPTCHA))
            await first.astop()
            await asyncio.sleep(5)  # the result falls due while nothing runs
            await second.start()
            pushed = await user.pushed()
            assert text(pushed).count("已生成") == 1, pushed
            await asyncio.sleep(1.5)
            assert await user.pushed(timeout=0.5) == []
    finally:
        await first.astop()
        await second.astop()


@pytest.mark.parametrize("backend", ["postgres+redis"])
async def test_journey_on_postgres_and_redis(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    async with fresh_postgres(request.config.getoption("--postgres")) as db_url, \
            fresh_redis(request.config.getoption("--redis")) as redis_url:
        proc = ServerProcess(tmp_path / "var", DATABASE_URL=db_url, REDIS_URL=redis_url)
        await proc.start()
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                user = RestUser(client, proc.url, "carol")
                await onboard(user)
                await user.say("/decision:open")
                await user.say("/request_report")
                await user.say("/product:summary")
                assert "查询申请已提交" in text(await user.say(await user.code(P1["phone"])))
                assert "已生成" in text(await user.pushed())
                reply = await user.say(await user.code(P1["phone"]))
                assert "个人信用信息概要" in text(reply)
                await fetch_pdf(client, reply)
        finally:
            await proc.astop()
