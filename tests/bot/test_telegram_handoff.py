"""A Telegram conversation handed to an agent: the fake Bot API plays the person, the console API the agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakebotapi import FakeBotApi
from procs import ServerProcess
from test_agent_console_http import Agent, add_agent
from test_telegram_e2e import TgUser, assert_plain_text, start_server, stop_server

from dialogs.catalog import Translator

pytestmark = pytest.mark.slow
T = Translator("zh")


@pytest.fixture
async def server(tmp_path: Path, fake: FakeBotApi) -> AsyncIterator[ServerProcess]:
    proc = await start_server(tmp_path, fake)
    await fake.wait_calls("deleteWebhook", 1, timeout=30)
    try:
        yield proc
    finally:
        await stop_server(proc)


async def test_telegram_handoff_to_the_console_and_back(server: ServerProcess, fake: FakeBotApi) -> None:
    assert (await asyncio.to_thread(add_agent, server, "li", "小李")).returncode == 0
    agent = Agent(server.url, "li")
    try:
        assert (await agent.sign_in()).status_code == 200
        user = TgUser(fake, server, chat_id=7001)
        await user.say("/start", expect="请选择")
        await user.tap("人工客服", expect="排在第 1 位")
        (item,) = await agent.queue()
        assert item["channel"] == "telegram" and "7001" not in str(item)

        mark = len(user.calls())
        assert (await agent.post(item["id"], "claim")).status_code == 200
        await user.settle(mark, expect=T("agent.claimed", agent="小李"))

        mark = len(user.sent())
        fake.user_message(user.chat_id, "我的手机是 13912345678，登录不了")
        await asyncio.sleep(1.0)
        assert not [c for c in user.sent()[mark:] if c.ok], "the bot must stay silent while the agent has it"
        shown = (await agent.show(item["id"])).json()
        assert shown["transcript"][-1]["text"] == "我的手机是 139****5678，登录不了"

        mark = len(user.calls())
        assert (await agent.post(item["id"], "reply", text="请稍等，我帮您查一下")).status_code == 200
        calls = await user.settle(mark, expect="请稍等")
        assert any(c.text == "💬 小李\n请稍等，我帮您查一下" for c in calls)

        mark = len(user.calls())
        assert (await agent.post(item["id"], "reply", text="<svg onload=alert(2)> *粗体* _x_")).status_code == 200
        calls = await user.settle(mark, expect="<svg onload=alert(2)>")  # B46: relayed as literal text
        assert any(c.text == "💬 小李\n<svg onload=alert(2)> *粗体* _x_" for c in calls)

        mark = len(user.calls())
        assert (await agent.post(item["id"], "handback")).status_code == 200
        await user.settle(mark, expect=T("agent.handed_back"))
        await user.say("登录", expect="登录名")  # the bot is back
        assert_plain_text(fake)
    finally:
        await agent.aclose()
