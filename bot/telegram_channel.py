"""Telegram through python-telegram-bot, used as a transport only: Update -> Turn, Reply -> Bot API calls."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest

from backend.delivery import Delivery
from backend.settings import Settings
from bot.errors import handle_safely
from bot.wiring import App
from dialogs.types import Attachment, Button, Delete, Document, Image, Reply, Text, Turn, Typing

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_UPLOAD = 50 * 1024 * 1024
MAX_DOWNLOAD = 2 * 1024 * 1024
FLOOD_BUDGET_SECONDS = 15 * 60
CALLBACK_LIMIT = 64
UPDATE_DEDUP_SECONDS = 24 * 3600


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Splits at line ends (B10); a single over-long line is cut at the limit. Plain text, no entities."""
    chunks, current = [], ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            candidate = line
        current = candidate
    return chunks + [current] if current or not chunks else chunks


def build_keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    for button in buttons:
        data = button.payload if len(button.payload.encode()) <= CALLBACK_LIMIT else button.payload[:CALLBACK_LIMIT]
        cell = InlineKeyboardButton(button.title, callback_data=data)
        wide = len(button.title) > 8 or not rows or len(rows[-1]) >= 2 or len(rows[-1][0].text) > 8
        rows.append([cell]) if wide else rows[-1].append(cell)
    return InlineKeyboardMarkup(rows)


def update_to_turn(update: Update) -> Turn | None:
    """Pure conversion; file downloads happen later, in the handler."""
    chat = update.effective_chat
    if chat is None:
        return None
    user = update.effective_user
    base: dict[str, Any] = {"channel": "telegram", "conversation_id": f"telegram:{chat.id}",
                            "locale": user.language_code if user else None,
                            "user_ref": str(user.id) if user else None,
                            "display_name": user.first_name if user else None}
    if update.callback_query is not None:
        return Turn(text=update.callback_query.data or "", kind="button", **base)
    message = update.effective_message
    if message is None:
        return None
    ref = f"{chat.id}:{message.message_id}"
    if message.text is not None:
        return Turn(text=message.text, kind="text", message_ref=ref, **base)
    return Turn(kind=_kind_of(message), message_ref=ref, **base)


def _kind_of(message: Message) -> str:
    if message.document is not None:
        return "file"
    if message.photo:
        return "photo"
    if message.sticker is not None:
        return "sticker"
    return "other"


