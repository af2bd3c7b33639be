"""The Telegram channel end to end: a real `creditbot serve` process talks to the fake Bot API.

The fake (tests/fakebotapi.py) runs in the test's event loop on 127.0.0.1 and plays the user; the
product runs as a subprocess pointed at it with TELEGRAM_BASE_URL. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import copy
import io
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakebotapi import Call, FakeBotApi
from fakes import CAPTCHA, P1
from procs import ServerProcess, free_port
from pypdf import PasswordType, PdfReader

pytestmark = pytest.mark.slow

SENDING = ("sendmessage", "sendphoto", "senddocument", "sendsticker")
QUIET = 0.35  # a turn's replies go out back to back; this long without a call means the turn is over


# --------------------------------------------------------------------------- driver


class TgUser:
    """One Telegram user in a private chat with the bot, driven through the fake Bot API."""

    def __init__(self, fake: FakeBotApi, server: ServerProcess, chat_id: int, first_name: str = "小明") -> None:
        self.fake, self.server, self.chat_id, self.first_name = fake, server, chat_id, first_name
        self.taps: list[str] = []  # callback_query ids of every tap
        self.last_message_id: int | None = None

    # -- what the bot sent ---------------------------------------------------------------------

    def calls(self) -> list[Call]:
        return self.fake.calls_to(self.chat_id)

    def sent(self) -> list[Call]:
        return self.fake.sent_to(self.chat_id)

    def texts(self) -> list[str]:
        return [t or "" for t in self.fake.texts_to(self.chat_id)]

    # -- what the user does ----------------------------------------------------------------------

    async def say(self, text: str, expect: str | None = None, timeout: float = 15) -> list[Call]:
        mark = len(self.calls())
        update_id = self.fake.user_message(self.chat_id, text, first_name=self.first_name)
        self.last_message_id = self.fake.user_message_id(update_id)
        return await self.settle(mark, expect, timeout)

    async def tap(self, title: str, expect: str | None = None, timeout: float = 15) -> list[Call]:
        """Press the button titled `title` (substring) on the newest bot message that has it."""
        message_id, data = self.button(title)
        mark = len(self.calls())
        _update_id, cq_id = self.fake.user_callback(self.chat_id, data, message_id=message_id,
                                                    first_name=self.first_name)
        self.taps.append(cq_id)
        return await self.settle(mark, expect, timeout)

    def button(self, title: str) -> tuple[int, str]:
        """(message_id, callback_data) of the newest inline button whose text contains `title`."""
        for call in reversed(self.sent()):
            markup = call.params.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    if title in button["text"]:
                        return call.result["message_id"], button["callback_data"]
        raise AssertionError(f"no button {title!r} in chat {self.chat_id}; last texts: {self.texts()[-3:]}")

    async def settle(self, mark: int, expect: str | None = None, timeout: float = 15) -> list[Call]:
        """Calls made after `mark` once the bot answered (with `expect` in a text) and went quiet."""

        def answered() -> bool:
            new = self.calls()[mark:]
            if not any(c.ok and c.method.lower() in SENDING for c in new):
                return False
            return expect is None or any(expect in (c.text or "") for c in new if c.ok)

        try:
            await self.fake.wait_for(answered, timeout, chat_id=self.chat_id)
        except TimeoutError as exc:
            raise AssertionError(f"no answer{f' with {expect!r}' if expect else ''} in chat {self.chat_id}: "
                                 f"{[c.text for c in self.calls()[mark:]]}\n{self.server.output()[-3000:]}") \
                from exc
        await self.quiet()
        return self.calls()[mark:]

    async def quiet(self, period: float = QUIET, limit: float = 15) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            count = len(self.calls())
            try:
                await self.fake.wait_for(lambda: len(self.calls()) > count, period, chat_id=self.chat_id)
            except TimeoutError:
                return
        raise AssertionError(f"chat {self.chat_id} never went quiet")

    async def code(self, phone: str = P1["phone"]) -> str:
        async with httpx.AsyncClient(timeout=10) as client:
            inbox = (await client.get(f"{self.server.url}/sandbox/phones/{phone}/messages")).json()
        return re.findall(r"\d{6}", inbox[-1]["text"])[0]

    async def say_secret(self, text: str, expect: str | None = None) -> list[Call]:
        """A password, card number or code: the bot must delete the user's message."""
        calls = await self.say(text, expect)
        message_id = self.last_message_id
        deletes = [c for c in calls if c.method == "deleteMessage" and c.params.get("message_id") == message_id]
        assert deletes and deletes[0].ok, f"message {message_id} with a secret was not deleted: {calls}"
        assert self.fake.is_deleted(self.chat_id, message_id)  # type: ignore[arg-type]
        return calls


