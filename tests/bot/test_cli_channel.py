"""`creditbot chat` as a person uses it: a real process, lines in, text out; numbers pick buttons."""

from __future__ import annotations

import asyncio
import io
import os
import re
import sys
from pathlib import Path

import httpx
import pytest
from fakes import CAPTCHA, ENCRYPTION_KEY, P1
from procs import REPO, ServerProcess

from bot.cli_channel import Terminal, _from_body
from dialogs.catalog import Translator
from dialogs.types import Button, Document, Text

pytestmark = pytest.mark.slow


def test_number_picks_a_shown_button(tmp_path: Path) -> None:
    terminal = Terminal(io.StringIO(), tmp_path)
    terminal.show([Text("pick", (Button("A", "/a"), Button("B", "/b")))])
    assert terminal.to_message("2") == "/b"
    assert terminal.to_message("3") == "3"
    assert terminal.to_message("110105199003071239") == "110105199003071239"


def test_agent_replies_carry_the_agents_name_and_end_older_buttons(tmp_path: Path) -> None:
    out = io.StringIO()
    terminal = Terminal(out, tmp_path)
    terminal.show([Text("queued", (Button("返回机器人", "/bot"),))])
    terminal.show([_from_body({"recipient_id": "t", "text": "您好", "custom": {"agent": "小李"}})])
    assert "💬 小李> 您好" in out.getvalue()
    assert terminal.to_message("1") == "1"  # the [1] shown before the agent spoke is no longer offered


def test_outbox_body_keeps_buttons_and_secret_input() -> None:
    reply = _from_body({"text": "pick", "buttons": [{"title": "A", "payload": "/a"}], "custom": {"input": "secret"}})
    assert reply == Text("pick", (Button("A", "/a"),), secret_input=True)


def test_document_is_saved_with_its_name(tmp_path: Path) -> None:
    out = io.StringIO()
    Terminal(out, tmp_path).show([Document(b"%PDF-1.4", "个人信用报告_1.pdf", "报告")])
    assert (tmp_path / "个人信用报告_1.pdf").read_bytes() == b"%PDF-1.4"
    assert "个人信用报告_1.pdf" in out.getvalue()


class ChatProcess:
    def __init__(self, proc: asyncio.subprocess.Process, env: dict[str, str]) -> None:
        self.proc, self.env, self.seen = proc, env, ""

    async def send(self, line: str, expect: str, timeout: float = 20) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((line + "\n").encode())
        await self.proc.stdin.drain()
        return await self.read_until(expect, timeout)

    async def read_until(self, expect: str, timeout: float = 20) -> str:
        assert self.proc.stdout is not None
        start = len(self.seen)
        async with asyncio.timeout(timeout):
            while expect not in self.seen[start:]:
                chunk = await self.proc.stdout.read(4096)
                if not chunk:
                    break
                self.seen += chunk.decode(errors="replace")
        assert expect in self.seen[start:], self.seen[start:][-1500:]
        return self.seen[start:]

    async def code(self) -> str:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "sandbox", "inbox", P1["phone"],
                                                    cwd=REPO, env=self.env, stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        return re.findall(r"\d{6}", out.decode())[-1]


async def test_registration_in_the_terminal(tmp_path: Path) -> None:
    env = {**os.environ, "CREDITBOT_VAR_DIR": str(tmp_path), "CREDITBOT_ENCRYPTION_KEY": ENCRYPTION_KEY,
           "CREDITBOT_CAPTCHA_TEST_ANSWER": CAPTCHA, "CREDITBOT_LOG_LEVEL": "WARNING"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "chat", "--user", "t", cwd=REPO,
                                                env=env, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    chat = ChatProcess(proc, env)
    try:
        await chat.read_until("[1]")
        await chat.send("注册", "姓名")
        await chat.send(P1["name"], "[1] 居民身份证")
        await chat.send("1", "证件号码")
        out = await chat.send(P1["id_number"], "saved to")
        assert (tmp_path / "downloads" / "captcha.png").read_bytes().startswith(b"\x89PNG"), out
        await chat.send(CAPTCHA, "服务协议")
        await chat.send("1", "登录名")
        await chat.send("wangxm01", "密码")
        await chat.send("Abc12345!", "再次输入")
        await chat.send("Abc12345!", "手机号码")
        await chat.send("155 0000 0101", "验证码已发送")
        out = await chat.send(await chat.code(), "注册成功")
        assert "155****0101" in out and P1["id_number"] not in out
        await chat.send("取消", "当前没有正在进行的操作")
    finally:
        if proc.stdin:
            proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 20)
    assert proc.returncode == 0


