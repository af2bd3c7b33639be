"""The Telegram channel in this process against the fake Bot API: splitting, flood control, blocked
chats, big and oddly named documents, keyboards, and the per-chat queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakebotapi import TINY_PNG, FakeBotApi
from fakes import make_settings

from backend.accounts import NewAccount
from backend.migrate import upgrade_async
from bot import telegram_channel
from bot.telegram_channel import (
    TelegramChannel,
    _ChatQueues,
    build_keyboard,
    split_text,
    utf16_len,
)
from bot.wiring import App, build
from dialogs.types import Button, Delete, Document, Image, Text

LIMIT = 4096
# PTB itself warns when it builds RetryAfter with an int (its own deprecation, not ours).
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


# --------------------------------------------------------------------------- B10: split_text


def report_summary(accounts: int = 80) -> str:
    """About 6,500 Chinese characters over many lines, with bold tags, like a long "报告摘要"."""
    lines = ["<b>报告摘要</b>", "姓名：王小明　证件号码：110105********1239", ""]
    for i in range(1, accounts + 1):
        lines.append(f"<b>账户{i:02d}</b>：中国某某商业银行股份有限公司发放的个人消费贷款，授信额度人民币伍万元整，"
                     f"当前余额正常，近二十四个月还款记录良好，无逾期、无担保代偿。")
    return "\n".join(lines)


def test_b10_long_report_is_split_at_line_ends_in_order() -> None:
    text = report_summary()
    assert 6000 <= len(text) <= 7500
    chunks = split_text(text)
    assert len(chunks) >= 2
    assert all(utf16_len(chunk) <= LIMIT for chunk in chunks)
    assert "\n".join(chunks) == text  # split on line ends only: in order, nothing lost, nothing added
    lines = text.split("\n")
    for chunk in chunks:  # every chunk is whole lines, so no tag is ever cut
        assert all(line in lines for line in chunk.split("\n"))
        assert chunk.count("<b>") == chunk.count("</b>")


def test_b10_one_long_line_without_breaks() -> None:
    line = "征信" * 5000  # 10,000 characters, no spaces, no punctuation
    chunks = split_text(line)
    assert [len(c) for c in chunks] == [4096, 4096, 1808]
    assert "".join(chunks) == line


def test_b10_long_line_is_cut_after_punctuation_when_it_can() -> None:
    sentence = "您在过去五年内没有逾期记录。"
    line = sentence * 600  # 8,400 characters in one paragraph
    chunks = split_text(line)
    assert "".join(chunks) == line
    assert all(utf16_len(c) <= LIMIT for c in chunks)
    assert all(c.endswith("。") for c in chunks)


def test_b10_limit_counts_utf16_units_like_telegram() -> None:
    text = "🌸" * 3000  # 6,000 UTF-16 code units, 3,000 characters
    chunks = split_text(text)
    assert len(chunks) == 2 and "".join(chunks) == text
    assert all(utf16_len(c) <= LIMIT for c in chunks)
    mixed = "\n".join(["林🌸晓" * 500] * 4)
    assert all(utf16_len(c) <= LIMIT for c in split_text(mixed))
    assert "\n".join(split_text(mixed)) == mixed


def test_b10_edges() -> None:
    assert split_text("") == []
    assert split_text(" \n ") == []
    assert split_text("短消息") == ["短消息"]
    exact = "字" * LIMIT
    assert split_text(exact) == [exact]
    assert split_text(exact + "\n" + exact) == [exact, exact]
    # Blank lines at a boundary never become an empty (refused) message.
    text = "甲" * 4000 + "\n\n\n\n" + "乙" * 4000
    chunks = split_text(text)
    assert all(c.strip() for c in chunks) and "".join(chunks).replace("\n", "") == "甲" * 4000 + "乙" * 4000


# --------------------------------------------------------------------------- keyboards, queue


def test_keyboard_payloads_fit_telegram_and_layout() -> None:
    long = "/fetch_result:" + "结果" * 40  # far over 64 bytes
    markup = build_keyboard((Button("同意并继续", "/agreement:accept"), Button("不同意", "/agreement:decline"),
                             Button("银行卡验证（提升安全等级）", long)))
    assert markup is not None
    rows = markup.inline_keyboard
    assert [[b.text for b in row] for row in rows] == [["同意并继续", "不同意"], ["银行卡验证（提升安全等级）"]]
    assert all(len(b.callback_data.encode()) <= 64 for row in rows for b in row)  # type: ignore[union-attr]
    assert rows[1][0].callback_data.startswith("/fetch_result:")  # type: ignore[union-attr]
    assert build_keyboard(()) is None


async def test_chat_queue_is_fifo_and_survives_a_cancelled_waiter() -> None:
    queues = _ChatQueues()
    first, second, third = queues.enter(1), queues.enter(1), queues.enter(1)
    other = queues.enter(2)
    assert first.done() and other.done() and not second.done()
    queues.leave(1, second)  # gave up while waiting
    assert second.cancelled() and not third.done()
    queues.leave(1, first)
    assert third.done()
    queues.leave(1, third)
    queues.leave(2, other)
    assert len(queues) == 0


# --------------------------------------------------------------------------- in-process channel


@pytest.fixture
async def tg(tmp_path: Path, fake: FakeBotApi) -> AsyncIterator[TelegramChannel]:
    settings = make_settings(tmp_path, TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_BASE_URL=fake.root_url,
                             CREDITBOT_REPORT_DELAY=0)
    await upgrade_async(settings.database_url)
    app = build(settings)
    channel = TelegramChannel(app, settings)
    app.channels.register("telegram", channel)
    await channel.start()
    yield channel
    await channel.stop()
    await app.close()


def ok_sends(fake: FakeBotApi, chat_id: int, method: str = "sendMessage") -> list:  # type: ignore[type-arg]
    return [c for c in fake.calls_of(method, chat_id) if c.ok]


async def test_b10_long_text_goes_out_as_several_messages(tg: TelegramChannel, fake: FakeBotApi) -> None:
    text = report_summary()
    delivery = await tg.send("telegram:9101", [Text(text, (Button("主菜单", "/menu"),))])
    assert delivery.outcome == "sent"
    sent = ok_sends(fake, 9101)
    assert len(sent) >= 2 and all(c.ok for c in fake.calls_of("sendMessage", 9101))
    assert "\n".join(c.text for c in sent) == text
    assert [bool(c.params.get("reply_markup")) for c in sent] == [False] * (len(sent) - 1) + [True]


async def test_b08_text_is_sent_plain(tg: TelegramChannel, fake: FakeBotApi) -> None:
    text = "登录名：wang_xm_01　昵称：小_明　备注：a*b　附件 file_name_v2 `x` [y](z)"
    await tg.send("telegram:9102", [Text(text)])
    (call,) = ok_sends(fake, 9102)
    assert call.text == text and "parse_mode" not in call.params and not call.params.get("entities")


# --------------------------------------------------------------------------- B11: flood control


async def test_b11_flood_wait_is_honoured_and_message_delivered_once(tg: TelegramChannel,
                                                                     fake: FakeBotApi) -> None:
    fake.fail_next("sendMessage", 429, retry_after=2)
    started = time.monotonic()
    delivery = await asyncio.wait_for(tg.send("telegram:9201", [Text("您的个人信用报告已生成。")]), 20)
    assert delivery.outcome == "sent"
    refused, delivered = fake.calls_of("sendMessage", 9201)
    assert refused.status == 429 and delivered.ok
    assert delivered.at - refused.at >= 2.0 and time.monotonic() - started >= 2.0
    assert [c.text for c in ok_sends(fake, 9201)] == ["您的个人信用报告已生成。"]


async def test_b11_only_the_refused_chunk_is_sent_again(tg: TelegramChannel, fake: FakeBotApi) -> None:
    text = report_summary()
    fake.method_delays["sendMessage"] = 0.2

    async def refuse_the_second() -> None:
        await fake.wait_calls("sendMessage", 1, timeout=10, chat_id=9202)
        fake.fail_next("sendMessage", 429, retry_after=2, chat_id=9202)

    refusing = asyncio.create_task(refuse_the_second())
    delivery = await asyncio.wait_for(tg.send("telegram:9202", [Text(text)]), 30)
    await refusing
    assert delivery.outcome == "sent"
    statuses = [c.status for c in fake.calls_of("sendMessage", 9202)]
    assert statuses[:3] == [200, 429, 200], statuses
    assert "\n".join(c.text for c in ok_sends(fake, 9202)) == text  # nothing twice, nothing lost


async def test_b11_flood_wait_pauses_every_chat(tg: TelegramChannel, fake: FakeBotApi) -> None:
    fake.fail_next("sendMessage", 429, retry_after=2)
    first = asyncio.create_task(tg.send("telegram:9203", [Text("一")]))
    await fake.wait_calls("sendMessage", 1, timeout=5)
    await asyncio.sleep(0.3)  # the refusal travels back to the channel
    second = await asyncio.wait_for(tg.send("telegram:9204", [Text("二")]), 20)
    assert second.outcome == "sent" and (await asyncio.wait_for(first, 20)).outcome == "sent"
    refused = fake.calls_of("sendMessage", 9203)[0]
    other = fake.calls_of("sendMessage", 9204)
    assert len(other) == 1 and other[0].ok and other[0].at - refused.at >= 2.0


async def test_b11_user_turn_reply_waits_and_arrives(tg: TelegramChannel, fake: FakeBotApi) -> None:
    fake.fail_next("sendMessage", 429, retry_after=2)
    fake.user_message(9205, "帮助")
    replies = await fake.wait_sent(9205, 2, timeout=15)
    assert "可用指令" in replies[0].text
    assert fake.count_calls("sendMessage", 9205) == len(fake.sent_to(9205)) + 1  # one refusal, no duplicates


# --------------------------------------------------------------------------- B12: blocked chats


async def test_b12_blocked_chat_does_not_stop_the_others(tg: TelegramChannel, fake: FakeBotApi) -> None:
    u1, u2, u3, gone, flaky = 9301, 9302, 9303, 9304, 9305
    fake.blocked_chats.add(u2)
    fake.fail_next(None, 400, "Bad Request: chat not found", chat_id=gone)
    fake.fail_next(None, 502, "Bad Gateway", chat_id=flaky)
    replies = [Text("您申请的个人信用报告已生成。"), Text("请输入身份验证码：")]
    results = await asyncio.wait_for(asyncio.gather(*(tg.send(f"telegram:{chat}", replies)
                                                      for chat in (u1, u2, u3, gone, flaky))), 30)
    assert [r.outcome for r in results] == ["sent", "blocked", "sent", "blocked", "retry"]
    assert "blocked" in results[1].note
    assert len(ok_sends(fake, u1)) == 2 and len(ok_sends(fake, u3)) == 2 and ok_sends(fake, u2) == []
    assert fake.count_calls("sendMessage", u2) == 1, "a blocked chat is not tried again and again"
    assert (await tg.send(f"telegram:{u1}", [Text("之后的消息")])).outcome == "sent"


async def test_b12_dispatcher_marks_blocked_and_delivers_to_the_rest(tg: TelegramChannel, fake: FakeBotApi) -> None:
    app: App = tg.app
    people = [("王小明", "110105199003071239", "15500000101"), ("李娜", "11010519691231007X", "16600000202"),
              ("张伟", "510107198712030010", "17300000303")]
    requests = {}
    for i, (name, id_number, phone) in enumerate(people):
        account = await app.services.accounts.register(
            NewAccount(name=name, id_type="0", id_number=id_number, login_name=f"user{i}abc",
                       password="Abc12345!", phone=phone))
        chat = 9400 + i
        requests[chat] = await app.services.queries.submit(account.id, "report", f"telegram:{chat}", "zh")
    fake.blocked_chats.add(9401)
    assert await asyncio.wait_for(app.dispatcher.run_once(), 30) == 3
    statuses = {chat: (await app.services.queries.get(r.id)).status for chat, r in requests.items()}
    assert statuses[9401] == "blocked" and statuses[9400] != "blocked" and statuses[9402] != "blocked"
    for chat in (9400, 9402):
        assert any("已生成" in (c.text or "") for c in ok_sends(fake, chat)), fake.texts_to(chat)
    assert await asyncio.wait_for(app.dispatcher.run_once(), 30) == 0, "nothing is delivered twice"


# --------------------------------------------------------------------------- B13 / B15: documents


@pytest.mark.parametrize("filename", ["王小明_个人信用报告_20261204.pdf", "林🌸晓_个人信用报告_20261204.pdf",
                                      "个人信用报告_R2026120400001.pdf"])
async def test_b13_document_keeps_its_file_name(tg: TelegramChannel, fake: FakeBotApi, filename: str) -> None:
    pdf = b"%PDF-1.4\n%\xe4\xb8\xad\n" + b"0" * 2048
    delivery = await tg.send("telegram:9501", [Document(pdf, filename, "个人信用报告（报告编号 R1）")])
    assert delivery.outcome == "sent"
    (call,) = ok_sends(fake, 9501, "sendDocument")
    assert call.file == {"filename": filename, "content": pdf, "content_type": "application/pdf"}
    assert call.text == "个人信用报告（报告编号 R1）"


async def test_b15_document_over_the_upload_limit_becomes_a_link(tg: TelegramChannel, fake: FakeBotApi,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telegram_channel, "MAX_UPLOAD", 256 * 1024)  # keeps the test small; same code path
    pdf = b"%PDF-1.4\n" + b"1" * (300 * 1024)
    delivery = await tg.send("telegram:9502", [Document(pdf, "个人信用报告_R1.pdf", "个人信用报告")])
    assert delivery.outcome == "sent"
    assert fake.count_calls("sendDocument") == 0, "the size is checked before uploading"
    (notice,) = ok_sends(fake, 9502)
    assert "50 MB" in notice.text and "/files/" in notice.text
    token = notice.text.split("/files/", 1)[1].split()[0]
    stored = await tg.app.services.files.get(token)
    assert stored is not None and stored[2] == pdf and stored[3] == "telegram:9502"


async def test_b15_telegram_413_becomes_a_link(tg: TelegramChannel, fake: FakeBotApi) -> None:
    fake.fail_next("sendDocument", 413, "Request Entity Too Large")
    delivery = await tg.send("telegram:9503", [Document(b"%PDF-1.4 small", "个人信用报告_R2.pdf")])
    assert delivery.outcome == "sent"
    assert [c.status for c in fake.calls_of("sendDocument", 9503)] == [413]
    assert "/files/" in ok_sends(fake, 9503)[0].text


# --------------------------------------------------------------------------- other replies


async def test_photo_caption_delete_and_typing(tg: TelegramChannel, fake: FakeBotApi) -> None:
    long_caption = "说明" * 600  # over the 1,024 caption limit: goes out as a text after the photo
    user_message_id = fake.user_message_id(fake.user_message(9601, "hello"))
    await fake.wait_sent(9601, 1, timeout=10)
    replies = [Delete(f"9601:{user_message_id}"), Delete("9601:999999"), Image(TINY_PNG, "图片验证码"),
               Image(TINY_PNG, long_caption), Text("请输入上图中的4个字符：")]
    assert (await tg.send("telegram:9601", replies)).outcome == "sent"
    assert fake.is_deleted(9601, user_message_id)  # the unknown message's failed delete is ignored
    photos = ok_sends(fake, 9601, "sendPhoto")
    assert [p.text for p in photos] == ["图片验证码", None]
    assert photos[0].file["content"] == TINY_PNG
    assert fake.texts_to(9601)[-2:] == [long_caption, "请输入上图中的4个字符："]
