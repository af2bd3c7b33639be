"""The agents' console at /agent: sign in, the queue, claim, transcript, reply, notes, hand back, close.

HTTP side of backend.handoff. The page (bot/static/agent/) talks to a JSON API under /agent/api
and listens on the WebSocket /agent/ws for wake-ups ("queue", "entry", "status" with a handoff
id), which come over the bus, so a console on one server process hears about a conversation that
another process serves (Redis pub/sub when REDIS_URL is set).

Sessions: a random token in an HttpOnly, SameSite=Strict cookie scoped to /agent; the server keeps
only its hash, with an idle limit and an absolute one. Every state-changing call must also carry
the header `X-Requested-With: creditbot-console`, which a cross-site form cannot send.

What an agent reads is what the dialog layer wrote to the transcript: masked before it was
stored, so no call here can reveal more. The conversation id (it may hold a chat id) is never
sent to the console; handoffs are known by their number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from backend.handoff import AGENTS_TOPIC, AgentView, HandoffError, HandoffView, NotFound, NotOpen
from bot.json_in import parse_id, parse_object
from bot.wiring import App
from dialogs.catalog import LANGS, Translator, load_catalog
from dialogs.types import Text

logger = logging.getLogger(__name__)

COOKIE = "creditbot_agent"
CSRF_HEADER = "x-requested-with"
CSRF_VALUE = "creditbot-console"
STATIC = Path(__file__).resolve().parent / "static" / "agent"
LOGIN_LIMIT = 20  # failed sign-ins per client address and window (a whole office may share one)
LOGIN_WINDOW = 300.0
SESSION_CHECK_SECONDS = 30.0
MAX_BODY = 64 * 1024  # a sign-in or an agent's reply; the desk limits the text itself
STATUS = {"not_found": 404, "not_yours": 403, "already_claimed": 409, "not_open": 409, "bad_input": 400}
SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                    "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=SECURITY_HEADERS)


def _error(status: int, message: str) -> JSONResponse:
    return _json({"error": message}, status)


class Console:
    def __init__(self, app: App) -> None:
        self.app = app
        self.desk = app.services.handoffs
        self.agents = app.services.agents

    # -- auth ---------------------------------------------------------------------------------

    async def agent_of(self, conn: HTTPConnection) -> AgentView | None:
        return await self.agents.session(conn.cookies.get(COOKIE))

    async def login(self, request: Request) -> Response:
        if not _csrf_ok(request):
            return _error(403, "missing console header")
        client = request.client.host if request.client else "unknown"
        # Counted before the check, atomically (parallel attempts each take a place); a successful
        # sign-in gives its place back, so only failures add up.
        failures_key, kv = f"ratelimit:agent_login:{client}", self.app.services.kv
        if await kv.incr(failures_key, LOGIN_WINDOW) > LOGIN_LIMIT:
            return _error(429, "too many failed sign-ins from this address; wait a few minutes")
        body = parse_object(await request.body(), MAX_BODY)
        if body is None or not isinstance(body.get("username"), str) \
                or not isinstance(body.get("password"), str) or len(body["password"]) > 200:
            return _error(400, 'expected {"username": "...", "password": "..."}')
        signed = await self.agents.sign_in(body["username"], body["password"], client)
        if signed is None:
            return _error(401, "wrong username or password")
        await kv.incr(failures_key, LOGIN_WINDOW, -1)
        token, agent = signed
        response = _json({"agent": _agent_json(agent)})
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/agent",
                            secure=self.app.settings.base_url.startswith("https://"))
        return response

    async def logout(self, request: Request) -> Response:
        if not _csrf_ok(request):
            return _error(403, "missing console header")
        await self.agents.sign_out(request.cookies.get(COOKIE), await self.agent_of(request))
        response = _json({"ok": True})
        response.delete_cookie(COOKIE, path="/agent")
        return response

    async def me(self, request: Request) -> Response:
        agent = await self.agent_of(request)
        return _json({"agent": _agent_json(agent)}) if agent else _error(401, "signed out")

    # -- the queue and one handoff --------------------------------------------------------------

    async def queue(self, request: Request) -> Response:
        agent = await self.agent_of(request)
        if agent is None:
            return _error(401, "signed out")
        now = self.app.services.clock.now()
        names = await self.agents.names()
        views = await self.desk.queue()
        out, position = [], 0
        for view in views:
            item = view.public(now, names)
            if view.status == "waiting":
                position += 1
                item["position"] = position
            out.append(item)
        return _json({"handoffs": out, "me": _agent_json(agent)})

    async def show(self, request: Request) -> Response:
        return await self._act(request, self._show, state_changing=False)

    async def _show(self, agent: AgentView, handoff_id: int, body: dict[str, Any]) -> Response:
        view = await self.desk.get(handoff_id, agent)
        lines = await self.desk.transcript(view)
        pressed = self._pressed(view)
        return _json({"handoff": await self._public(view),
                      "transcript": [{**line.public(), "text": pressed(line.author, line.text)} for line in lines]})

    async def download(self, request: Request) -> Response:
        return await self._act(request, self._download, state_changing=False)

    async def _download(self, agent: AgentView, handoff_id: int, body: dict[str, Any]) -> Response:
        """The transcript as a plain-text file (B46: text/plain and nosniff, so markup in it is inert)."""
        view = await self.desk.get(handoff_id, agent, action="handoff.transcript_downloaded")
        lines = await self.desk.transcript(view)
        pressed = self._pressed(view)
        text = "\n".join(f"{line.at.isoformat(timespec='seconds')}  {line.author}"
                         f"{f' ({line.agent})' if line.agent else ''}: {pressed(line.author, line.text)}"
                         for line in lines)
        headers = {**SECURITY_HEADERS,
                   "Content-Disposition": f'attachment; filename="handoff-{view.id}.txt"'}
        return Response(text + "\n", media_type="text/plain; charset=utf-8", headers=headers)

    async def claim(self, request: Request) -> Response:
        return await self._act(request, self._claim)

    async def _claim(self, agent: AgentView, handoff_id: int, body: dict[str, Any]) -> Response:
        view = await self.desk.claim(handoff_id, agent)
        text = Translator(view.context.get("lang", "zh"))("agent.claimed", agent=agent.display_name)
        await self.desk.record(view.conversation_id, [("system", text)], view.id)
        delivered = await self._deliver(view, [Text(text)])
        return _json({"handoff": await self._public(view), "delivered": delivered})

    async def reply(self, request: Request) -> Response:
        return await self._act(request, self._reply)

    async def _reply(self, agent: AgentView, handoff_id: int, body: dict[str, Any]) -> Response:
        view, line = await self.desk.reply(handoff_id, agent, body.get("text"))  # type: ignore[arg-type]
        delivered = await self._deliver(view, [Text(line.text, agent=agent.display_name)])
        return _json({"entry": line.public(), "delivered": delivered})

    async def note(self, request: Request) -> Response:
        return await self._act(request, self._note)

    async def _note(self, agent: AgentView, handoff_id: int, body: dict[str, Any]) -> Response:
        line = await self.desk.note(handoff_id, agent, body.get("text"))  # type: ignore[arg-type]
        return _json({"entry": line.public()})

    async def handback(self, request: Request) -> Response:
        return await self._act(request, self._handback)

    async def _handback(self, agent: AgentView, handoff_id: int, body: dict[str, Any]) -> Response:
        return await self._finish(agent, handoff_id, "returned", "agent.handed_back")

    async def close(self, request: Request) -> Response:
        return await self._act(request, self._close)

    async def _close(self, agent: AgentView, handoff_id: int, body: dict[str, Any]) -> Response:
        return await self._finish(agent, handoff_id, "closed", "agent.closed")

    async def _finish(self, agent: AgentView, handoff_id: int, how: str, lead: str) -> Response:
        try:
            view = await self.desk.finish(handoff_id, agent, how)
        except NotOpen:
            # Still waiting is not "no longer with the agents": it is nobody's yet, so claim it first.
            if any(v.id == handoff_id and v.status == "waiting" for v in await self.desk.queue()):
                return _json({"error": "claim this conversation first", "code": "not_claimed"}, 409)
            raise
        replies = await self.app.engine.resume(view.conversation_id, lead)
        delivered = await self._deliver(view, replies) if replies else True
        return _json({"handoff": await self._public(view), "delivered": delivered})

    async def canned(self, request: Request) -> Response:
        if await self.agent_of(request) is None:
            return _error(401, "signed out")
        lang = request.query_params.get("lang", "zh")
        catalog = load_catalog(lang if lang in LANGS else "zh")
        return _json({"canned": [{"key": k, "text": v} for k, v in catalog.items() if k.startswith("canned.")]})

    async def i18n(self, request: Request) -> Response:
        lang = request.path_params["lang"]
        catalog = load_catalog(lang if lang in LANGS else "zh")
        return _json({k: v for k, v in catalog.items() if k.startswith("console.")})

    # -- live events ----------------------------------------------------------------------------

    async def events(self, websocket: WebSocket) -> None:
        agent = await self.agent_of(websocket)
        if agent is None:
            await websocket.close(code=4401)
            return
        await websocket.accept()
        token = websocket.cookies.get(COOKIE)
        async with self.app.services.bus.subscribe(AGENTS_TOPIC) as events:
            reader = asyncio.create_task(_drain(websocket))
            try:
                while not reader.done():
                    # Whichever comes first: an event, the console leaving, or time to re-check the session.
                    getter = asyncio.create_task(events.get(timeout=SESSION_CHECK_SECONDS))
                    await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                    if reader.done():
                        getter.cancel()
                        break
                    event = getter.result()
                    if await self.agents.session(token) is None:
                        await websocket.close(code=4401)
                        break
                    if event is not None:
                        await websocket.send_json({"type": event.get("type"), "handoff": event.get("handoff")})
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                    await reader

    # -- helpers ------------------------------------------------------------------------------

    async def _act(self, request: Request, action: Any, state_changing: bool = True) -> Response:
        if state_changing and not _csrf_ok(request):
            return _error(403, "missing console header")
        agent = await self.agent_of(request)
        if agent is None:
            return _error(401, "signed out")
        handoff_id = parse_id(request.path_params["handoff_id"])
        if handoff_id is None:  # not a number, or beyond the database's ids: nothing to find
            return _error(404, "no such conversation")
        body: dict[str, Any] = {}
        if state_changing and (raw := await request.body()):
            parsed = parse_object(raw, MAX_BODY)
            if parsed is None:
                return _error(400, "expected a JSON object")
            body = parsed
        try:
            return await action(agent, handoff_id, body)  # type: ignore[no-any-return]
        except NotFound:
            return _error(404, "no such conversation")
        except HandoffError as exc:
            return _error(STATUS.get(exc.reason, 409), _MESSAGES.get(exc.reason, str(exc)))

    def _pressed(self, view: HandoffView) -> Callable[[str, str], str]:
        """The person's button presses as the labels they saw (in the conversation's language)."""
        keys = build_button_keys(self.app.engine.flows)
        t = Translator(view.context.get("lang") or "zh")
        flow = view.context.get("flow")
        return lambda author, text: build_pressed_label(text, t, keys, flow) if author == "user" else text

    async def _public(self, view: HandoffView) -> dict[str, Any]:
        item = view.public(self.app.services.clock.now(), await self.agents.names())
        if view.status == "waiting":
            item["position"] = await self.desk.position(view)
        return item

    async def _deliver(self, view: HandoffView, replies: list[Any]) -> bool:
        try:
            delivery = await self.app.channels.send(view.conversation_id, replies)
        except Exception:  # noqa: BLE001 - the agent must hear that it failed, not get a 500
            logger.exception("handoff %s: delivery failed", view.id)
            return False
        return delivery.outcome == "sent"


_MESSAGES = {
    "not_yours": "another agent has this conversation",
    "already_claimed": "another agent claimed this conversation first",
    "not_open": "this conversation is no longer with the agents",
}


# Commands whose button label is not "menu.<command>".
COMMAND_LABELS = {"request_report": "menu.request", "change_phone": "my_account.change_phone",
                  "verify_identity": "my_account.verify", "close_account": "my_account.close"}


def build_button_keys(flows: dict[str, Any]) -> dict[str, list[str]]:
    """Payload "/slot:value" -> the catalog keys its button may have had, most likely first.

    Static answers name their key; answers a hook builds (quick_query's, the verification
    methods) follow "<flow>.<value>". Questions built from the person's credit file are left out:
    their transcript holds a placeholder, never the answer.
    """
    keys: dict[str, list[str]] = {}
    for flow in flows.values():
        for slot in flow.slots:
            if slot.private or slot.kind != "choice":
                continue
            for choice in slot.choices:
                keys.setdefault(f"/{slot.name}:{choice.value}", []).insert(0, choice.label_key)
            keys.setdefault(f"/{slot.name}:", []).extend([f"{flow.id}.", "verify_identity."])
    return keys


def build_pressed_label(text: str, t: Translator, keys: dict[str, list[str]], flow: str | None = None) -> str:
    """A recorded payload as its button's label; anything else (words, unknown payloads) as it is.
    `flow`, the handoff's, decides between flows that share an answer ("/decision:keep")."""
    command, _, arg = text.partition(" ")
    if not command.startswith("/"):
        return text
    name, colon, value = command[1:].partition(":")
    if name in ("lang", "lang_en", "lang_zh") and not colon:
        target = arg or name[5:]
        return Translator("en" if target == "zh" else "zh")("menu.lang") if target in LANGS else text
    if colon:
        candidates = ([f"{flow}.{value}"] if flow and command in keys else []) + keys.get(command, []) \
            + [prefix + value for prefix in keys.get(f"/{name}:", [])]
    else:
        # t.has() below checks each guess, so an unknown command keeps its payload.
        candidates = [COMMAND_LABELS.get(name, "menu." + name)] if not arg else []
    return next((t(key) for key in candidates if t.has(key)), text)