def texts_of(calls: list[Call]) -> str:
    return "\n".join(c.text or "" for c in calls if c.ok and c.method.lower() in SENDING)


def assert_plain_text(fake: FakeBotApi) -> None:
    """B08: no parse mode anywhere, so user-controlled `_` and `*` can never break a message."""
    for call in fake.calls:
        if call.method.lower() in SENDING or call.method.lower().startswith("edit"):
            assert "parse_mode" not in call.params, call
            assert call.ok, f"{call.method} failed: {call.status} {call.description}"


async def register(user: TgUser, login: str = "wangxm01", person: dict[str, str] = P1) -> list[Call]:
    await user.say("注册", expect="请输入您的姓名")
    await user.say(person["name"], expect="证件类型")
    await user.tap("居民身份证", expect="证件号码")
    calls = await user.say(person["id_number"])
    photos = [c for c in calls if c.method == "sendPhoto" and c.ok]
    assert photos and photos[0].file["content"].startswith(b"\x89PNG"), "the captcha must arrive as a photo"
    await user.say(CAPTCHA, expect="服务协议")
    await user.tap("同意", expect="登录名")
    await user.say(login, expect="设置密码")
    await user.say_secret("Abc12345!", expect="再次输入密码")
    await user.say_secret("Abc12345!", expect="手机号码")
    await user.say(person["phone"], expect="验证码")
    return await user.say_secret(await user.code(person["phone"]), expect="注册成功")


async def log_in(user: TgUser, login: str = "wangxm01") -> None:
    await user.tap("登录", expect="登录名")
    await user.say(login, expect="密码")
    calls = await user.say_secret("Abc12345!")
    assert any(c.method == "sendPhoto" and c.ok for c in calls), "log-in captcha must arrive as a photo"
    await user.say(CAPTCHA, expect="登录成功")


# --------------------------------------------------------------------------- fixtures


async def stop_server(proc: ServerProcess, timeout: float = 15) -> None:
    """SIGTERM and wait without blocking the loop: the fake, in this loop, must answer the bot's
    last calls while it shuts down. A clean stop is part of the contract."""
    if proc.proc is None or proc.proc.poll() is not None:
        return
    proc.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while proc.proc.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if proc.proc.poll() is None:
        proc.stop(signal.SIGKILL)
        raise AssertionError(f"creditbot serve did not stop within {timeout} s:\n{proc.output()[-3000:]}")
    assert proc.proc.returncode == 0, proc.output()[-3000:]
    assert "Traceback" not in proc.output(), proc.output()[-4000:]


async def start_server(tmp_path: Path, fake: FakeBotApi, **env: Any) -> ServerProcess:
    proc = ServerProcess(tmp_path / "var", TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_BASE_URL=fake.root_url,
                         CREDITBOT_REPORT_DELAY=3, **env)
    await proc.start(timeout=60)
    return proc


@pytest.fixture
async def server(tmp_path: Path, fake: FakeBotApi) -> AsyncIterator[ServerProcess]:
    proc = await start_server(tmp_path, fake)
    # Polling starts right after the HTTP port opens; updates queued before then wait in the fake.
    await fake.wait_calls("deleteWebhook", 1, timeout=30)
    try:
        yield proc
    finally:
        await stop_server(proc)


