"""The whole journey through the real engine with in-memory state: register to PDF."""

from __future__ import annotations

from fakes import P1, Chat, documents_of, login, register, texts_of, verify_card

from backend.clock import FixedClock
from bot.wiring import App


async def test_register_login_verify_request_and_fetch(app: App, chat: Chat, clock: FixedClock) -> None:
    await register(chat)
    replies = await login(chat)
    assert "登录成功" in texts_of(replies)
    assert "新手导航" in texts_of(replies)
    await chat.tap("/bank_card")
    replies = await verify_card(chat)
    assert "银行卡验证通过" in texts_of(replies), texts_of(replies)
    assert "6200 **** **** 0018" in texts_of(replies)
    replies = await chat.tap("/decision:open")
    assert "快捷查询已开通" in texts_of(replies)
    await chat.tap("/request_report")
    await chat.tap("/product:report")
    replies = await chat.say(await chat.last_code(P1["phone"]))
    assert "查询申请已提交" in texts_of(replies), texts_of(replies)
    clock.advance(61)
    assert await app.dispatcher.run_once() == 1
    pushed = await app.services.outbox.take("rest:tester")
    assert any("已生成" in m.get("text", "") for m in pushed), pushed
    replies = await chat.say(await chat.last_code(P1["phone"]))
    docs = documents_of(replies)
    assert docs and docs[0].data.startswith(b"%PDF"), texts_of(replies)
    assert await app.dispatcher.run_once() == 0
