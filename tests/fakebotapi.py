"""A fake Telegram Bot API server for tests and benchmarks.

It is a real HTTP server (starlette app served by uvicorn) that runs in the
*same* asyncio loop as the test, on 127.0.0.1.  python-telegram-bot (PTB) is
pointed at it with::

    fake = FakeBotApi()
    await fake.start()
    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)            # http://127.0.0.1:<port>/bot
        .base_file_url(fake.base_file_url)  # http://127.0.0.1:<port>/file/bot
        .build()
    )

What it does
------------
* Answers ``/bot<any token>/<method>`` (JSON, form-urlencoded or multipart
  bodies; method names are case-insensitive like the real API) with
  Telegram-shaped ``{"ok": true, "result": ...}`` JSON.  Unknown methods get
  ``404 {"ok": false, "error_code": 404, "description": "Not Found: method not found"}``.
* Records every call (``calls``; indexed per method and per chat so that
  look-ups and waits stay O(1)-ish even with thousands of calls).
* Lets the test play the user: ``user_message``, ``user_command``,
  ``user_callback``, ``user_photo``, ``user_sticker``, ``user_document``.  The
  updates are queued for ``getUpdates`` (long polling honours ``offset``,
  ``limit`` and ``timeout``) or, after ``setWebhook``, POSTed to the webhook
  URL with the ``X-Telegram-Bot-Api-Secret-Token`` header (``deliveries``
  records the HTTP status of each POST).
* Fault injection: ``delay`` (seconds before every answer), ``method_delays``,
  ``fail_next(...)`` (429 with ``retry_after``, 403, 400, 5xx ...) and
  ``blocked_chats`` (403 "Forbidden: bot was blocked by the user" for every
  ``send*`` method).
* Behaves like Telegram where bots commonly trip (``strict=True``, default):
  deleting/editing an unknown or already deleted message, "message is not
  modified", answering an unknown/already answered callback query, empty or
  over-long texts and ``getUpdates`` while a webhook is set all answer the same
  errors the real API gives.

Not done: Telegram's retries of failed webhook POSTs, allowed_updates
filtering, groups beyond a minimal chat object, media other than photos,
documents and stickers.

``tests/`` has no ``__init__.py``: test modules and ``bench/`` scripts put
``tests/`` on ``sys.path`` and ``import fakebotapi``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import mimetypes
import re
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = [
    "DEFAULT_TOKEN",
    "Call",
    "Delivery",
    "FakeBotApi",
    "free_port",
    "serve_asgi",
]

DEFAULT_TOKEN = "123456789:AAFakeTokenForCreditbotTests-0123456789"

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# Methods whose parameters are documented as strings: never JSON-decode them,
# otherwise a text "123" would turn into the int 123.
_RAW_STRING_KEYS = frozenset(
    {
        "text",
        "caption",
        "url",
        "secret_token",
        "callback_query_id",
        "inline_message_id",
        "parse_mode",
        "action",
        "file_id",
        "photo",
        "document",
        "sticker",
        "video",
        "audio",
        "voice",
        "animation",
        "thumbnail",
        "emoji",
        "language_code",
        "ip_address",
        "query",
        "title",
        "description",
        "short_description",
        "name",
        "business_connection_id",
        "message_effect_id",
        "certificate",
        "data",
    }
)
_INT_KEYS = ("chat_id", "from_chat_id", "message_id", "user_id")

# Methods that produce a message in a chat (used by ``sent_to`` and by
# ``blocked_chats``).
_MESSAGE_SENDING = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "senddocument",
        "sendsticker",
        "copymessage",
        "forwardmessage",
    }
)

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply "
    "markup are exactly the same as a current content and reply markup of the message"
)
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}

# 1x1 transparent PNG, used as content of photos the "user" sends.
TINY_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81"
    b"\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


# --------------------------------------------------------------------------- records


@dataclass(slots=True)
class Call:
    """One Bot API request the bot made.

    ``params`` holds the decoded parameters; uploaded files appear as
    ``{"filename": str, "content": bytes, "content_type": str}``.
    ``at`` is ``time.monotonic()`` when the request arrived; ``status`` the HTTP
    status answered (200 on success); ``result`` the ``result`` answered (None
    on errors); ``chat_id`` the chat the call concerns (also filled for
    ``answerCallbackQuery`` from the query's chat).
    """

    method: str
    params: dict[str, Any]
    at: float
    token: str = ""
    status: int = 200
    result: Any = None
    description: str | None = None
    chat_id: int | str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def text(self) -> str | None:
        """``text`` or ``caption`` parameter, whichever the call had."""
        value = self.params.get("text")
        if value is None:
            value = self.params.get("caption")
        return value

    @property
    def file(self) -> dict[str, Any] | None:
        """The first uploaded file of this call, if any."""
        for value in self.params.values():
            if isinstance(value, dict) and "content" in value and "filename" in value:
                return value
        return None


@dataclass(slots=True)
class Delivery:
    """One webhook POST the fake made."""

    update_id: int | None
    status: int | None  # HTTP status, None when the connection failed
    at: float
    url: str
    secret_token: str | None
    chat_id: int | None = None
    error: str | None = None
    body: bytes = b""


@dataclass(slots=True)
class _Fault:
    method: str | None  # lower-case method name, None = any method
    status: int
    description: str
    retry_after: int | None
    chat_id: int | str | None
    remaining: int


@dataclass(slots=True)
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    mime_type: str
    filename: str | None


@dataclass(slots=True)
class _Waiter:
    predicate: Callable[[], Any]
    future: asyncio.Future[Any]


class ApiError(Exception):
    """Raised inside method handlers to answer a Bot API error."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


# --------------------------------------------------------------------------- helpers


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (for servers the test does not own)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class _InLoopServer(uvicorn.Server):
    """uvicorn server that leaves the test's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]  # uvicorn >= 0.29
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        return None


async def _start_uvicorn(app: Any, host: str, port: int) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        timeout_keep_alive=30,
        backlog=4096,
    )
    server = _InLoopServer(config)
    task = asyncio.create_task(server.serve(), name=f"uvicorn:{host}:{port}")
    while not server.started:
        if task.done():
            # Raises the startup error (SystemExit from uvicorn on bind failure).
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.005)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return server, task, bound


async def _stop_uvicorn(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=10)
    except asyncio.TimeoutError:  # pragma: no cover - defensive
        server.force_exit = True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@contextlib.asynccontextmanager
async def serve_asgi(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[int]:
    """Serve any ASGI app in the current loop; yields the bound port.

    Handy for a test-side webhook receiver::

        async with serve_asgi(receiver_app) as port:
            ...
    """
    server, task, bound = await _start_uvicorn(app, host, port)
    try:
        yield bound
    finally:
        await _stop_uvicorn(server, task)


def _content_disposition_params(value: str) -> dict[str, str]:
    """Parse ``form-data; name="x"; filename="..."`` (RFC 7578 / HTML5 / RFC 5987)."""
    params: dict[str, str] = {}
    for match in re.finditer(r';\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', value):
        key = match.group(1).lower()
        raw = match.group(2).strip()
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            # HTML5 multipart encoding (what httpx, browsers send): " -> %22,
            # control characters -> %XX.  Only undo exactly those escapes.
            raw = re.sub(
                r"%(0[0-9A-Fa-f]|1[0-9A-Fa-f]|22)", lambda m: chr(int(m.group(1), 16)), raw
            )
        if key.endswith("*"):  # RFC 5987: filename*=UTF-8''%E7%8E%8B...
            charset, _, rest = raw.partition("'")
            _lang, _, encoded = rest.partition("'")
            raw = unquote(encoded, encoding=charset or "utf-8", errors="replace")
        params[key] = raw
    # filename* wins over filename.
    for key in list(params):
        if key.endswith("*"):
            params[key[:-1]] = params.pop(key)
    return params


def _decode_header_bytes(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_multipart(body: bytes, content_type: str) -> tuple[list[tuple[str, str]], dict[str, dict[str, Any]]]:
    """Parse a multipart/form-data body into (fields, files).

    ``files`` maps part name to ``{"filename", "content", "content_type"}``.
    The filename is returned exactly as the client meant it (UTF-8).
    """
    match = re.search(r'boundary=("[^"]+"|[^;\s]+)', content_type)
    if not match:
        raise ApiError(400, "Bad Request: multipart boundary is missing")
    boundary = match.group(1).strip('"').encode("latin-1")
    fields: list[tuple[str, str]] = []
    files: dict[str, dict[str, Any]] = {}
    chunks = body.split(b"--" + boundary)
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        head, _sep, data = chunk.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        headers: dict[str, str] = {}
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name:
                headers[name.strip().lower().decode("latin-1")] = _decode_header_bytes(value.strip())
        disposition = _content_disposition_params(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            continue
        if "filename" in disposition:
            files[name] = {
                "filename": disposition["filename"],
                "content": data,
                "content_type": headers.get("content-type", "application/octet-stream"),
            }
        else:
            charset = "utf-8"
            ctype = headers.get("content-type", "")
            cs = re.search(r"charset=([\w-]+)", ctype)
            if cs:
                charset = cs.group(1)
            fields.append((name, data.decode(charset, errors="replace")))
    return fields, files


def _decode_form_value(key: str, value: str) -> Any:
    """Form values arrive as strings; PTB JSON-encodes non-string values."""
    if key in _RAW_STRING_KEYS or not value:
        return value
    first = value[0]
    if first in "{[-" or first.isdigit() or value in ("true", "false", "null"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _normalize_ints(params: dict[str, Any]) -> None:
    for key in _INT_KEYS:
        value = params.get(key)
        if isinstance(value, str) and value.lstrip("-").isdigit():
            params[key] = int(value)


def _resolve_attachments(value: Any, files: dict[str, dict[str, Any]], used: set[str]) -> Any:
    """Replace ``attach://name`` references (InputMedia) by the uploaded file."""
    if isinstance(value, str) and value.startswith("attach://"):
        name = value[len("attach://") :]
        if name in files:
            used.add(name)
            return files[name]
        return value
    if isinstance(value, dict):
        return {k: _resolve_attachments(v, files, used) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_attachments(v, files, used) for v in value]
    return value


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------- the fake


class FakeBotApi:
    """In-process fake of the Telegram Bot API.  See the module docstring."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delay: float = 0.0,
        strict: bool = True,
        bot_first_name: str = "CreditBot",
        bot_username: str = "creditbot_test_bot",
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        #: seconds to sleep before answering every call (simulated latency)
        self.delay = delay
        #: per-method override of ``delay`` (method names as in the API, e.g. "sendMessage")
        self.method_delays: dict[str, float] = {}
        #: emulate Telegram's errors for bad deletes/edits/callback answers
        self.strict = strict
        #: chats for which every send* answers 403 "bot was blocked by the user"
        self.blocked_chats: set[int] = set()
        self.bot_first_name = bot_first_name
        self.bot_username = bot_username

        self.calls: list[Call] = []
        self._by_method: defaultdict[str, list[Call]] = defaultdict(list)
        self._by_method_chat: defaultdict[tuple[str, Any], list[Call]] = defaultdict(list)
        self._by_chat: defaultdict[Any, list[Call]] = defaultdict(list)
        self._sent: defaultdict[Any, list[Call]] = defaultdict(list)

        #: current state of every message: (chat_id, message_id) -> Message dict
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        #: (chat_id, message_id) of messages deleted through deleteMessage(s)
        self.deleted: set[tuple[int, int]] = set()
        #: callback_query_id -> {"chat_id", "message_id", "data", "answered", "answer"}
        self.callback_queries: dict[str, dict[str, Any]] = {}
        #: every update the fake produced or was given, by update_id
        self.updates_by_id: dict[int, dict[str, Any]] = {}
        #: (scope json, language_code) -> list of {"command", "description"}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        #: webhook settings from setWebhook (None when polling)
        self.webhook: dict[str, Any] | None = None
        #: webhook POSTs made by the fake
        self.deliveries: list[Delivery] = []

        self._faults: defaultdict[str | None, list[_Fault]] = defaultdict(list)
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._pending: deque[dict[str, Any]] = deque()
        self._updates_event = asyncio.Event()
        self._next_update_id = 100_000
        self._next_message_id: defaultdict[int, int] = defaultdict(int)
        self._last_bot_message: dict[int, int] = {}
        self._chat_info: dict[int, dict[str, Any]] = {}
        self._cq_counter = itertools.count(4_382_000_000_000_000_001)
        self._file_counter = itertools.count(1)
        self._waiters: defaultdict[Any, list[_Waiter]] = defaultdict(list)
        self._bg_tasks: set[asyncio.Task[Any]] = set()
        self._webhook_sem: asyncio.Semaphore | None = None
        self._client: httpx.AsyncClient | None = None
        self._server: uvicorn.Server | None = None
        self._server_task: asyncio.Task[None] | None = None
        self._closing = False

        self._handlers: dict[str, Callable[[str, dict[str, Any]], Any]] = {
            "getme": self._m_get_me,
            "getupdates": self._m_get_updates,
            "sendmessage": self._m_send_message,
            "sendphoto": self._m_send_photo,
            "senddocument": self._m_send_document,
            "sendsticker": self._m_send_sticker,
            "deletemessage": self._m_delete_message,
            "deletemessages": self._m_delete_messages,
            "answercallbackquery": self._m_answer_callback_query,
            "editmessagetext": self._m_edit_message_text,
            "editmessagecaption": self._m_edit_message_caption,
            "editmessagereplymarkup": self._m_edit_message_reply_markup,
            "sendchataction": self._m_send_chat_action,
            "setwebhook": self._m_set_webhook,
            "deletewebhook": self._m_delete_webhook,
            "getwebhookinfo": self._m_get_webhook_info,
            "setmycommands": self._m_set_my_commands,
            "getmycommands": self._m_get_my_commands,
            "deletemycommands": self._m_delete_my_commands,
            "getfile": self._m_get_file,
            "getchat": self._m_get_chat,
            "close": self._m_true,
            "logout": self._m_true,
            "setchatmenubutton": self._m_true,
            "setmydescription": self._m_true,
            "setmyshortdescription": self._m_true,
        }
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._file_endpoint, methods=["GET"]),
            ]
        )

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeBotApi:
        """Start serving on ``host:port`` (port 0 = pick a free one)."""
        self._closing = False
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        )
        self._server, self._server_task, self.port = await _start_uvicorn(self.app, self.host, self.port)
        return self

    async def stop(self) -> None:
        """Release long polls, finish webhook POSTs, stop the server."""
        self._closing = True
        self._wake_pollers()
        tasks = list(self._bg_tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=5)
            for task in tasks:
                task.cancel()
        if self._server is not None and self._server_task is not None:
            await _stop_uvicorn(self._server, self._server_task)
            self._server = self._server_task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.future.done():
                    waiter.future.cancel()
        self._waiters.clear()

    async def __aenter__(self) -> FakeBotApi:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``; PTB appends the token."""
        return f"{self.root_url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``; PTB appends the token."""
        return f"{self.root_url}/file/bot"

    @property
    def bot_id(self) -> int:
        head = self.token.split(":", 1)[0]
        return int(head) if head.isdigit() else 123456789

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    # ------------------------------------------------------------------ recording helpers

    def calls_of(self, method: str, chat_id: int | str | None = None) -> list[Call]:
        """Calls of ``method`` (any status), optionally only those for ``chat_id``."""
        key = method.lower()
        if chat_id is None:
            return list(self._by_method.get(key, ()))
        return list(self._by_method_chat.get((key, chat_id), ()))

    def count_calls(self, method: str, chat_id: int | str | None = None, *, ok_only: bool = False) -> int:
        """Number of calls of ``method`` (to ``chat_id``); no copying."""
        key = method.lower()
        bucket = self._by_method.get(key, ()) if chat_id is None else self._by_method_chat.get((key, chat_id), ())
        if not ok_only:
            return len(bucket)
        return sum(1 for call in bucket if call.status == 200)

    def calls_to(self, chat_id: int | str) -> list[Call]:
        """Every call (any method, any status) concerning ``chat_id``."""
        return list(self._by_chat.get(chat_id, ()))

    def sent_to(self, chat_id: int | str) -> list[Call]:
        """Successful message-producing calls (sendMessage/Photo/Document/Sticker,
        copyMessage, forwardMessage) to ``chat_id``, in order."""
        return list(self._sent.get(chat_id, ()))

    def sent_count(self, chat_id: int | str) -> int:
        return len(self._sent.get(chat_id, ()))

    def texts_to(self, chat_id: int | str) -> list[str | None]:
        """Texts/captions of ``sent_to(chat_id)``."""
        return [call.text for call in self._sent.get(chat_id, ())]

    def last_bot_message(self, chat_id: int) -> dict[str, Any] | None:
        """Current state (after edits) of the bot's newest message in ``chat_id``."""
        message_id = self._last_bot_message.get(chat_id)
        if message_id is None:
            return None
        return self.messages.get((chat_id, message_id))

    def is_deleted(self, chat_id: int, message_id: int) -> bool:
        return (chat_id, message_id) in self.deleted

    def uploaded_files(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """``{"filename", "content", "content_type"}`` of every successful upload."""
        calls = self.calls if chat_id is None else self._by_chat.get(chat_id, ())
        return [c.file for c in calls if c.ok and c.file is not None]  # type: ignore[misc]

    def reset_calls(self) -> None:
        """Forget recorded calls (not messages, files or webhook state)."""
        self.calls.clear()
        self._by_method.clear()
        self._by_method_chat.clear()
        self._by_chat.clear()
        self._sent.clear()

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 5,
        *,
        chat_id: int | str | None = None,
    ) -> Any:
        """Wait until ``predicate()`` is truthy; return its value.

        The predicate is re-evaluated whenever a call is recorded or a webhook
        delivery finishes.  Pass ``chat_id`` to only re-evaluate on events of
        that chat (cheap with many concurrent waiters).  Raises
        ``TimeoutError`` listing the last calls.
        """
        value = predicate()
        if value:
            return value
        loop = asyncio.get_running_loop()
        waiter = _Waiter(predicate, loop.create_future())
        self._waiters[chat_id].append(waiter)
        try:
            return await asyncio.wait_for(waiter.future, timeout)
        except asyncio.TimeoutError:
            recent = "\n  ".join(
                f"{c.method} chat={c.chat_id} status={c.status} text={c.text!r}" for c in self.calls[-10:]
            )
            raise TimeoutError(
                f"FakeBotApi.wait_for timed out after {timeout}s; last calls:\n  {recent or '(none)'}"
            ) from None
        finally:
            waiters = self._waiters.get(chat_id)
            if waiters is not None:
                with contextlib.suppress(ValueError):
                    waiters.remove(waiter)
                if not waiters:
                    del self._waiters[chat_id]

    async def wait_calls(
        self,
        method: str,
        n: int = 1,
        timeout: float = 5,
        *,
        chat_id: int | str | None = None,
    ) -> list[Call]:
        """Wait until at least ``n`` calls of ``method`` (to ``chat_id``) were
        recorded; return all of them so far."""
        key = method.lower()
        bucket = self._by_method[key] if chat_id is None else self._by_method_chat[(key, chat_id)]
        await self.wait_for(lambda: len(bucket) >= n, timeout, chat_id=chat_id)
        return list(bucket)

    async def wait_sent(self, chat_id: int | str, n: int = 1, timeout: float = 5) -> list[Call]:
        """Wait until ``sent_to(chat_id)`` has at least ``n`` entries."""
        bucket = self._sent[chat_id]
        await self.wait_for(lambda: len(bucket) >= n, timeout, chat_id=chat_id)
        return list(bucket)

    async def wait_deliveries(self, n: int = 1, timeout: float = 5) -> list[Delivery]:
        """Wait until ``n`` webhook POSTs finished."""
        await self.wait_for(lambda: len(self.deliveries) >= n, timeout)
        return list(self.deliveries)

    def _notify(self, chat_id: Any) -> None:
        if not self._waiters:
            return
        keys = (None,) if chat_id is None else (chat_id, None)
        for key in keys:
            waiters = self._waiters.get(key)
            if not waiters:
                continue
            for waiter in waiters:
                if waiter.future.done():
                    continue
                try:
                    value = waiter.predicate()
                except Exception as exc:  # surface predicate bugs in the test
                    waiter.future.set_exception(exc)
                    continue
                if value:
                    waiter.future.set_result(value)

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        method = call.method.lower()
        self._by_method[method].append(call)
        chat_id = call.chat_id
        if chat_id is not None:
            self._by_method_chat[(method, chat_id)].append(call)
            self._by_chat[chat_id].append(call)
            if call.status == 200 and method in _MESSAGE_SENDING:
                self._sent[chat_id].append(call)
        self._notify(chat_id)

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str | None,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        chat_id: int | str | None = None,
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` (None = any method;
        only those for ``chat_id`` if given) with an error.

        ``retry_after`` adds ``parameters.retry_after`` (PTB raises
        ``RetryAfter``).  Without ``description`` a Telegram-like default is
        used, e.g. 403 -> "Forbidden: bot was blocked by the user".
        """
        if description is None:
            description = _DEFAULT_DESCRIPTIONS.get(status, f"Error {status}")
            if "{retry_after}" in description:
                description = description.format(retry_after=retry_after or 1)
        key = method.lower() if method else None
        self._faults[key].append(_Fault(key, status, description, retry_after, chat_id, count))

    def _take_fault(self, method: str, chat_id: Any) -> _Fault | None:
        for key in (method, None):
            faults = self._faults.get(key)
            if not faults:
                continue
            for fault in faults:
                if fault.chat_id is not None and fault.chat_id != chat_id:
                    continue
                fault.remaining -= 1
                if fault.remaining <= 0:
                    faults.remove(fault)
                return fault
        return None

    # ------------------------------------------------------------------ user side

    def _new_update_id(self) -> int:
        self._next_update_id += 1
        return self._next_update_id

    def _new_message_id(self, chat_id: int) -> int:
        self._next_message_id[chat_id] += 1
        return self._next_message_id[chat_id]

    def _new_file(self, content: bytes, mime_type: str, filename: str | None, kind: str) -> _StoredFile:
        n = next(self._file_counter)
        prefix = {"photos": "AgACAgUAAxkBAAI", "documents": "BQACAgUAAxkBAAI", "stickers": "CAACAgIAAxkBAAI"}.get(
            kind, "BAACAgUAAxkBAAI"
        )
        ext = ""
        if filename and "." in filename:
            ext = filename.rsplit(".", 1)[1]
        else:
            ext = (mimetypes.guess_extension(mime_type) or ".bin").lstrip(".")
        stored = _StoredFile(
            file_id=f"{prefix}{n:06d}Fake{n * 7919 % 100000:05d}",
            file_unique_id=f"AgAD{n:06d}",
            file_path=f"{kind}/file_{n}.{ext}",
            content=content,
            mime_type=mime_type,
            filename=filename,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _chat(self, chat_id: int) -> dict[str, Any]:
        info = self._chat_info.get(chat_id)
        if info is not None:
            return info
        if isinstance(chat_id, int) and chat_id < 0:
            return {"id": chat_id, "type": "group", "title": f"Group {chat_id}"}
        return {"id": chat_id, "type": "private"}

    def _user_message(
        self, chat_id: int, user_id: int | None, first_name: str, **content: Any
    ) -> dict[str, Any]:
        if user_id is None:
            user_id = chat_id if chat_id > 0 else 1
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "zh-hans"}
        if chat_id > 0:
            self._chat_info[chat_id] = {"id": chat_id, "type": "private", "first_name": first_name}
        message_id = self._new_message_id(chat_id)
        message = {
            "message_id": message_id,
            "from": user,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
        }
        message.update({k: v for k, v in content.items() if v is not None})
        self.messages[(chat_id, message_id)] = message
        return message

    def _inject(self, update: dict[str, Any]) -> int:
        if "update_id" not in update:
            update["update_id"] = self._new_update_id()
        update_id = update["update_id"]
        self.updates_by_id[update_id] = update
        if self.webhook is not None:
            self._schedule_delivery(update, self.webhook.get("secret_token"))
        else:
            self._pending.append(update)
            self._wake_pollers()
        return update_id

    def user_message(
        self,
        chat_id: int,
        text: str,
        user_id: int | None = None,
        first_name: str = "小明",
        *,
        entities: list[dict[str, Any]] | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """The user writes ``text``; returns the update_id.  The message gets a
        fresh message_id (see ``user_message_id``) the bot may delete."""
        reply_to = None
        if reply_to_message_id is not None:
            reply_to = self.messages.get((chat_id, reply_to_message_id))
        message = self._user_message(
            chat_id, user_id, first_name, text=text, entities=entities, reply_to_message=reply_to
        )
        return self._inject({"message": message})

    def user_command(
        self,
        chat_id: int,
        text: str,
        user_id: int | None = None,
        first_name: str = "小明",
    ) -> int:
        """Like ``user_message`` but with the ``bot_command`` entity a Telegram
        client adds when the text starts with "/" (what CommandHandler needs)."""
        entities = None
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
        return self.user_message(chat_id, text, user_id, first_name, entities=entities)

    def user_callback(
        self,
        chat_id: int,
        data: str,
        message_id: int | None = None,
        user_id: int | None = None,
        first_name: str = "小明",
    ) -> tuple[int, str]:
        """The user presses an inline button with ``data`` on ``message_id``
        (default: the bot's newest message in the chat).  Returns
        ``(update_id, callback_query_id)``."""
        if user_id is None:
            user_id = chat_id if chat_id > 0 else 1
        if message_id is None:
            message_id = self._last_bot_message.get(chat_id)
        message: dict[str, Any] | None = None
        if message_id is not None:
            if (chat_id, message_id) in self.deleted:
                # InaccessibleMessage
                message = {"chat": self._chat(chat_id), "message_id": message_id, "date": 0}
            else:
                message = self.messages.get((chat_id, message_id))
        if message is None:
            # A button on a message the fake never saw: make one up.
            message_id = message_id or self._new_message_id(chat_id)
            message = {
                "message_id": message_id,
                "from": self.bot_user,
                "chat": self._chat(chat_id),
                "date": int(time.time()),
                "text": "",
            }
            self.messages[(chat_id, message_id)] = message
        cq_id = str(next(self._cq_counter))
        self.callback_queries[cq_id] = {
            "chat_id": chat_id,
            "message_id": message_id,
            "data": data,
            "answered": False,
            "answer": None,
        }
        query = {
            "id": cq_id,
            "from": {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "zh-hans"},
            "chat_instance": str(abs(hash(("chat_instance", chat_id))) % 10**18),
            "message": message,
            "data": data,
        }
        return self._inject({"callback_query": query}), cq_id

    def user_photo(
        self,
        chat_id: int,
        content: bytes = TINY_PNG,
        caption: str | None = None,
        user_id: int | None = None,
        first_name: str = "小明",
    ) -> int:
        """The user sends a photo (downloadable via getFile)."""
        stored = self._new_file(content, "image/jpeg", None, "photos")
        small = self._new_file(content, "image/jpeg", None, "photos")
        sizes = [
            {"file_id": small.file_id, "file_unique_id": small.file_unique_id, "width": 90, "height": 90,
             "file_size": len(content)},
            {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "width": 800, "height": 800,
             "file_size": len(content)},
        ]
        message = self._user_message(chat_id, user_id, first_name, photo=sizes, caption=caption)
        return self._inject({"message": message})

    def user_sticker(
        self,
        chat_id: int,
        emoji: str = "😀",
        user_id: int | None = None,
        first_name: str = "小明",
    ) -> int:
        """The user sends a (static) sticker."""
        stored = self._new_file(b"RIFF\x00\x00\x00\x00WEBP", "image/webp", "sticker.webp", "stickers")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": len(stored.content),
        }
        message = self._user_message(chat_id, user_id, first_name, sticker=sticker)
        return self._inject({"message": message})

    def user_document(
        self,
        chat_id: int,
        filename: str,
        content: bytes,
        mime: str | None = None,
        caption: str | None = None,
        user_id: int | None = None,
        first_name: str = "小明",
    ) -> int:
        """The user sends a file; the bot can fetch it with getFile + download."""
        mime = mime or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        stored = self._new_file(content, mime, filename, "documents")
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": filename,
            "mime_type": mime,
            "file_size": len(content),
        }
        message = self._user_message(chat_id, user_id, first_name, document=document, caption=caption)
        return self._inject({"message": message})

    def user_message_id(self, update_id: int) -> int | None:
        """message_id of the message carried by update ``update_id``."""
        update = self.updates_by_id.get(update_id, {})
        message = update.get("message") or update.get("edited_message")
        return message["message_id"] if message else None

    def pending_updates(self) -> int:
        """Updates queued for getUpdates and not yet confirmed."""
        return len(self._pending)

    async def post_update_raw(self, update: dict[str, Any], secret_token: Any = ...) -> int | None:
        """Send ``update`` exactly as given (e.g. an old one again, for
        redelivery tests).

        Webhook mode: POST it now and return the HTTP status (None if the
        connection failed); ``secret_token`` overrides the header (None = omit
        it).  Polling mode: queue it for getUpdates and return None.
        """
        update = json.loads(json.dumps(update))  # private copy
        if "update_id" in update:
            self.updates_by_id.setdefault(update["update_id"], update)
        if self.webhook is None:
            if "update_id" not in update:
                update["update_id"] = self._new_update_id()
            self._pending.append(update)
            self._wake_pollers()
            return None
        if secret_token is ...:
            secret_token = self.webhook.get("secret_token")
        delivery = await self._deliver(update, secret_token, self.webhook["url"])
        return delivery.status

    # ------------------------------------------------------------------ webhook delivery

    def _schedule_delivery(self, update: dict[str, Any], secret_token: str | None) -> None:
        assert self.webhook is not None
        url = self.webhook["url"]
        task = asyncio.get_running_loop().create_task(self._deliver_limited(update, secret_token, url))
        self._bg_tasks.add(task)
        task.add_done_callback(self._bg_tasks.discard)

    async def _deliver_limited(self, update: dict[str, Any], secret_token: str | None, url: str) -> None:
        sem = self._webhook_sem or asyncio.Semaphore(40)
        async with sem:
            await self._deliver(update, secret_token, url)

    async def _deliver(self, update: dict[str, Any], secret_token: str | None, url: str) -> Delivery:
        headers = {"Content-Type": "application/json"}
        if secret_token is not None:
            headers[SECRET_HEADER] = secret_token
        chat_id = _update_chat_id(update)
        delivery = Delivery(
            update_id=update.get("update_id"),
            status=None,
            at=time.monotonic(),
            url=url,
            secret_token=secret_token,
            chat_id=chat_id,
        )
        client = self._client or httpx.AsyncClient()
        try:
            response = await client.post(url, content=json.dumps(update).encode(), headers=headers)
            delivery.status = response.status_code
            delivery.body = response.content
            if not 200 <= response.status_code < 300:
                delivery.error = f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}"
        except httpx.HTTPError as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
        finally:
            if client is not self._client:
                await client.aclose()
        self.deliveries.append(delivery)
        self._notify(chat_id)
        return delivery

    # ------------------------------------------------------------------ HTTP layer

    def _wake_pollers(self) -> None:
        event = self._updates_event
        self._updates_event = asyncio.Event()
        event.set()

    async def _parse_params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {
            k: _decode_form_value(k, v) for k, v in request.query_params.multi_items()
        }
        if request.method == "POST":
            body = await request.body()
            content_type = request.headers.get("content-type", "")
            if body:
                if content_type.startswith("application/json"):
                    data = json.loads(body)
                    if isinstance(data, dict):
                        params.update(data)
                elif content_type.startswith("multipart/form-data"):
                    fields, files = parse_multipart(body, content_type)
                    for key, value in fields:
                        params[key] = _decode_form_value(key, value)
                    used: set[str] = set()
                    params = {k: _resolve_attachments(v, files, used) for k, v in params.items()}
                    for name, file in files.items():
                        if name not in used:
                            params[name] = file
                else:  # application/x-www-form-urlencoded
                    for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
                        params[key] = _decode_form_value(key, value)
        _normalize_ints(params)
        return params

    def _chat_of(self, method: str, params: dict[str, Any]) -> Any:
        chat_id = params.get("chat_id")
        if chat_id is None and method == "answercallbackquery":
            query = self.callback_queries.get(str(params.get("callback_query_id")))
            if query is not None:
                chat_id = query["chat_id"]
        return chat_id

    @staticmethod
    def _json(status: int, payload: dict[str, Any]) -> Response:
        return Response(
            json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            status_code=status,
            media_type="application/json",
        )

    async def _endpoint(self, request: Request) -> Response:
        at = time.monotonic()
        token = request.path_params["token"]
        method_name = request.path_params["method"]
        method = method_name.lower()
        try:
            params = await self._parse_params(request)
        except ApiError as exc:
            params, error = {}, exc
        except (ValueError, UnicodeDecodeError) as exc:
            params, error = {}, ApiError(400, f"Bad Request: can't parse request: {exc}")
        else:
            error = None

        delay = self.method_delays.get(method_name, self.delay)
        if delay:
            await asyncio.sleep(delay)

        call = Call(method=method_name, params=params, at=at, token=token)
        handler = self._handlers.get(method)
        result: Any = None
        if error is None:
            call.chat_id = self._chat_of(method, params)
            if handler is None:
                error = ApiError(404, "Not Found: method not found")
            else:
                fault = self._take_fault(method, call.chat_id)
                if fault is not None:
                    parameters = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
                    error = ApiError(fault.status, fault.description, parameters)
                elif (
                    call.chat_id in self.blocked_chats
                    and method.startswith(("send", "copy", "forward"))
                ):
                    error = ApiError(403, "Forbidden: bot was blocked by the user")
                else:
                    try:
                        result = handler(token, params)
                        if asyncio.iscoroutine(result):
                            result = await result
                    except ApiError as exc:
                        error = exc
        if error is not None:
            call.status = error.status
            call.description = error.description
            self._record(call)
            payload: dict[str, Any] = {
                "ok": False,
                "error_code": error.status,
                "description": error.description,
            }
            if error.parameters:
                payload["parameters"] = error.parameters
            return self._json(error.status, payload)
        call.result = result
        self._record(call)
        return self._json(200, {"ok": True, "result": result})

    async def _file_endpoint(self, request: Request) -> Response:
        stored = self._files_by_path.get(request.path_params["path"])
        if stored is None:
            return self._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        return Response(stored.content, media_type=stored.mime_type)

    # ------------------------------------------------------------------ methods

    def _m_true(self, token: str, params: dict[str, Any]) -> bool:
        return True

    def _m_get_me(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user

    async def _m_get_updates(self, token: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset")
        limit = int(params.get("limit") or 100)
        limit = max(1, min(limit, 100))
        timeout = float(params.get("timeout") or 0)
        pending = self._pending
        if isinstance(offset, int):
            if offset < 0:
                while len(pending) > -offset:
                    pending.popleft()
            else:
                while pending and pending[0]["update_id"] < offset:
                    pending.popleft()
        if not pending and timeout > 0 and not self._closing:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while not pending and not self._closing:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                event = self._updates_event
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except asyncio.TimeoutError:
                    break
        if self.webhook is not None:  # set while we were waiting
            return []
        return list(itertools.islice(pending, limit))

    def _require_chat(self, params: dict[str, Any]) -> Any:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        return chat_id

    def _bot_message(self, chat_id: Any, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        message_id = self._new_message_id(chat_id)
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
        }
        message.update({k: v for k, v in content.items() if v is not None})
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        reply_to = params.get("reply_to_message_id")
        reply_parameters = params.get("reply_parameters")
        if isinstance(reply_parameters, dict):
            reply_to = reply_parameters.get("message_id", reply_to)
        if reply_to is not None:
            original = self.messages.get((chat_id, reply_to))
            if original is not None:
                message["reply_to_message"] = original
        self.messages[(chat_id, message_id)] = message
        self._last_bot_message[chat_id] = message_id
        return message

    def _check_caption(self, params: dict[str, Any]) -> str | None:
        caption = params.get("caption")
        if caption is not None and self.strict and _utf16_len(str(caption)) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        return caption

    def _m_send_message(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._require_chat(params)
        text = params.get("text")
        if text is None or str(text).strip() == "":
            raise ApiError(400, "Bad Request: message text is empty")
        text = str(text)
        if self.strict and _utf16_len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return self._bot_message(chat_id, params, text=text, entities=params.get("entities"))

    def _media_file(self, value: Any, kind: str, default_mime: str) -> tuple[_StoredFile | None, str | None]:
        """Returns (stored file, remote URL) for an upload / file_id / URL."""
        if isinstance(value, dict) and "content" in value:
            mime = value.get("content_type") or default_mime
            return self._new_file(value["content"], mime, value.get("filename"), kind), None
        if isinstance(value, str) and value:
            if value in self._files:
                return self._files[value], None
            if value.startswith(("http://", "https://")):
                return None, value
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _m_send_photo(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._require_chat(params)
        stored, url = self._media_file(params.get("photo"), "photos", "image/jpeg")
        if stored is None:
            stored = self._new_file(b"", "image/jpeg", url.rsplit("/", 1)[-1] if url else None, "photos")
        size = len(stored.content)
        sizes = [
            {"file_id": stored.file_id + "s", "file_unique_id": stored.file_unique_id + "s",
             "width": 90, "height": 90, "file_size": size},
            {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
             "width": 320, "height": 320, "file_size": size},
        ]
        return self._bot_message(
            chat_id, params, photo=sizes, caption=self._check_caption(params),
            caption_entities=params.get("caption_entities"),
        )

    def _m_send_document(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._require_chat(params)
        stored, url = self._media_file(params.get("document"), "documents", "application/octet-stream")
        if stored is None:
            name = (url or "file").rsplit("/", 1)[-1] or "file"
            stored = self._new_file(b"", mimetypes.guess_type(name)[0] or "application/octet-stream", name,
                                    "documents")
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": stored.filename,
            "mime_type": stored.mime_type,
            "file_size": len(stored.content),
        }
        if document["file_name"] is None:
            del document["file_name"]
        return self._bot_message(
            chat_id, params, document=document, caption=self._check_caption(params),
            caption_entities=params.get("caption_entities"),
        )

    def _m_send_sticker(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._require_chat(params)
        stored, _url = self._media_file(params.get("sticker"), "stickers", "image/webp")
        if stored is None:
            stored = self._new_file(b"", "image/webp", "sticker.webp", "stickers")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return self._bot_message(chat_id, params, sticker=sticker)

    def _existing_message(self, chat_id: Any, message_id: Any, not_found: str) -> dict[str, Any]:
        key = (chat_id, message_id)
        message = self.messages.get(key)
        if message is None or key in self.deleted:
            if self.strict:
                raise ApiError(400, f"Bad Request: {not_found}")
            message = {"message_id": message_id, "from": self.bot_user, "chat": self._chat(chat_id),
                       "date": int(time.time())}
            self.messages[key] = message
        return message

    def _m_delete_message(self, token: str, params: dict[str, Any]) -> bool:
        chat_id = self._require_chat(params)
        message_id = params.get("message_id")
        self._existing_message(chat_id, message_id, "message to delete not found")
        self.deleted.add((chat_id, message_id))
        return True

    def _m_delete_messages(self, token: str, params: dict[str, Any]) -> bool:
        chat_id = self._require_chat(params)
        for message_id in params.get("message_ids") or []:
            self.deleted.add((chat_id, message_id))
        return True

    def _m_answer_callback_query(self, token: str, params: dict[str, Any]) -> bool:
        cq_id = str(params.get("callback_query_id") or "")
        query = self.callback_queries.get(cq_id)
        if query is None or query["answered"]:
            if self.strict:
                raise ApiError(
                    400,
                    "Bad Request: query is too old and response timeout expired or query ID is invalid",
                )
            return True
        query["answered"] = True
        query["answer"] = {k: params.get(k) for k in ("text", "show_alert", "url", "cache_time")}
        return True

    def _edit(self, params: dict[str, Any], **changes: Any) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            return True
        chat_id = self._require_chat(params)
        message = self._existing_message(chat_id, params.get("message_id"), "message to edit not found")
        if self.strict and message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        markup = params.get("reply_markup")
        new_markup = markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
        unchanged = all(message.get(k) == v for k, v in changes.items()) and message.get(
            "reply_markup"
        ) == new_markup
        if unchanged and self.strict:
            raise ApiError(400, _NOT_MODIFIED)
        message.update(changes)
        if new_markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = new_markup
        message["edit_date"] = int(time.time())
        return message

    def _m_edit_message_text(self, token: str, params: dict[str, Any]) -> dict[str, Any] | bool:
        text = params.get("text")
        if text is None or str(text).strip() == "":
            raise ApiError(400, "Bad Request: text must be non-empty")
        if self.strict and _utf16_len(str(text)) > 4096:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return self._edit(params, text=str(text))

    def _m_edit_message_caption(self, token: str, params: dict[str, Any]) -> dict[str, Any] | bool:
        return self._edit(params, caption=self._check_caption(params))

    def _m_edit_message_reply_markup(self, token: str, params: dict[str, Any]) -> dict[str, Any] | bool:
        return self._edit(params)

    def _m_send_chat_action(self, token: str, params: dict[str, Any]) -> bool:
        self._require_chat(params)
        if not params.get("action"):
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _m_set_webhook(self, token: str, params: dict[str, Any]) -> bool:
        url = params.get("url") or ""
        if not url:
            self.webhook = None
            return True
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        max_connections = int(params.get("max_connections") or 40)
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": max_connections,
            "allowed_updates": params.get("allowed_updates"),
            "drop_pending_updates": bool(params.get("drop_pending_updates")),
            "ip_address": params.get("ip_address"),
        }
        self._webhook_sem = asyncio.Semaphore(max_connections)
        pending = list(self._pending)
        self._pending.clear()
        self._wake_pollers()
        if not params.get("drop_pending_updates"):
            for update in pending:
                self._schedule_delivery(update, secret)
        return True

    def _m_delete_webhook(self, token: str, params: dict[str, Any]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    def _m_get_webhook_info(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.webhook is None:
            return {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._pending)}
        info: dict[str, Any] = {
            "url": self.webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": sum(1 for t in self._bg_tasks if not t.done()),
            "max_connections": self.webhook["max_connections"],
            "ip_address": "127.0.0.1",
        }
        if self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        failed = next((d for d in reversed(self.deliveries) if d.error), None)
        if failed is not None:
            info["last_error_date"] = int(time.time())
            info["last_error_message"] = failed.error
        return info

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _m_set_my_commands(self, token: str, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        self.commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _m_get_my_commands(self, token: str, params: dict[str, Any]) -> list[dict[str, str]]:
        return self.commands.get(self._commands_key(params), [])

    def _m_delete_my_commands(self, token: str, params: dict[str, Any]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _m_get_file(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    def _m_get_chat(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._require_chat(params)
        chat = dict(self._chat(chat_id))
        chat.setdefault("accent_color_id", 0)
        chat.setdefault("max_reaction_count", 11)
        return chat


def _update_chat_id(update: dict[str, Any]) -> int | None:
    for key in ("message", "edited_message", "channel_post"):
        message = update.get(key)
        if isinstance(message, dict):
            return message.get("chat", {}).get("id")
    query = update.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        if isinstance(message, dict):
            return message.get("chat", {}).get("id")
        return query.get("from", {}).get("id")
    return None