# --------------------------------------------------------------------------- the journey


async def test_whole_journey_polling(server: ServerProcess, fake: FakeBotApi) -> None:
    user = TgUser(fake, server, chat_id=5_550_001)
    assert fake.webhook is None
    await register(user)
    await log_in(user)
    await user.tap("银行卡验证", expect="银行卡号")
    await user.say_secret(P1["card"], expect="持卡人姓名")
    await user.say(P1["name"], expect="证件类型")
    await user.tap("居民身份证", expect="证件号码")
    await user.say(P1["id_number"], expect="预留的手机号码")
    await user.say(P1["phone"], expect="验证码")
    calls = await user.say_secret(await user.code(), expect="上图")
    assert any(c.method == "sendPhoto" and c.ok for c in calls)
    await user.say(CAPTCHA, expect="银行卡验证通过")
    await user.tap("开通快捷查询", expect="快捷查询已开通")
    await user.say("我要查信用报告", expect="请选择信用信息产品")
    await user.tap("个人信用报告", expect="动态码")
    code = await user.code()
    asked = time.monotonic()
    submitted = await user.say_secret(code, expect="查询申请已提交")
    assert "北京时间" in texts_of(submitted)

    # The result notice comes on its own after CREDITBOT_REPORT_DELAY (3 s) through the dispatcher.
    mark = len(user.calls())
    notice = await user.settle(mark, expect="已生成", timeout=30)
    assert "身份验证码" in texts_of(notice)
    first_notice = next(c for c in notice if c.ok and c.method == "sendMessage")
    assert first_notice.at - asked >= 2.9, "the result must not come before the report delay"
    delivered = await user.say_secret(await user.code(), expect="PDF")
    documents = [c for c in delivered if c.method == "sendDocument" and c.ok]
    assert len(documents) == 1, delivered
    upload = documents[0].file
    assert upload is not None
    assert re.fullmatch(r"个人信用报告_[\w-]+\.pdf", upload["filename"]), upload["filename"]  # B13
    assert upload["content_type"] == "application/pdf"
    assert upload["content"].startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(upload["content"]))
    assert reader.is_encrypted and reader.decrypt(P1["id_number"][-6:]) != PasswordType.NOT_DECRYPTED
    pdf_text = "".join(page.extract_text() for page in reader.pages)
    assert "个人信用报告" in pdf_text
    assert any(c.method == "sendChatAction" and c.params.get("action") == "upload_document" for c in delivered)

    # Every tap was answered exactly once; nothing was sent with a parse mode; nothing failed.
    for cq_id in user.taps:
        assert fake.callback_queries[cq_id]["answered"], cq_id
    assert fake.count_calls("answerCallbackQuery", ok_only=True) == len(user.taps)
    assert_plain_text(fake)
    assert sum("身份验证码已发送至" in t for t in user.texts()) == 1, "the result notice must come once"


# --------------------------------------------------------------------------- webhook mode (B16)


def _copy_update(fake: FakeBotApi, update_id: int, new_id: int, text: str) -> dict[str, Any]:
    update = copy.deepcopy(fake.updates_by_id[update_id])
    update["update_id"] = new_id
    update["message"]["text"] = text
    update["message"]["message_id"] += 1000 + new_id % 1000
    return update


