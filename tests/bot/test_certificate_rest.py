"""Certificate verification over the REST channel of a running `creditbot serve`: the JSON file upload."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes import CAPTCHA, P1
from procs import ServerProcess

from backend.sandbox_ca import issue_certificate
from bot.web import MAX_ATTACHMENT, MAX_BODY

pytestmark = pytest.mark.slow
PASSWORD = "证书密码2026"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "var")
    try:
        await proc.start()
        yield proc
    finally:
        await proc.astop()


def text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def upload(data: bytes, filename: str = "wang.p12") -> dict[str, str]:
    return {"filename": filename, "mime": "application/x-pkcs12", "content_base64": base64.b64encode(data).decode()}


async def test_certificate_upload_over_rest(server: ServerProcess) -> None:
    hook = f"{server.url}/webhooks/rest/webhook"
    async with httpx.AsyncClient(timeout=30) as client:

        async def post(body: dict[str, Any]) -> list[dict[str, Any]]:
            response = await client.post(hook, json={"sender": "wang", **body})
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        async def say(message: str) -> list[dict[str, Any]]:
            return await post({"message": message})

        for step in ["注册", P1["name"], "/id_type:0", P1["id_number"], CAPTCHA, "/agreement:accept", "wangxm01",
                     "Abc12345!", "Abc12345!", P1["phone"]]:
            await say(step)
        inbox = (await client.get(f"{server.url}/sandbox/phones/{P1['phone']}/messages")).json()
        assert "注册成功" in text(await say(re.findall(r"\d{6}", inbox[-1]["text"])[0]))
        for step in ["登录", "wangxm01", "Abc12345!"]:
            await say(step)
        assert "登录成功" in text(await say(CAPTCHA))

        assert "数字证书" in text(await say("/certificate"))
        p12 = issue_certificate(name=P1["name"], id_number=P1["id_number"], password=PASSWORD,
                                password_encoding="gb18030")
        assert "证书密码" in text(await post({"attachment": upload(p12)}))
        assert "姓名" in text(await say(PASSWORD))
        await say(P1["name"])
        await say("/id_type:0")
        assert "数字证书验证通过" in text(await say(P1["id_number"]))

        bad = [{"attachment": "not an object"}, {"attachment": {"filename": "x.p12", "content_base64": "%%%"}},
               {"attachment": {"content_base64": "AAAA"}},
               {"attachment": upload(b"\0" * (MAX_ATTACHMENT + 1))},
               {"message": "x" * (MAX_BODY + 10)},
               {"attachment": upload(b"\0" * (3 * MAX_ATTACHMENT))}]  # a 768 KB "certificate"
        for body in bad:
            response = await client.post(hook, json={"sender": "wang", **body})
            assert response.status_code in (400, 413), (body.keys(), response.text)
            assert "error" in response.json()
            if response.status_code == 413:  # says what is allowed, not "expected a JSON object"
                assert "256 KB" in response.json()["error"] and "64 KB" in response.json()["error"]
        statuses = [(await client.post(hook, json={"sender": "wang", **b})).status_code for b in bad[3:]]
        assert statuses == [413, 413, 413]  # too large is 413 whether the file is just over or far over
        padded = {"sender": "wang", "pad": "x" * (MAX_BODY + 10), "attachment": upload(b"\0" * 4)}
        response = await client.post(hook, json=padded)  # the file's allowance carries no other load
        assert response.status_code == 413, response.text
    assert PASSWORD not in server.output() and "Abc12345!" not in server.output()
