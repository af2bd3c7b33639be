"""`creditbot chat` as a person uses it: a real process, lines in, text out; numbers pick buttons."""

from __future__ import annotations

import asyncio
import io
import os
import re
import sys
from pathlib import Path

import pytest
from fakes import CAPTCHA, ENCRYPTION_KEY, P1
from procs import REPO

from bot.cli_channel import Terminal
from dialogs.types import Button, Document, Text

pytestmark = pytest.mark.slow


def test_number_picks_a_shown_button(tmp_path: Path) -> None:
    terminal = Terminal(io.StringIO(), tmp_path)
    terminal.show([Text("pick", (Button("A", "/a"), Button("B", "/b")))])
    assert terminal.to_message("2") == "/b"
    assert terminal.to_message("3") == "3"
    assert terminal.to_message("110105199003071239") == "110105199003071239"


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