class TelegramChannel:
    def __init__(self, app: App, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.webhook_mode = bool(settings.telegram_webhook_url)
        self.application = self._build_application(settings)
        self._chat_locks: dict[int, tuple[asyncio.Lock, int]] = {}
        self.secret = self._webhook_secret(settings)

    def _build_application(self, settings: Settings) -> Application:  # type: ignore[type-arg]
        assert settings.telegram_token is not None
        # One pool shared by all chats; big enough that concurrent chats never queue for a socket.
        request = HTTPXRequest(connection_pool_size=settings.telegram_pool_size, pool_timeout=10.0,
                               read_timeout=15.0, write_timeout=30.0, media_write_timeout=60.0)
        builder = (ApplicationBuilder().token(settings.telegram_token.reveal()).request(request)
                   .concurrent_updates(settings.telegram_pool_size))
        if settings.telegram_base_url:
            base = settings.telegram_base_url.rstrip("/")
            builder = builder.base_url(f"{base}/bot").base_file_url(
                settings.telegram_base_file_url or f"{base}/file/bot")
        if self.webhook_mode:
            builder = builder.updater(None)
        else:
            builder = builder.get_updates_request(HTTPXRequest(connection_pool_size=2, read_timeout=40.0))
        application = builder.build()
        application.add_handler(TypeHandler(Update, self._on_update))
        application.add_error_handler(self._on_error)
        return application

    @staticmethod
    def _webhook_secret(settings: Settings) -> str:
        if settings.telegram_webhook_secret:
            return settings.telegram_webhook_secret.reveal()
        token = settings.telegram_token.reveal() if settings.telegram_token else ""
        return hashlib.sha256(f"creditbot-webhook:{token}".encode()).hexdigest()

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.application.initialize()
        await self.application.start()
        if self.webhook_mode:
            await self.application.bot.set_webhook(self.settings.telegram_webhook_url or "",
                                                   secret_token=self.secret,
                                                   allowed_updates=["message", "callback_query"])
        else:
            await self.application.bot.delete_webhook()
            assert self.application.updater is not None
            await self.application.updater.start_polling(allowed_updates=["message", "callback_query"],
                                                         timeout=30)
        logger.info("telegram channel started (%s)", "webhook" if self.webhook_mode else "polling")

    async def stop(self) -> None:
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    # -- inbound ------------------------------------------------------------------------------

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        turn = update_to_turn(update)
        if turn is None:
            return
        chat_id = int(turn.conversation_id.split(":", 1)[1])
        lock = self._chat_lock(chat_id)
        # Queue for the chat before the first await, so updates keep their arrival order.
        entered = asyncio.ensure_future(lock.__aenter__())
        if update.callback_query is not None:
            # Answer at once: the query expires after a short while, whatever the flow does next (B06).
            await _quietly(update.callback_query.answer())
        await entered
        try:
            if turn.kind == "file":
                turn = await self._with_attachment(update, turn)
            replies = await handle_safely(self.app.engine, turn)
            await self.render(chat_id, replies)
        finally:
            await lock.__aexit__(None, None, None)

    async def _with_attachment(self, update: Update, turn: Turn) -> Turn:
        document = update.effective_message.document if update.effective_message else None
        if document is None or (document.file_size or 0) > MAX_DOWNLOAD:
            return turn
        file = await document.get_file()
        data = bytes(await file.download_as_bytearray())
        attachment = Attachment(document.file_name or "file", document.mime_type or "application/octet-stream", data)
        return Turn(**{**turn.__dict__, "attachment": attachment})

    def _chat_lock(self, chat_id: int) -> _ChatLock:
        return _ChatLock(self._chat_locks, chat_id)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error("telegram handler error", exc_info=context.error)

    # -- outbound -----------------------------------------------------------------------------

    async def render(self, chat_id: int, replies: list[Reply]) -> None:
        for reply in replies:
            await self._flood_safe(lambda r=reply: self._render_one(chat_id, r))  # type: ignore[misc]

    async def _render_one(self, chat_id: int, reply: Reply) -> None:
        bot = self.application.bot
        if isinstance(reply, Text):
            chunks = split_text(reply.text)
            for i, chunk in enumerate(chunks):
                markup = build_keyboard(reply.buttons) if i == len(chunks) - 1 else None
                await bot.send_message(chat_id, chunk, reply_markup=markup)
        elif isinstance(reply, Image):
            await bot.send_photo(chat_id, reply.png, caption=reply.caption or None)
        elif isinstance(reply, Document):
            await self._send_document(chat_id, reply)
        elif isinstance(reply, Delete):
            await _quietly(bot.delete_message(chat_id, int(reply.message_ref.rsplit(":", 1)[-1])))
        elif isinstance(reply, Typing):
            await _quietly(bot.send_chat_action(chat_id, ChatAction.UPLOAD_DOCUMENT
                                                if reply.kind == "upload_document" else ChatAction.TYPING))

    async def _send_document(self, chat_id: int, reply: Document) -> None:
        if len(reply.data) > MAX_UPLOAD:
            # Checked before upload (B15); the flow offers the web download link instead.
            logger.warning("document of %d bytes exceeds the Bot API limit", len(reply.data))
            return
        await self.application.bot.send_document(chat_id, reply.data, filename=reply.filename,
                                                 caption=reply.caption or None,
                                                 write_timeout=60, read_timeout=60)

    async def _flood_safe(self, call: Callable[[], Awaitable[T]]) -> T:
        """Waits as long as Telegram asks (B11); the budget is time, not a count of tries."""
        deadline = time.monotonic() + FLOOD_BUDGET_SECONDS
        while True:
            try:
                return await call()
            except RetryAfter as exc:
                wait = exc.retry_after.total_seconds() if hasattr(exc.retry_after, "total_seconds") \
                    else float(exc.retry_after)  # type: ignore[arg-type]
                if time.monotonic() + wait > deadline:
                    raise
                logger.info("flood control: waiting %.0f s", wait)
                await asyncio.sleep(wait)

    async def send(self, conversation_id: str, replies: list[Reply]) -> Delivery:
        """Proactive delivery for the dispatcher; a chat that blocked us is reported, not retried (B12)."""
        chat_id = int(conversation_id.split(":", 1)[1])
        try:
            async with self._chat_lock(chat_id):
                await self.render(chat_id, replies)
        except Forbidden as exc:
            return Delivery("blocked", note=type(exc).__name__)
        except RetryAfter as exc:
            return Delivery("retry", retry_after=float(getattr(exc.retry_after, "total_seconds", lambda: 60)()))
        except (NetworkError, BadRequest, TelegramError) as exc:
            logger.warning("telegram delivery to a chat failed: %s", type(exc).__name__)
            return Delivery("retry", retry_after=30)
        return Delivery("sent")

    # -- webhook ------------------------------------------------------------------------------

    def webhook_route(self, path: str = "/telegram/webhook") -> Route:
        async def endpoint(request: Request) -> Response:
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
            if not hmac.compare_digest(given.encode(), self.secret.encode()):
                return JSONResponse({"error": "forbidden"}, status_code=403)
            try:
                data = json.loads(await request.body())
                update = Update.de_json(data, self.application.bot)
            except (ValueError, TypeError, KeyError):
                return JSONResponse({"error": "not an update"}, status_code=400)
            # Telegram redelivers when we are slow; each update_id is handled once (B16).
            if await self.app.services.kv.add(f"tg-update:{update.update_id}", 1, ttl=UPDATE_DEDUP_SECONDS):
                await self.application.update_queue.put(update)
            return JSONResponse({"ok": True})

        return Route(path, endpoint, methods=["POST"])


class _ChatLock:
    """FIFO per chat inside this process, so one chat's updates are handled in arrival order."""

    def __init__(self, table: dict[int, tuple[asyncio.Lock, int]], chat_id: int) -> None:
        self._table, self._chat = table, chat_id

    async def __aenter__(self) -> None:
        lock, users = self._table.get(self._chat, (asyncio.Lock(), 0))
        self._table[self._chat] = (lock, users + 1)
        await lock.acquire()

    async def __aexit__(self, *exc: object) -> None:
        lock, users = self._table[self._chat]
        lock.release()
        if users <= 1:
            del self._table[self._chat]
        else:
            self._table[self._chat] = (lock, users - 1)


async def _quietly(call: Awaitable[Any]) -> None:
    try:
        await call
    except TelegramError as exc:
        logger.info("ignored Telegram error: %s", type(exc).__name__)
