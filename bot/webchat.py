"""The web chat channel: the widget's files, and a WebSocket per browser tab onto a durable log.

Protocol (JSON text frames on WS /ws/chat):

Browser -> server
  {"type": "hello", "session": S, "after": N, "lang": "zh" | "en"}   the first frame, within 10 s.
      S is the browser's bearer secret (128 random bits as hex, kept in localStorage). The
      conversation is "web:" + sha256(S)[:32], so logs and agents' consoles never see S itself.
      N is the last seq this tab has shown (0 for none).
  {"type": "message", "id": C, "text": T, "title": B}   typed text; a button sends its payload as
      T and its title as B (shown in the chat instead of the payload).
  {"type": "file", "id": C, "name": .., "mime": .., "data_base64": ..}   at most 256 KB decoded.
      C is the client's id for the message. Each is acknowledged with {"type": "ack", "id": C}; a
      client resends what was not acknowledged when it reconnects, and an id seen in the last
      day is acknowledged again without running a second turn.

Server -> browser
  {"type": "ready", "seq": N}   the log after `after` has been replayed.
  {"type": "entry", "seq": N, "from": "user" | "bot" | "agent", "text": .., "buttons": [{"title",
   "payload"}], "secret_input": true, "image": "data:image/png;base64,..", "document": {"url",
   "filename", "mime"}, "agent": name, "client_id": C, "lang": "zh" | "en"}   one message of the
   log; fields that do not apply are absent. `lang` (on the bot's answers to a turn, and on the
   greeting) is the conversation's language after that turn: the widget relabels itself to follow
   it. Entries come in seq order, each once per connection.
  {"type": "typing", "on": bool}   a turn started or ended, in any tab of the conversation; sent
   once after "ready" too when a turn is running, so a tab that (re)connects mid-turn knows.
  {"type": "error", "code": .., "id": C}   bad_frame, too_long, bad_file, rate_limited; `detail`
   says more in English; the widget shows its own text for the code.
  Close codes: 1008 no valid hello in time, or too many bad frames; 1009 a frame too large.

Why nothing is missed or shown twice: every message (the user's masked echo, the bot's replies,
proactive messages from any process through `WebSender`) is appended to the conversation's Outbox
log, whose ids only grow, and then a wake-up is published on the bus topic "webchat:<conversation>".
A connection subscribes before its first read and reads `Outbox.since(cursor)` on every wake-up
(and every few seconds without one), so a lost wake-up only delays, and a reconnecting tab resumes
after the last seq it showed.

A first-time visitor is greeted: at the first hello of a conversation whose log is empty, the
engine's answer to /start (welcome and main menu) is put into the log, under the turn lock, so two
tabs opening at once greet once, and a reconnect (the log is no longer empty) never greets again.

Files (the report PDF) are served at /files/<token> only with the session in the X-Chat-Session
header (`session_owns`): the widget fetches them and saves a blob, so a leaked link alone is useless.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from backend.bus import Bus, Subscription
from backend.delivery import Delivery
from backend.errors import AccountNotFoundError
from backend.outbox import FileStore, Outbox
from bot.errors import handle_safely
from bot.json_in import parse_object
from dialogs.catalog import LANGS, load_catalog
from dialogs.masking import SECRET, mask_free_text
from dialogs.types import Attachment, Delete, Document, Image, Reply, Text, Turn, Typing

if TYPE_CHECKING:
    from bot.wiring import App

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
SESSION = re.compile(r"[A-Za-z0-9_-]{22,128}")
CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
SESSION_HEADER = "X-Chat-Session"
HELLO_TIMEOUT = 10.0  # seconds for the first frame
POLL = 5.0  # seconds between log reads when no wake-up comes (a lost Redis event)
REPLAY_BATCH = 200
MAX_FRAME = 400 * 1024  # characters: a 256 KB file in base64 plus its envelope
MAX_TEXT = 4096
MAX_TITLE = 200
NAME_SLOTS = ("name",)  # slots whose answer is a person's name
MAX_TITLE_SHOWN = 40  # characters of a button title shown in its echo
MAX_FILE_NAME = 80  # characters of an uploaded file's name shown in its echo
MAX_BAD_FRAMES = 5  # per connection, then it is closed
RATE_LIMIT = 120  # messages per session (all its tabs) and window: 2 a second, sustained
RATE_WINDOW = 60.0  # seconds
NEW_WINDOW = 600.0  # seconds over which new conversations per address are counted
TURN_GRACE = 60  # seconds: a turn's lock timeout
SEEN_TTL = 24 * 3600  # how long a client message id is remembered
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'self'")

FileParser = Callable[[Any], Attachment | str]


def conversation_for(session: str) -> str:
    return "web:" + hashlib.sha256(session.encode()).hexdigest()[:32]


def session_owns(conversation_id: str, session: str | None) -> bool:
    """Files of web conversations need the session that owns them; other channels' do not."""
    if not conversation_id.startswith("web:"):
        return True
    if not session or not SESSION.fullmatch(session):
        return False
    return hmac.compare_digest(conversation_for(session), conversation_id)