def _agent_json(agent: AgentView | None) -> dict[str, Any] | None:
    return None if agent is None else {"id": agent.id, "username": agent.username, "display_name": agent.display_name}


def _csrf_ok(request: Request) -> bool:
    return request.headers.get(CSRF_HEADER) == CSRF_VALUE


async def _drain(websocket: WebSocket) -> None:
    """Reads (and ignores) what the console sends, so a closed socket is noticed at once."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _page(request: Request) -> Response:
    page = STATIC / "agent.html"
    if not page.is_file():
        return _error(404, "console page missing")
    return FileResponse(page, headers={**SECURITY_HEADERS, "Content-Security-Policy": PAGE_CSP})


async def _static(request: Request) -> Response:
    name = request.path_params["name"]
    path = (STATIC / name).resolve()
    if path.parent != STATIC.resolve() or not path.is_file():
        return _error(404, "not found")
    return FileResponse(path, headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


async def _slash(request: Request) -> Response:
    return RedirectResponse("/agent", status_code=308)


def console_routes(app: App) -> list[Any]:
    console = Console(app)
    api = "/agent/api"
    one = api + "/handoffs/{handoff_id}"
    return [
        Route("/agent", _page), Route("/agent/", _slash), Route("/agent/static/{name}", _static),
        Route(api + "/login", console.login, methods=["POST"]),
        Route(api + "/logout", console.logout, methods=["POST"]),
        Route(api + "/me", console.me), Route(api + "/queue", console.queue),
        Route(api + "/canned", console.canned), Route(api + "/i18n/{lang}", console.i18n),
        Route(one, console.show), Route(one + "/transcript.txt", console.download),
        Route(one + "/claim", console.claim, methods=["POST"]),
        Route(one + "/reply", console.reply, methods=["POST"]),
        Route(one + "/note", console.note, methods=["POST"]),
        Route(one + "/handback", console.handback, methods=["POST"]),
        Route(one + "/close", console.close, methods=["POST"]),
        WebSocketRoute("/agent/ws", console.events),
    ]