async def test_webhook_mode_secret_and_dedup(tmp_path: Path, fake: FakeBotApi) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    proc = ServerProcess(tmp_path / "var", port=port, TELEGRAM_BOT_TOKEN=fake.token,
                         TELEGRAM_BASE_URL=fake.root_url, TELEGRAM_WEBHOOK_URL=url)
    await proc.start(timeout=60)
    try:
        await fake.wait_calls("setWebhook", 1, timeout=30)
        assert fake.webhook is not None and fake.webhook["url"] == url
        secret = fake.webhook["secret_token"]
        assert secret and re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret), secret
        assert fake.token not in secret and fake.token.split(":")[1] not in secret
        assert fake.count_calls("getUpdates") == 0

        # An ordinary message is delivered by the fake with the secret and answered.
        user = TgUser(fake, proc, chat_id=5_550_100)
        await user.say("帮助", expect="可用指令")
        first = user.calls()[-1]
        assert fake.deliveries[-1].status == 200

        # Wrong or missing secret: 403 and the update is not handled.
        update = _copy_update(fake, max(fake.updates_by_id), 900_001, "注册")
        assert await fake.post_update_raw(update, secret_token="not-the-secret") == 403
        assert await fake.post_update_raw(update, secret_token=None) == 403
        async with httpx.AsyncClient(timeout=10) as client:
            bare = await client.post(url, json=update)
            assert bare.status_code == 403
            assert "注册" not in bare.text
        await asyncio.sleep(1.0)
        assert user.calls()[-1] is first, "an update with a wrong secret was processed"

        # Redelivery of the same update_id while the bot is slow: 200 fast both times, handled once.
        fake.method_delays["sendMessage"] = 1.0
        mark = len(user.calls())
        started = time.monotonic()
        assert await fake.post_update_raw(update) == 200
        assert time.monotonic() - started < 0.9, "the webhook must answer before the turn is done"
        assert await fake.post_update_raw(update) == 200
        await user.settle(mark, expect="请输入您的姓名", timeout=20)
        fake.method_delays.clear()
        assert await fake.post_update_raw(update) == 200
        await asyncio.sleep(1.0)
        replies = [c.text or "" for c in user.calls()[mark:] if c.ok and c.method.lower() in SENDING]
        assert len(replies) == 2 and "开始注册" in replies[0] and "请输入您的姓名" in replies[1], replies

        # A body that is not an update is refused without harm.
        async with httpx.AsyncClient(timeout=10) as client:
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
            assert (await client.post(url, content=b"not json", headers=headers)).status_code == 400
            assert (await client.post(url, json=[1, 2], headers=headers)).status_code == 400
            assert (await client.get(url)).status_code == 405
        assert_plain_text(fake)
    finally:
        await stop_server(proc)


# --------------------------------------------------------------------------- B06


async def test_b06_callback_answered_while_previous_turn_is_slow(server: ServerProcess, fake: FakeBotApi) -> None:
    user = TgUser(fake, server, chat_id=5_550_200)
    await user.say("注册", expect="请输入您的姓名")
    await user.say(P1["name"], expect="证件类型")
    await user.tap("居民身份证", expect="证件号码")
    slow = 3.0
    fake.method_delays["sendPhoto"] = slow
    fake.user_message(user.chat_id, P1["id_number"])  # its answer is a (slow) captcha photo
    await asyncio.sleep(0.3)
    _message_id, data = user.button("居民身份证")  # a stale button, tapped while that turn is still busy
    tapped = time.monotonic()
    _update, cq_id = fake.user_callback(user.chat_id, data)
    answers = await fake.wait_calls("answerCallbackQuery", 2, timeout=slow)
    answer = next(c for c in answers if c.params.get("callback_query_id") == cq_id)
    assert answer.ok and answer.at - tapped < 1.0, answer.at - tapped
    assert fake.count_calls("sendPhoto", user.chat_id) == 0, "the answer must not wait for the slow photo"
    # Both turns still complete, in order: the captcha, then "that button is stale" and a new captcha.
    await fake.wait_calls("sendPhoto", 2, timeout=4 * slow, chat_id=user.chat_id)
    fake.method_delays.clear()
    await user.quiet()
    texts = user.texts()
    stale = next(i for i, t in enumerate(texts) if "已失效" in t)
    first_captcha = next(i for i, c in enumerate(user.sent()) if c.method == "sendPhoto")
    assert first_captcha < stale, texts

    # If answering fails anyway (the query expired), the tap is still handled.
    fake.fail_next("answerCallbackQuery", 400,
                   "Bad Request: query is too old and response timeout expired or query ID is invalid")
    mark = len(user.calls())
    fake.user_callback(user.chat_id, data)
    await user.settle(mark, expect="已失效")