def topic(conversation_id: str) -> str:
    return f"webchat:{conversation_id}"


class WebRenderer:
    """Replies -> log entries; the captcha inline (an <img> cannot send the session header)."""

    def __init__(self, files: FileStore) -> None:
        self._files = files

    async def render(self, conversation_id: str, replies: list[Reply]) -> list[dict[str, Any]]:
        bodies = [await self._one(conversation_id, reply) for reply in replies]
        return [body for body in bodies if body is not None]

    async def _one(self, conversation_id: str, reply: Reply) -> dict[str, Any] | None:
        if isinstance(reply, Text):
            body: dict[str, Any] = {"from": "agent", "agent": reply.agent} if reply.agent else {"from": "bot"}
            body["text"] = reply.text
            if reply.buttons:
                body["buttons"] = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
            if reply.secret_input:
                body["secret_input"] = True
            return body
        if isinstance(reply, Image):
            return {"from": "bot", "text": reply.caption,
                    "image": "data:image/png;base64," + base64.b64encode(reply.png).decode()}
        if isinstance(reply, Document):
            token = await self._files.put(conversation_id, reply.filename, reply.mime, reply.data)
            return {"from": "bot", "text": reply.caption,
                    "document": {"url": f"/files/{token}", "filename": reply.filename, "mime": reply.mime}}
        if isinstance(reply, Delete | Typing):
            return None  # secrets are never shown (the echo is masked); typing travels as an event
        raise TypeError(type(reply).__name__)


class WebLog:
    """Each web conversation's messages: appended to the Outbox, announced on the bus."""

    def __init__(self, outbox: Outbox, bus: Bus) -> None:
        self.outbox, self.bus = outbox, bus

    async def append(self, conversation_id: str, bodies: list[dict[str, Any]]) -> list[int]:
        if not bodies:
            return []
        ids = await self.outbox.put(conversation_id, bodies)
        await self.bus.publish(topic(conversation_id), {"kind": "entries"})
        return ids

    async def typing(self, conversation_id: str, on: bool) -> None:
        await self.bus.publish(topic(conversation_id), {"kind": "typing", "on": on})


class WebSender:
    """Proactive messages (results, agents, timeouts) from any process reach the open tabs."""

    def __init__(self, log: WebLog, renderer: WebRenderer) -> None:
        self._log, self._renderer = log, renderer

    async def send(self, conversation_id: str, replies: list[Reply]) -> Delivery:
        await self._log.append(conversation_id, await self._renderer.render(conversation_id, replies))
        return Delivery("sent")


def build_web_sender(outbox: Outbox, bus: Bus, files: FileStore) -> WebSender:
    return WebSender(WebLog(outbox, bus), WebRenderer(files))


# -- frames in --------------------------------------------------------------------------------


def parse_hello(raw: str) -> tuple[str, int, str] | None:
    """(session, after, lang) of a valid hello frame."""
    frame = _decode(raw)
    if frame is None or frame.get("type") != "hello":
        return None
    session, after, lang = frame.get("session"), frame.get("after", 0), frame.get("lang")
    if not isinstance(session, str) or not SESSION.fullmatch(session):
        return None
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        return None
    return session, after, lang if lang in LANGS else "zh"


