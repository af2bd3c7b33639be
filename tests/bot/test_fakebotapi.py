"""Tests of the fake Telegram Bot API (tests/fakebotapi.py) with a bare PTB echo bot."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import sys
import time
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ has no __init__.py

from fakebotapi import FakeBotApi, serve_asgi  # noqa: E402

CHINESE_PDF_NAME = "王小明_个人信用报告_20261204.pdf"


# --------------------------------------------------------------------------- bare echo bot


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(update.effective_message.text)


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("查询", callback_data="query")]])
    await update.effective_message.reply_text("欢迎", reply_markup=keyboard)


async def _callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.callback_query.answer(f"got {update.callback_query.data}")


async def _document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    document = update.effective_message.document
    telegram_file = await document.get_file()
    data = await telegram_file.download_as_bytearray()
    await update.effective_message.reply_text(f"{document.file_name} {len(data)} {bytes(data[:4])!r}")


async def _photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    photo = update.effective_message.photo[-1]
    data = await (await photo.get_file()).download_as_bytearray()
    await update.effective_message.reply_text(f"photo {photo.width}x{photo.height} {len(data)}")


async def _sticker(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(f"sticker {update.effective_message.sticker.emoji}")


def build_echo_app(fake: FakeBotApi) -> Application:
    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .concurrent_updates(True)
        .build()
    )
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CallbackQueryHandler(_callback))
    app.add_handler(MessageHandler(filters.Document.ALL, _document))
    app.add_handler(MessageHandler(filters.PHOTO, _photo))
    app.add_handler(MessageHandler(filters.Sticker.ALL, _sticker))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    return app


@pytest.fixture
async def polling_app(fake: FakeBotApi):
    app = build_echo_app(fake)
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=5)
    yield app
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


# --------------------------------------------------------------------------- raw protocol


async def test_get_me_and_unknown_method(fake: FakeBotApi) -> None:
    async with httpx.AsyncClient() as client:
        me = await client.post(f"{fake.base_url}{fake.token}/getMe")
        assert me.status_code == 200
        assert me.json()["ok"] is True
        assert me.json()["result"]["is_bot"] is True

        missing = await client.post(f"{fake.base_url}{fake.token}/sendTelepathy", json={"chat_id": 1})
    assert missing.status_code == 404
    assert missing.json() == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
    assert [c.method for c in fake.calls] == ["getMe", "sendTelepathy"]
    assert fake.calls[-1].status == 404


async def test_json_form_and_multipart_bodies_are_decoded_alike(fake: FakeBotApi) -> None:
    url = f"{fake.base_url}{fake.token}/sendMessage"
    markup = {"inline_keyboard": [[{"text": "a", "callback_data": "1"}]]}
    async with httpx.AsyncClient() as client:
        r1 = await client.post(url, json={"chat_id": 7, "text": "123", "reply_markup": markup})
        r2 = await client.post(url, data={"chat_id": "7", "text": "123", "reply_markup": json.dumps(markup)})
        r3 = await client.post(
            url,
            data={"chat_id": "7", "text": "123", "reply_markup": json.dumps(markup)},
            files={"unused": ("a.txt", b"x", "text/plain")},
        )
    assert {r.status_code for r in (r1, r2, r3)} == {200}
    for call in fake.calls_of("sendMessage"):
        assert call.params["chat_id"] == 7
        assert call.params["text"] == "123"  # a text stays a string
        assert call.params["reply_markup"] == markup
    ids = [r.json()["result"]["message_id"] for r in (r1, r2, r3)]
    assert ids == [1, 2, 3]  # increasing per chat
    assert r1.json()["result"]["reply_markup"] == markup


async def test_long_poll_waits_for_updates_and_honours_offset(fake: FakeBotApi) -> None:
    url = f"{fake.base_url}{fake.token}/getUpdates"
    async with httpx.AsyncClient(timeout=10) as client:
        started = time.monotonic()
        poll = asyncio.create_task(client.post(url, json={"timeout": 5}))
        await asyncio.sleep(0.2)
        assert not poll.done()
        update_id = fake.user_message(1, "hi")
        response = await poll
        assert time.monotonic() - started < 2
        updates = response.json()["result"]
        assert [u["update_id"] for u in updates] == [update_id]
        assert updates[0]["message"]["text"] == "hi"

        # Without confirming, the update comes again; offset confirms it.
        again = await client.post(url, json={"timeout": 0})
        assert [u["update_id"] for u in again.json()["result"]] == [update_id]
        empty_started = time.monotonic()
        confirmed = await client.post(url, json={"offset": update_id + 1, "timeout": 0.3})
        assert confirmed.json()["result"] == []
        assert time.monotonic() - empty_started >= 0.25
    assert fake.pending_updates() == 0


# --------------------------------------------------------------------------- PTB polling


async def test_echo_bot_replies_with_same_text(fake: FakeBotApi, polling_app: Application) -> None:
    update_id = fake.user_message(1001, "你好，我想查信用报告")
    sent = await fake.wait_sent(1001)
    assert sent[0].method == "sendMessage"
    assert sent[0].params["text"] == "你好，我想查信用报告"
    assert fake.texts_to(1001) == ["你好，我想查信用报告"]
    # The user message got its own id, the bot's reply the next one.
    user_msg_id = fake.user_message_id(update_id)
    assert sent[0].result["message_id"] == user_msg_id + 1
    assert fake.last_bot_message(1001)["text"] == "你好，我想查信用报告"


async def test_many_chats_each_get_their_own_reply(fake: FakeBotApi, polling_app: Application) -> None:
    for chat in range(2000, 2050):
        fake.user_message(chat, f"m{chat}")
    for chat in range(2000, 2050):
        sent = await fake.wait_sent(chat)
        assert [c.text for c in sent] == [f"m{chat}"]


async def test_command_and_callback_query(fake: FakeBotApi, polling_app: Application) -> None:
    fake.user_command(1002, "/start")
    sent = await fake.wait_sent(1002)
    assert sent[0].text == "欢迎"
    button = fake.last_bot_message(1002)["reply_markup"]["inline_keyboard"][0][0]
    assert button["callback_data"] == "query"

    _update_id, cq_id = fake.user_callback(1002, "query")
    answers = await fake.wait_calls("answerCallbackQuery", chat_id=1002)
    assert answers[0].params["callback_query_id"] == cq_id
    assert answers[0].params["text"] == "got query"
    assert fake.callback_queries[cq_id]["answered"] is True
    assert fake.callback_queries[cq_id]["message_id"] == sent[0].result["message_id"]


async def test_user_document_photo_and_sticker_are_downloadable(
    fake: FakeBotApi, polling_app: Application
) -> None:
    fake.user_document(1003, "报告.pdf", b"%PDF-1.4 hello", "application/pdf")
    fake.user_photo(1004)
    fake.user_sticker(1005, emoji="👍")
    assert (await fake.wait_sent(1003))[0].text == "报告.pdf 14 b'%PDF'"
    assert (await fake.wait_sent(1004))[0].text.startswith("photo 800x800 ")
    assert (await fake.wait_sent(1005))[0].text == "sticker 👍"
    assert fake.calls_of("getFile")


async def test_send_document_keeps_chinese_filename(fake: FakeBotApi, polling_app: Application) -> None:
    """B13: the uploaded report arrives with exactly its UTF-8 file name."""
    content = b"%PDF-1.4\n" + "王小明".encode() + b"\n%%EOF"
    message = await polling_app.bot.send_document(
        chat_id=1006, document=content, filename=CHINESE_PDF_NAME, caption="您的信用报告"
    )
    assert message.document.file_name == CHINESE_PDF_NAME
    assert message.document.mime_type == "application/pdf"
    assert message.caption == "您的信用报告"

    call = fake.calls_of("sendDocument", chat_id=1006)[0]
    upload = call.params["document"]
    assert upload["filename"] == CHINESE_PDF_NAME
    assert upload["content"] == content
    assert upload["content_type"] == "application/pdf"
    assert fake.uploaded_files(1006) == [upload]

    downloaded = await (await polling_app.bot.get_file(message.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == content


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # int retry_after
async def test_retry_after_surfaces_as_retry_after(fake: FakeBotApi, polling_app: Application) -> None:
    fake.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as info:
        await polling_app.bot.send_message(1007, "x")
    retry_after = info.value.retry_after
    if isinstance(retry_after, dtm.timedelta):
        retry_after = retry_after.total_seconds()
    assert retry_after == 7
    assert fake.calls_of("sendMessage", chat_id=1007)[0].description == "Too Many Requests: retry after 7"
    # Only the next call failed.
    await polling_app.bot.send_message(1007, "y")
    assert [c.status for c in fake.calls_of("sendMessage", chat_id=1007)] == [429, 200]
    assert fake.texts_to(1007) == ["y"]


async def test_forbidden_for_one_chat_and_blocked_chats(fake: FakeBotApi, polling_app: Application) -> None:
    fake.fail_next("sendMessage", 403, chat_id=1008)
    await polling_app.bot.send_message(1009, "other chat is fine")
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await polling_app.bot.send_message(1008, "x")
    await polling_app.bot.send_message(1008, "fault used up")

    fake.blocked_chats.add(1010)
    with pytest.raises(Forbidden):
        await polling_app.bot.send_message(1010, "x")
    with pytest.raises(Forbidden):
        await polling_app.bot.send_document(1010, document=b"x", filename="a.pdf")
    assert fake.sent_to(1010) == []


async def test_telegram_like_errors_for_delete_and_edit(fake: FakeBotApi, polling_app: Application) -> None:
    update_id = fake.user_message(1011, "my password is hunter2")
    await fake.wait_sent(1011)
    user_msg_id = fake.user_message_id(update_id)
    assert await polling_app.bot.delete_message(1011, user_msg_id) is True
    assert fake.is_deleted(1011, user_msg_id)
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await polling_app.bot.delete_message(1011, user_msg_id)

    bot_msg = fake.last_bot_message(1011)
    edited = await polling_app.bot.edit_message_text("改过了", chat_id=1011, message_id=bot_msg["message_id"])
    assert edited.text == "改过了"
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await polling_app.bot.edit_message_text("改过了", chat_id=1011, message_id=bot_msg["message_id"])
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="ok")]])
    edited = await polling_app.bot.edit_message_reply_markup(
        chat_id=1011, message_id=bot_msg["message_id"], reply_markup=markup
    )
    assert edited.reply_markup == markup
    with pytest.raises(BadRequest, match="(?i)query id is invalid"):
        await polling_app.bot.answer_callback_query("nope")


async def test_commands_chat_action_and_delay(fake: FakeBotApi, polling_app: Application) -> None:
    assert await polling_app.bot.set_my_commands([BotCommand("start", "开始"), BotCommand("help", "帮助")])
    commands = await polling_app.bot.get_my_commands()
    assert [(c.command, c.description) for c in commands] == [("start", "开始"), ("help", "帮助")]
    assert await polling_app.bot.send_chat_action(1012, "upload_document") is True

    fake.delay = 0.2
    started = time.monotonic()
    await polling_app.bot.get_me()
    assert time.monotonic() - started >= 0.2


# --------------------------------------------------------------------------- webhook mode


def _receiver(app: Application, secret: str) -> Starlette:
    """A starlette webhook endpoint like the one a PTB "custom webhook" bot uses."""

    async def hook(request: Request) -> Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != secret:
            return Response(status_code=403)
        await app.update_queue.put(Update.de_json(await request.json(), app.bot))
        return Response()

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


async def test_webhook_delivery_to_starlette_receiver(fake: FakeBotApi) -> None:
    app = build_echo_app(fake)
    async with serve_asgi(_receiver(app, "s3cret")) as port, app:
        await app.start()
        url = f"http://127.0.0.1:{port}/hook"
        assert await app.bot.set_webhook(url, secret_token="s3cret")
        assert fake.webhook == {
            "url": url,
            "secret_token": "s3cret",
            "max_connections": 40,
            "allowed_updates": None,
            "drop_pending_updates": False,
            "ip_address": None,
        }
        info = await app.bot.get_webhook_info()
        assert info.url == url

        update_id = fake.user_message(1013, "webhook 你好")
        assert (await fake.wait_sent(1013))[0].text == "webhook 你好"
        delivery = (await fake.wait_deliveries(1))[0]
        assert (delivery.update_id, delivery.status, delivery.secret_token) == (update_id, 200, "s3cret")

        # Wrong or missing secret is refused by the receiver.
        update = fake.updates_by_id[update_id]
        assert await fake.post_update_raw(update, secret_token="wrong") == 403
        assert await fake.post_update_raw(update, secret_token=None) == 403
        # Redelivery of the same update with the right secret is accepted.
        assert await fake.post_update_raw(update) == 200

        with pytest.raises(Conflict):
            await app.bot.get_updates()
        assert await app.bot.delete_webhook()
        assert fake.webhook is None
        await app.stop()