# --------------------------------------------------------------------------- B08


async def test_b08_underscores_and_asterisks_are_delivered_literally(server: ServerProcess,
                                                                     fake: FakeBotApi) -> None:
    user = TgUser(fake, server, chat_id=5_550_300, first_name="小_明")
    done = await register(user, login="wang_xm_01")
    assert "登录名：wang_xm_01" in texts_of(done), texts_of(done)
    await user.say("a*b", expect="没有理解")
    unknown = await user.say("/file_name_v2", expect="file_name_v2")
    assert "“file_name_v2”" in texts_of(unknown)
    await user.say("*bold_ [link](x) `code`", expect="请选择您要办理的业务")
    assert_plain_text(fake)
    assert all(not c.params.get("entities") for c in fake.calls if c.method == "sendMessage")


# --------------------------------------------------------------------------- B03


async def test_b03_one_chat_in_order_many_chats_in_parallel(server: ServerProcess, fake: FakeBotApi) -> None:
    users = [TgUser(fake, server, chat_id=5_551_000 + i) for i in range(20)]

    async def two_quick_messages(user: TgUser) -> None:
        fake.user_message(user.chat_id, "注册")
        await asyncio.sleep(0.05)
        fake.user_message(user.chat_id, P1["name"])  # answers the name question only if "注册" came first

    await asyncio.gather(*(two_quick_messages(u) for u in users))
    await asyncio.gather(*(fake.wait_for(lambda u=u: any("证件类型" in t for t in u.texts()), 30,
                                         chat_id=u.chat_id) for u in users))
    for user in users:
        await user.quiet()
        texts = user.texts()
        assert "开始注册" in texts[0] and "请输入您的姓名" in texts[1] and "证件类型" in texts[2], texts
        assert len(texts) == 3 and not any("没有理解" in t for t in texts), texts

    # The same chat: a slow turn (captcha photo) then "取消" 50 ms later; the cancel comes after it.
    user = users[0]
    await user.tap("居民身份证", expect="证件号码")
    fake.method_delays["sendPhoto"] = 1.0
    mark = len(user.calls())
    fake.user_message(user.chat_id, P1["id_number"])
    await asyncio.sleep(0.05)
    fake.user_message(user.chat_id, "取消")
    calls = await user.settle(mark, expect="已取消", timeout=20)
    fake.method_delays.clear()
    sent = [c for c in calls if c.ok and c.method.lower() in SENDING]
    photo = next((i for i, c in enumerate(sent) if c.method == "sendPhoto"), None)
    cancelled = next(i for i, c in enumerate(sent) if "已取消" in (c.text or ""))
    assert photo is not None and photo < cancelled, [c.text for c in sent]


# --------------------------------------------------------------------------- not text


async def test_sticker_or_photo_where_text_was_asked(server: ServerProcess, fake: FakeBotApi) -> None:
    user = TgUser(fake, server, chat_id=5_550_400)
    await user.say("注册", expect="请输入您的姓名")
    for send in (fake.user_sticker, fake.user_photo):
        mark = len(user.calls())
        send(user.chat_id)
        calls = await user.settle(mark, expect="请输入您的姓名")
        text = texts_of(calls)
        assert "需要您输入文字" in text and text.index("需要您输入文字") < text.index("请输入您的姓名"), text
    await user.say(P1["name"], expect="证件类型")  # the flow goes on normally afterwards
    mark = len(user.calls())
    fake.user_document(user.chat_id, "身份证.pdf", b"%PDF-1.4 fake")
    assert "需要您输入文字" in texts_of(await user.settle(mark, expect="证件类型"))

    # With no question open, a sticker gets the menu.
    await user.say("取消", expect="已取消")
    mark = len(user.calls())
    fake.user_sticker(user.chat_id)
    idle = await user.settle(mark, expect="只能理解文字")
    assert any(c.params.get("reply_markup") for c in idle), "the menu comes with buttons"
    assert_plain_text(fake)