def parse_message(frame: dict[str, Any], parse_file: FileParser) -> tuple[str, str | None, Attachment | None]:
    """(text, button title, file) of a message or file frame; raises FrameError when it is invalid."""
    if frame.get("type") == "file":
        file = parse_file({"filename": frame.get("name"), "mime": frame.get("mime"),
                           "content_base64": frame.get("data_base64")})
        if isinstance(file, str):
            raise FrameError("bad_file", file)
        return "", None, file
    text, title = frame.get("text"), frame.get("title")
    if not isinstance(text, str) or not text.strip():
        raise FrameError("bad_frame", '"text" must be a non-empty string')
    if len(text) > MAX_TEXT:
        raise FrameError("too_long", f'"text" must be at most {MAX_TEXT} characters')
    if title is not None and (not isinstance(title, str) or len(title) > MAX_TITLE):
        raise FrameError("bad_frame", f'"title" must be a string of at most {MAX_TITLE} characters')
    return text, title, None


def _decode(raw: str) -> dict[str, Any] | None:
    return parse_object(raw)


class FrameError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail = code, detail


# -- one connection -----------------------------------------------------------------------------


class Connection:
    """One browser tab: replays the log after the tab's cursor, streams what follows, runs its turns."""

    def __init__(self, ws: WebSocket, app: App, log: WebLog, renderer: WebRenderer, parse_file: FileParser) -> None:
        self.ws, self.app, self.log, self.renderer, self.parse_file = ws, app, log, renderer, parse_file
        self.conversation = ""
        self.cursor = 0
        self.lang = "zh"
        self.bad_frames = 0
        self._send_lock = asyncio.Lock()

    async def run(self) -> None:
        await self.ws.accept()
        hello = await self._hello()
        if hello is None:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):  # it may have gone already
                await self.ws.close(1008, "expected a hello frame")
            return
        session, self.cursor, self.lang = hello
        self.conversation = conversation_for(session)
        if not await self._admitted():
            await self._error(FrameError("too_many_conversations", "too many new conversations from this "
                                         f"address; try again in {NEW_WINDOW / 60:g} minutes"), None)
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self.ws.close(1008, "too many new conversations")
            return
        # Subscribed before the first read: an entry appended in between is read, not missed.
        async with self.log.bus.subscribe(topic(self.conversation)) as subscription:
            await greet_once(self.app, self.log, self.renderer, self.conversation, self.lang)
            await self._drain()
            await self._send({"type": "ready", "seq": self.cursor})
            # Read after subscribing: a turn ending from now on also arrives as an event, after this.
            if await self.app.services.kv.get(busy_key(self.conversation)):
                await self._send({"type": "typing", "on": True})
            pump = asyncio.create_task(self._pump(subscription), name="webchat-pump")
            try:
                await self._receive()
            finally:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump

    async def _admitted(self) -> bool:
        """A known conversation always; a new one while its address (behind a carrier's NAT, many
        people share one) has started fewer than the configured number in the window: a flood of
        fresh session ids would otherwise fill the database with greetings."""
        if await self.log.outbox.since(self.conversation, 0, 1):
            return True
        address = self.ws.client.host if self.ws.client else "unknown"
        key, kv = f"ratelimit:webchat_new:{address}", self.app.services.kv
        if int(await kv.get(key) or 0) >= self.app.settings.webchat_new_per_address:
            return False  # not counted again: the widget's reconnects do not keep the door shut
        await kv.incr(key, NEW_WINDOW)
        return True

    async def _hello(self) -> tuple[str, int, str] | None:
        try:
            message = await asyncio.wait_for(self.ws.receive(), HELLO_TIMEOUT)
        except TimeoutError:
            return None
        raw = message.get("text")
        return parse_hello(raw) if isinstance(raw, str) and len(raw) <= MAX_TEXT else None

    async def _pump(self, subscription: Subscription) -> None:
        while True:
            event = await subscription.get(POLL)
            if event is not None and event.get("kind") == "typing":
                await self._send({"type": "typing", "on": bool(event.get("on"))})
                continue
            try:
                await self._drain()
            except (SQLAlchemyError, OSError):
                # The tab keeps its cursor: the next wake-up or poll reads again from there.
                logger.exception("webchat: reading the log of %s failed", self.conversation)

    async def _drain(self) -> None:
        while True:
            batch = await self.log.outbox.since(self.conversation, self.cursor, REPLAY_BATCH)
            for seq, body in batch:
                if not await self._send({**body, "type": "entry", "seq": seq}):
                    return
                self.cursor = seq
            if len(batch) < REPLAY_BATCH:
                return

    async def _receive(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if isinstance(raw, str) and len(raw) > MAX_FRAME:
                await self.ws.close(1009, f"frames are at most {MAX_FRAME // 1024} KB")
                return
            if not await self._on_frame(raw):
                await self.ws.close(1008, "too many invalid frames")
                return

    async def _on_frame(self, raw: Any) -> bool:
        """False when the connection should be closed."""
        frame = _decode(raw) if isinstance(raw, str) else None
        client_id = frame.get("id") if frame else None
        try:
            if frame is None or frame.get("type") not in ("message", "file"):
                raise FrameError("bad_frame", 'expected {"type": "message" | "file", "id": ..., ...}')
            if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
                raise FrameError("bad_frame", '"id" must be 1-64 letters, digits or _.:-')
            text, title, file = parse_message(frame, self.parse_file)
        except FrameError as exc:
            self.bad_frames += 1
            await self._error(exc, client_id)
            return self.bad_frames < MAX_BAD_FRAMES
        await self._accept(client_id, text, title, file)
        return True

    async def _accept(self, client_id: str, text: str, title: str | None, file: Attachment | None) -> None:
        kv = self.app.services.kv
        if await kv.incr(f"ratelimit:webchat:{self.conversation}", RATE_WINDOW) > RATE_LIMIT:
            await self._error(FrameError("rate_limited", f"at most {RATE_LIMIT} messages in {RATE_WINDOW:g} s"),
                              client_id)
            return
        # Marked for a short while first: if this process dies mid-turn, the tab's resend runs the
        # turn after the grace period (nothing of a failed turn was saved); once the turn is done,
        # the mark lasts a day so a late resend is never run twice.
        seen = f"webchat:seen:{self.conversation}:{client_id}"
        first_time = await kv.add(seen, 1, ttl=TURN_GRACE)
        await self._send({"type": "ack", "id": client_id})
        if first_time:  # else a resend after a reconnect: its turn ran already (or is running)
            kind = "file" if file else "button" if title is not None or text.startswith("/") else "text"
            turn = Turn(channel="web", conversation_id=self.conversation, text=text or None, kind=kind,
                        attachment=file, locale=self.lang, message_ref=f"{self.conversation}:{client_id}")
            await run_turn(self.app, self.log, self.renderer, turn, title, client_id)
            await kv.set(seen, 1, ttl=SEEN_TTL)

    async def _error(self, exc: FrameError, client_id: Any) -> None:
        frame: dict[str, Any] = {"type": "error", "code": exc.code, "detail": exc.detail}
        if isinstance(client_id, str) and CLIENT_ID.fullmatch(client_id):
            frame["id"] = client_id
        await self._send(frame)

    async def _send(self, frame: dict[str, Any]) -> bool:
        """False once the tab is gone; its turns still finish and land in the log."""
        async with self._send_lock:
            try:
                await self.ws.send_text(json.dumps(frame, ensure_ascii=False))
            except (WebSocketDisconnect, RuntimeError, OSError):
                return False
        return True


def busy_key(conversation_id: str) -> str:
    return f"webchat:busy:{conversation_id}"


def turn_lock(conversation_id: str) -> str:
    return f"webchat:turn:{conversation_id}"


def build_echo(echo: str, title: str | None, file: Attachment | None, names: Iterable[str] = ()) -> str:
    """What the person's own bubble shows: the button's title, or the file's name after its 📎.

    Both come from the client as they are, so both are masked like free text (every tab and the
    log see them); a title is only the label of a button, so it is kept short.
    """
    if title and title.strip() and echo != SECRET:
        return mask_free_text(title[:MAX_TITLE], names)[:MAX_TITLE_SHOWN]
    if file is not None and file.name:
        return f"{echo} {mask_free_text(file.name, names)[:MAX_FILE_NAME]}"
    return echo


async def known_names(app: App, turn: Turn) -> list[str]:
    """Names the conversation knows (the signed-in person's, one typed at a name question): masked
    in what the client sent besides its text, which the engine's echo does not see."""
    state = await app.engine.load(turn)
    slots = state.get("slots") or {}
    names = [value for key, value in slots.items() if key in NAME_SLOTS and isinstance(value, str)]
    account_id = state.get("account_id")
    if account_id is not None:
        with contextlib.suppress(AccountNotFoundError):
            names.append((await app.services.accounts.get(account_id)).name)
    return names


async def answer(app: App, renderer: WebRenderer, turn: Turn) -> list[dict[str, Any]]:
    """The engine's replies as log entries, each marked with the conversation's language after the turn."""
    replies = await handle_safely(app.engine, turn)
    bodies = await renderer.render(turn.conversation_id, replies)
    lang = (await app.engine.load(turn)).get("lang")
    return [{**body, "lang": lang} for body in bodies] if lang in LANGS else bodies


async def greet_once(app: App, log: WebLog, renderer: WebRenderer, conversation: str, lang: str) -> None:
    """The welcome and main menu for a conversation whose log is empty; once, whatever the tabs."""
    if await log.outbox.since(conversation, 0, 1):  # the common case, without taking the lock
        return
    async with app.services.kv.lock(turn_lock(conversation)):
        if await log.outbox.since(conversation, 0, 1):  # another tab greeted first
            return
        turn = Turn(channel="web", conversation_id=conversation, text="/start", kind="button", locale=lang)
        await log.append(conversation, await answer(app, renderer, turn))


async def run_turn(app: App, log: WebLog, renderer: WebRenderer, turn: Turn, title: str | None,
                   client_id: str) -> None:
    """The masked echo first, then the replies; one turn at a time per conversation, in every tab.

    The echo is read before the turn, under the same lock, so no other tab's turn can change the
    question (secret or not) between the masking and the answer.
    """
    conversation = turn.conversation_id
    kv = app.services.kv
    await kv.set(busy_key(conversation), 1, ttl=TURN_GRACE)
    await log.typing(conversation, True)
    try:
        async with kv.lock(turn_lock(conversation)):
            names = await known_names(app, turn) if title or turn.attachment else []
            shown = build_echo(await app.engine.echo(turn), title, turn.attachment, names)
            await log.append(conversation, [{"from": "user", "text": shown, "client_id": client_id}])
            await log.append(conversation, await answer(app, renderer, turn))
    finally:
        await kv.delete(busy_key(conversation))
        await log.typing(conversation, False)


# -- routes -------------------------------------------------------------------------------------


@cache
def widget_script() -> str:
    """widget.js with the widget's texts of every language inlined: one request, no CDN."""
    texts = {lang: {k: v for k, v in load_catalog(lang).items() if k.startswith("widget.") or k == "menu.lang"}
             for lang in LANGS}
    inline = json.dumps(texts, ensure_ascii=False).replace("</", "<\\/")
    return (STATIC / "widget.js").read_text(encoding="utf-8").replace("/*@I18N@*/{}", inline, 1)


def webchat_routes(app: App, parse_file: FileParser) -> list[BaseRoute]:
    """The demo page at /, the widget's files, and WS /ws/chat; `parse_file` is the REST channel's
    attachment check, so both channels accept the same files."""
    log = WebLog(app.services.outbox, app.services.bus)
    renderer = WebRenderer(app.services.files)
    no_cache = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

    async def demo(request: Request) -> Response:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"),
                            headers={**no_cache, "Content-Security-Policy": CSP})

    async def script(request: Request) -> Response:
        return Response(widget_script(), media_type="text/javascript; charset=utf-8", headers=no_cache)

    async def style(request: Request) -> Response:
        return Response((STATIC / "widget.css").read_bytes(), media_type="text/css; charset=utf-8",
                        headers=no_cache)

    async def chat(ws: WebSocket) -> None:
        await Connection(ws, app, log, renderer, parse_file).run()

    return [Route("/", demo), Route("/widget.js", script), Route("/widget.css", style),
            WebSocketRoute("/ws/chat", chat)]
