"""Telegram through python-telegram-bot, used as a transport only: Update -> Turn, Reply -> Bot API calls.

Rules this module keeps (the B-numbers are cases in CASES.md):

* One chat's updates are handled one at a time, in arrival order; other chats run in parallel (B03).
  The place in the chat's queue is taken synchronously when the update arrives, before any await.
* A button tap is answered at once, before waiting for the chat's previous turn or doing any work,
  and a failed answer never stops the turn (B06).
* Texts go out as plain text: no parse mode, so user data with `_` or `*` can never break them (B08).
  Texts over Telegram's limit (4096 UTF-16 code units) are split at line ends, in order (B10).
* Every Bot API call waits as long as a flood-control answer asks, and while one call waits no other
  call is made; the budget is time, not a count of tries; only the refused call is repeated (B11).
* Proactive delivery reports a chat that blocked the bot (or no longer exists) as "blocked"; it
  never raises, so one chat cannot stop delivery to the others (B12).
* Documents keep their (Chinese) file names (B13). One over the Bot API upload limit is not sent;
  the user gets an expiring download link instead, also when Telegram answers 413 (B15).
* Webhook mode: the secret header is checked, the endpoint answers at once and handles the update
  in the background, and every update_id is handled once, deduplicated in the shared store (B16).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.constants import ChatAction, MessageLimit
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest

from backend.delivery import Delivery
from backend.settings import Settings
from bot.errors import handle_safely
from bot.wiring import App
from dialogs.types import (
    Attachment,
    Button,
    Delete,
    Document,
    Image,
    Reply,
    Text,
    Turn,
    Typing,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_UPLOAD = 50 * 1024 * 1024  # Bot API upload limit for documents (B15)
UPLOAD_MARGIN = 64 * 1024  # multipart overhead on top of the file itself
MAX_DOWNLOAD = 2 * 1024 * 1024
MAX_CAPTION = MessageLimit.CAPTION_LENGTH  # 1024
FLOOD_BUDGET_SECONDS = 15 * 60
CALLBACK_LIMIT = 64  # bytes of callback_data
UPDATE_DEDUP_SECONDS = 24 * 3600
MAX_WEBHOOK_BODY = 1024 * 1024
SOFT_BREAKS = " \t。，；：！？、,.;:!?)）】」』"
ALLOWED_UPDATES = ["message", "callback_query"]


# -- pure helpers ----------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units: an emoji outside the BMP counts twice."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _fit(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 code units."""
    units = 0
    for index, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _cut_long_line(line: str, limit: int) -> list[str]:
    """A line longer than the limit: cut after the last space or punctuation in the second half of
    each piece, else at the limit. The pieces joined give the line back."""
    pieces = []
    while utf16_len(line) > limit:
        end = max(1, _fit(line, limit))
        cut = max((line.rfind(ch, end // 2, end) for ch in SOFT_BREAKS), default=-1)
        cut = cut + 1 if cut >= 0 else end
        pieces.append(line[:cut])
        line = line[cut:]
    pieces.append(line)
    return pieces


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Splits at line ends (B10), in order; a line over the limit is cut (see `_cut_long_line`).

    The chunks joined with "\\n" give back the text, except that a chunk that would be only blank
    lines is dropped (Telegram refuses an empty message). Plain text: there are no entities to break.
    """
    if utf16_len(text) <= limit:
        return [text] if text.strip() else []
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for raw_line in text.split("\n"):
        for line in _cut_long_line(raw_line, limit):
            extra = utf16_len(line) + (1 if current else 0)
            if current and size + extra > limit:
                chunks.append("\n".join(current))
                current, size, extra = [], 0, utf16_len(line)
            current.append(line)
            size += extra
    chunks.append("\n".join(current))
    return [chunk for chunk in chunks if chunk.strip()]


def _callback_data(payload: str) -> str:
    raw = payload.encode()
    if len(raw) <= CALLBACK_LIMIT:
        return payload
    logger.warning("button payload longer than %d bytes was cut", CALLBACK_LIMIT)
    return raw[:CALLBACK_LIMIT].decode("utf-8", "ignore")


def build_keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """Short titles two to a row, long ones on a row of their own."""
    if not buttons:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    for button in buttons:
        cell = InlineKeyboardButton(button.title, callback_data=_callback_data(button.payload))
        wide = len(button.title) > 8 or not rows or len(rows[-1]) >= 2 or len(rows[-1][0].text) > 8
        if wide:
            rows.append([cell])
        else:
            rows[-1].append(cell)
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


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns about the int form; both forms are handled
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _chat_gone(exc: TelegramError) -> bool:
    """Errors that will not go away by retrying: the chat does not exist (any more)."""
    message = exc.message.lower()
    return "chat not found" in message or "user not found" in message or "peer_id_invalid" in message


def _too_large(exc: TelegramError) -> bool:
    message = exc.message.lower()
    return "too large" in message or "(413)" in message


def _note(exc: TelegramError) -> str:
    return exc.message[:200]


# -- the channel -----------------------------------------------------------------------------------


class TelegramChannel:
    def __init__(self, app: App, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.webhook_mode = bool(settings.telegram_webhook_url)
        self.application = self._build_application(settings)
        self._chats = _ChatQueues()
        self._paused_until = 0.0  # flood control: no Bot API call before this (time.monotonic)
        self.secret = self._webhook_secret(settings)

    def _build_application(self, settings: Settings) -> Application:  # type: ignore[type-arg]
        assert settings.telegram_token is not None
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
                                                   secret_token=self.secret, allowed_updates=ALLOWED_UPDATES)
        else:
            assert self.application.updater is not None
            # start_polling removes any webhook first; updates sent meanwhile are kept by Telegram.
            await self.application.updater.start_polling(allowed_updates=ALLOWED_UPDATES, timeout=30,
                                                         error_callback=_polling_failed)
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
        place = self._chats.enter(chat_id)  # before the first await: arrival order (B03)
        try:
            if update.callback_query is not None:
                await self._answer(update.callback_query)  # at once, whatever the chat is busy with (B06)
            await place
            if turn.kind == "file":
                turn = await self._with_attachment(update, turn)
            replies = await handle_safely(self.app.engine, turn)
            await self.render(chat_id, replies)
        except Forbidden as exc:
            logger.info("telegram chat refused a reply: %s", _note(exc))
        except TelegramError as exc:
            logger.warning("telegram reply failed: %s", _note(exc))
        finally:
            self._chats.leave(chat_id, place)

    async def _answer(self, query: CallbackQuery) -> None:
        try:
            await asyncio.wait_for(query.answer(), timeout=5)
        except (TelegramError, TimeoutError) as exc:
            # Expired or failed: the tap is handled all the same.
            logger.info("callback query not answered: %s", type(exc).__name__)

    async def _with_attachment(self, update: Update, turn: Turn) -> Turn:
        document = update.effective_message.document if update.effective_message else None
        if document is None or (document.file_size or 0) > MAX_DOWNLOAD:
            return turn
        try:
            file = await self._api(document.get_file)
            data = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            logger.warning("could not download a document: %s", _note(exc))
            return turn
        attachment = Attachment(document.file_name or "file", document.mime_type or "application/octet-stream", data)
        return Turn(**{**turn.__dict__, "attachment": attachment})

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error("telegram handler error", exc_info=context.error)

    # -- outbound -----------------------------------------------------------------------------

    async def render(self, chat_id: int, replies: list[Reply]) -> None:
        for reply in replies:
            await self._render_one(chat_id, reply)

    async def _render_one(self, chat_id: int, reply: Reply) -> None:
        bot = self.application.bot
        if isinstance(reply, Text):
            # An agent's words are marked with their name, so nobody takes them for the bot's.
            text = f"💬 {reply.agent}\n{reply.text}" if reply.agent else reply.text
            await self._send_text(chat_id, text, build_keyboard(reply.buttons))
        elif isinstance(reply, Image):
            caption, rest = _caption(reply.caption)
            await self._api(lambda: bot.send_photo(chat_id, InputFile(reply.png, filename="captcha.png"),
                                                   caption=caption))
            if rest:
                await self._send_text(chat_id, rest)
        elif isinstance(reply, Document):
            await self._send_document(chat_id, reply)
        elif isinstance(reply, Delete):
            message_id = int(reply.message_ref.rsplit(":", 1)[-1])
            await self._quietly(lambda: bot.delete_message(chat_id, message_id))
        elif isinstance(reply, Typing):
            action = {"upload_document": ChatAction.UPLOAD_DOCUMENT,
                      "upload_photo": ChatAction.UPLOAD_PHOTO}.get(reply.kind, ChatAction.TYPING)
            await self._quietly(lambda: bot.send_chat_action(chat_id, action))

    async def _send_text(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        chunks = split_text(text)
        if not chunks:
            if markup is None:
                return
            chunks = ["…"]  # buttons need a message to sit on
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            await self._api(lambda c=chunk, m=markup if last else None:  # type: ignore[misc]
                            self.application.bot.send_message(chat_id, c, reply_markup=m))

    async def _send_document(self, chat_id: int, reply: Document) -> None:
        if len(reply.data) + UPLOAD_MARGIN > MAX_UPLOAD:
            # Checked before upload (B15): a link instead of a refused upload.
            logger.warning("document of %d bytes exceeds the Bot API limit; sending a link", len(reply.data))
            await self._send_link(chat_id, reply)
            return
        caption, rest = _caption(reply.caption)
        try:
            await self._api(lambda: self.application.bot.send_document(
                chat_id, reply.data, filename=reply.filename, caption=caption, write_timeout=120,
                read_timeout=60))
        except NetworkError as exc:
            if not _too_large(exc):
                raise
            logger.warning("Telegram refused a document of %d bytes as too large; sending a link", len(reply.data))
            await self._send_link(chat_id, reply)
            return
        if rest:
            await self._send_text(chat_id, rest)

    async def _send_link(self, chat_id: int, reply: Document) -> None:
        files = self.app.services.files
        token = await files.put(f"telegram:{chat_id}", reply.filename, reply.mime, reply.data)
        url = f"{self.settings.base_url.rstrip('/')}/files/{token}"
        size = len(reply.data) / (1024 * 1024)
        text = (f"{reply.caption}\n" if reply.caption else "") + (
            f"文件“{reply.filename}”（{size:.1f} MB）超过 Telegram 的 50 MB 上传限制，无法在此直接发送。"
            f"请在24小时内通过以下链接下载（请勿转发）：\n{url}\n"
            f"The file is larger than Telegram's 50 MB limit. Download it within 24 hours: {url}")
        await self._send_text(chat_id, text)

    async def _api(self, call: Callable[[], Awaitable[T]]) -> T:
        """One Bot API call that honours flood control (B11): the wait Telegram asks for pauses
        every call of this bot, then only this call is made again; the budget is time."""
        deadline = time.monotonic() + FLOOD_BUDGET_SECONDS
        while True:
            while (pause := self._paused_until - time.monotonic()) > 0:
                await asyncio.sleep(pause)
            try:
                return await call()
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                self._paused_until = max(self._paused_until, time.monotonic() + wait)
                if time.monotonic() + wait > deadline:
                    raise
                logger.info("flood control: waiting %.0f s", wait)

    async def _quietly(self, call: Callable[[], Awaitable[Any]]) -> None:
        """For calls whose failure must not stop the turn (deleting a message, a chat action)."""
        try:
            await self._api(call)
        except TelegramError as exc:
            logger.info("ignored Telegram error: %s", type(exc).__name__)

    async def send(self, conversation_id: str, replies: list[Reply]) -> Delivery:
        """Proactive delivery for the dispatcher; never raises for one chat's trouble (B12)."""
        chat_id = int(conversation_id.split(":", 1)[1])
        place = self._chats.enter(chat_id)
        try:
            await place
            await self.render(chat_id, replies)
        except Forbidden as exc:  # blocked by the user, user deactivated, ...
            return Delivery("blocked", note=_note(exc))
        except RetryAfter as exc:
            return Delivery("retry", retry_after=retry_seconds(exc))
        except BadRequest as exc:
            if _chat_gone(exc):
                return Delivery("blocked", note=_note(exc))
            logger.warning("telegram delivery to a chat was refused: %s", _note(exc))
            return Delivery("retry", retry_after=300)
        except TelegramError as exc:
            logger.warning("telegram delivery to a chat failed: %s", _note(exc))
            return Delivery("retry", retry_after=30)
        finally:
            self._chats.leave(chat_id, place)
        return Delivery("sent")

    # -- webhook ------------------------------------------------------------------------------

    def webhook_route(self, path: str = "/telegram/webhook") -> Route:
        async def endpoint(request: Request) -> Response:
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
            if not hmac.compare_digest(given.encode(), self.secret.encode()):
                return JSONResponse({"error": "forbidden"}, status_code=403)
            body = await request.body()
            update = self._parse_update(body) if len(body) <= MAX_WEBHOOK_BODY else None
            if update is None:
                return JSONResponse({"error": "not an update"}, status_code=400)
            # Telegram redelivers when we are slow; each update_id is handled once (B16).
            if await self.app.services.kv.add(f"tg-update:{update.update_id}", 1, ttl=UPDATE_DEDUP_SECONDS):
                await self.application.update_queue.put(update)
            return JSONResponse({"ok": True})

        return Route(path, endpoint, methods=["POST"])

    def _parse_update(self, body: bytes) -> Update | None:
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                return None
            return Update.de_json(data, self.application.bot)
        except Exception:  # noqa: BLE001 - whatever a malformed body makes PTB raise, it is a 400
            logger.info("webhook body is not an update")
            return None


def _polling_failed(exc: TelegramError) -> None:
    """getUpdates failed (Telegram unreachable, ...): PTB retries with back-off; one line, no traceback."""
    logger.warning("telegram polling failed, retrying: %s: %s", type(exc).__name__, exc.message)


def _caption(caption: str) -> tuple[str | None, str | None]:
    """(caption, text to send after the media): captions are limited to 1024 UTF-16 code units."""
    if not caption:
        return None, None
    if utf16_len(caption) <= MAX_CAPTION:
        return caption, None
    return None, caption


class _ChatQueues:
    """FIFO per chat inside this process: a place is taken synchronously (`enter`) and awaited; the
    holder passes the turn on with `leave`, also when it fails or is cancelled."""

    def __init__(self) -> None:
        self._queues: dict[int, deque[asyncio.Future[None]]] = {}

    def enter(self, chat_id: int) -> asyncio.Future[None]:
        place: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues.setdefault(chat_id, deque())
        queue.append(place)
        if len(queue) == 1:
            place.set_result(None)
        return place

    def leave(self, chat_id: int, place: asyncio.Future[None]) -> None:
        queue = self._queues.get(chat_id)
        if queue is None or place not in queue:
            return
        was_first = queue[0] is place
        queue.remove(place)
        if not place.done():
            place.cancel()
        if not queue:
            del self._queues[chat_id]
        elif was_first:
            queue[0].set_result(None)

    def __len__(self) -> int:
        return len(self._queues)