AGENT_PASSWORD = "correct horse battery"
CONSOLE = {"X-Requested-With": "creditbot-console"}


async def _start_chat(env: dict[str, str], user: str) -> ChatProcess:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "chat", "--user", user, cwd=REPO,
                                                env=env, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    return ChatProcess(proc, env)


async def _waiting_cli_handoff(console: httpx.AsyncClient) -> int:
    for _ in range(100):
        queue = (await console.get("/agent/api/queue")).json()["handoffs"]
        waiting = [h["id"] for h in queue if h["channel"] == "cli" and h["status"] == "waiting"]
        if waiting:
            return int(waiting[0])
        await asyncio.sleep(0.1)
    raise AssertionError("the terminal's handoff never reached the queue")


async def test_agent_messages_and_hand_back_appear_while_the_person_waits(tmp_path: Path) -> None:
    """The person types nothing after asking for a person: the claim, the agent's words (under the
    agent's name) and the hand-back still appear, in order, and the numbers then pick the resumed step's
    buttons, not the old [1] 返回机器人."""
    t = Translator("zh")
    server = ServerProcess(tmp_path / "var", CREDITBOT_HANDOFF_WAIT=600)
    await server.start()
    chat: ChatProcess | None = None
    try:
        added = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "agent", "add", "--username", "li", "--display-name", "小李",
            "--password-stdin", cwd=REPO, env=server.env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        said, _ = await asyncio.wait_for(added.communicate((AGENT_PASSWORD + "\n").encode()), 60)
        assert added.returncode == 0, said
        chat = await _start_chat(server.env, "tester")
        await chat.read_until("[1]")
        await chat.send("注册", "姓名")
        await chat.send(P1["name"], "[1] 居民身份证")
        await chat.send("转人工", "[1] " + t("agent.back_button"))
        async with httpx.AsyncClient(base_url=server.url, headers=CONSOLE, timeout=30) as console:
            signed = await console.post("/agent/api/login", json={"username": "li", "password": AGENT_PASSWORD})
            assert signed.status_code == 200, signed.text
            handoff = await _waiting_cli_handoff(console)
            claimed = await console.post(f"/agent/api/handoffs/{handoff}/claim")
            assert claimed.json()["delivered"] is True
            await chat.read_until(t("agent.claimed", agent="小李"), timeout=10)
            replied = await console.post(f"/agent/api/handoffs/{handoff}/reply", json={"text": "您好，请继续"})
            assert replied.json()["delivered"] is True
            await chat.read_until("💬 小李> 您好，请继续", timeout=10)
            await console.post(f"/agent/api/handoffs/{handoff}/reply", json={"text": "最后一句"})
            assert (await console.post(f"/agent/api/handoffs/{handoff}/handback")).status_code == 200
            out = await chat.read_until("[1] 居民身份证", timeout=10)
        assert out.index("💬 小李> 最后一句") < out.index(t("agent.handed_back")) < out.index("[1] 居民身份证")
        out = await chat.send("1", "证件号码")
        assert t("agent.not_in_handoff") not in out
    finally:
        if chat is not None:
            if chat.proc.stdin:
                chat.proc.stdin.close()
            await asyncio.wait_for(chat.proc.wait(), 20)
        await server.astop()
