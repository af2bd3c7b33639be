"""HTTP: the REST channel (Rasa's format), download links, health, sandbox pages, Telegram's webhook."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from backend.bankcards import CardHolder
from backend.identity_rules import (
    ID_TYPES,
    Ok,
    normalize_card,
    normalize_document_number,
    normalize_name,
    normalize_phone,
)
from backend.report_check import (
    REPORT_NUMBER_LENGTH,
    MalformedReportNumber,
    ReportCheck,
)
from bot.agent_console import console_routes
from bot.errors import handle_safely
from bot.json_in import parse_object
from bot.sms_inbound import sms_routes
from bot.webchat import SESSION_HEADER, session_owns, webchat_routes
from bot.wiring import App
from dialogs.types import Attachment, Turn

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
MAX_MESSAGE = 4096
MAX_SENDER = 100
MAX_ATTACHMENT = 256 * 1024  # decoded bytes of an uploaded file ("attachment" in a REST message)
MAX_UPLOAD_BODY = MAX_BODY + MAX_ATTACHMENT * 4 // 3 + 1024  # accepted only when the body carries one
TOO_LARGE = (f"the request is too large: at most {MAX_BODY // 1024} KB, and an attachment's file at most "
             f"{MAX_ATTACHMENT // 1024} KB")


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request, limit: int = MAX_BODY) -> dict[str, Any] | None:
    return parse_object(await request.body(), limit)


def rest_routes(app: App) -> list[Route]:
    """The REST channel trusts the "sender" it is given, as Rasa's does, so only its own client may call it.

    That client proves itself with CREDITBOT_REST_TOKEN; without one the channel is open in the sandbox
    (demos, tests) and not served at all in production, where anyone could otherwise speak as anyone.
    """
    token = app.settings.rest_token
    if token is None and not app.settings.sandbox:
        logger.warning("REST channel off: set CREDITBOT_REST_TOKEN to serve /webhooks/rest/* in production")
        return []
    expected = f"Bearer {token.reveal()}".encode() if token is not None else None

    def refused(request: Request) -> Response | None:
        if expected is None or hmac.compare_digest(request.headers.get("authorization", "").encode(), expected):
            return None
        return JSONResponse({"error": "expected the header Authorization: Bearer <CREDITBOT_REST_TOKEN>"},
                            status_code=401, headers={"WWW-Authenticate": 'Bearer realm="creditbot-rest"'})

    async def webhook(request: Request) -> Response:
        if (refusal := refused(request)) is not None:
            return refusal
        body = await read_limited(request, MAX_UPLOAD_BODY)
        data = None if body is None else parse_object(body)
        if body is None or (data is not None and len(body) - _file_size(data) > MAX_BODY):
            return error(413, TOO_LARGE)  # the file's allowance is for the file, not for anything else
        if data is None:
            return error(400, 'expected a JSON object {"sender": "...", "message": "..."}')
        sender, message = data.get("sender"), data.get("message", "" if "attachment" in data else None)
        if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER:
            return error(400, '"sender" must be a non-empty string of at most 100 characters')
        if not isinstance(message, str) or len(message) > MAX_MESSAGE:
            return error(400, '"message" must be a string of at most 4096 characters')
        attachment = _attachment(data["attachment"]) if "attachment" in data else None
        if isinstance(attachment, str):
            return error(413 if attachment == TOO_LARGE else 400, attachment)
        conversation = f"rest:{sender}"
        locale = data.get("metadata", {}).get("locale") if isinstance(data.get("metadata"), dict) else None
        kind = "file" if attachment else "button" if message.startswith("/") else "text"
        turn = Turn(channel="rest", conversation_id=conversation, text=message or None if attachment else message,
                    locale=locale, kind=kind, attachment=attachment)
        replies = await handle_safely(app.engine, turn)
        return JSONResponse(await app.renderer.render(conversation, replies))

    async def messages(request: Request) -> Response:
        if (refusal := refused(request)) is not None:
            return refusal
        sender = request.path_params["sender"]
        return JSONResponse(await app.services.outbox.take(f"rest:{sender}"))

    return [Route("/webhooks/rest/webhook", webhook, methods=["POST"]),
            Route("/webhooks/rest/messages/{sender}", messages, methods=["GET"])]


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to pass `limit`: a huge body is never held whole."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    except ClientDisconnect:
        return None  # the client left mid-body: nothing to answer, nothing worth a traceback
    return b"".join(chunks)


def _attachment(value: Any) -> Attachment | str:
    """An uploaded file: {"filename", "mime", "content_base64"} (at most 256 KB decoded); a str is the error."""
    shape = '"attachment" must be {"filename": "...", "mime": "...", "content_base64": "..."}'
    if not isinstance(value, dict):
        return shape
    name, mime = value.get("filename"), value.get("mime") or "application/octet-stream"
    content = value.get("content_base64")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        return '"attachment.filename" must be a non-empty string of at most 255 characters'
    if not isinstance(mime, str) or len(mime) > 100:
        return '"attachment.mime" must be a string of at most 100 characters'
    if not isinstance(content, str):
        return '"attachment.content_base64" must be a string of base64'
    if len(content) > MAX_ATTACHMENT * 4 // 3 + 4:
        return TOO_LARGE
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        return '"attachment.content_base64" is not valid base64'
    if len(data) > MAX_ATTACHMENT:
        return TOO_LARGE
    if not data:
        return '"attachment" must not be empty'
    return Attachment(name.strip(), mime, data)


def _file_size(data: dict[str, Any]) -> int:
    """Characters of the attachment's base64, which the upload allowance is for."""
    attachment = data.get("attachment")
    content = attachment.get("content_base64") if isinstance(attachment, dict) else None
    return len(content) if isinstance(content, str) else 0


def file_routes(app: App) -> list[Route]:
    async def download(request: Request) -> Response:
        # Any origin may ask (the widget is embedded anywhere): the secret is the header, not a cookie.
        cors = {"Access-Control-Allow-Origin": "*"}
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={**cors, "Access-Control-Allow-Headers": SESSION_HEADER,
                                                      "Access-Control-Max-Age": "600"})
        found = await app.services.files.get(request.path_params["token"])
        # A web conversation's file also needs its session: a leaked link alone finds nothing.
        if found is None or not session_owns(found[3], request.headers.get(SESSION_HEADER)):
            return error(404, "this link has expired or does not exist")
        filename, mime, content, _ = found
        headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
                   "Cache-Control": "no-store", **cors}
        return Response(content, media_type=mime, headers=headers)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "env": app.settings.env})

    return [Route("/files/{token}", download, methods=["GET", "OPTIONS"]), Route("/health", health)]


def sandbox_routes(app: App) -> list[Route]:
    async def phone_messages(request: Request) -> Response:
        phone = normalize_phone(request.path_params["phone"])
        if not isinstance(phone, Ok):
            return error(400, "not a mainland mobile number")
        inbox = await app.services.sms.inbox(phone.value)  # type: ignore[attr-defined]
        return JSONResponse([{"text": m.text, "sent_at": m.sent_at.isoformat()} for m in inbox])

    async def add_card(request: Request) -> Response:
        data = await _json(request)
        holder = _card_holder(data) if data else None
        if isinstance(holder, str) or holder is None:
            return error(400, holder or "expected a JSON object")
        added = await app.services.bank.add(holder)  # type: ignore[attr-defined]
        return JSONResponse({"added": added}, status_code=201 if added else 200)

    return [Route("/sandbox/phones/{phone}/messages", phone_messages),
            Route("/sandbox/bank-cards", add_card, methods=["POST"])]


def _card_holder(data: dict[str, Any]) -> CardHolder | str:
    fields = {k: str(data.get(k, "")) for k in ("card", "name", "id_type", "id_number", "phone")}
    id_type = fields["id_type"].strip().upper() or "0"
    if id_type not in {code for code, _ in ID_TYPES}:
        return "id_type must be a one-character document code (0 resident ID card ... X other)"
    checks = {"card": normalize_card(fields["card"]), "name": normalize_name(fields["name"]),
              "id_number": normalize_document_number(id_type, fields["id_number"]),
              "phone": normalize_phone(fields["phone"])}
    bad = [name for name, result in checks.items() if not isinstance(result, Ok)]
    if bad:
        return "invalid: " + ", ".join(bad)
    values = {name: result.value for name, result in checks.items()}  # type: ignore[union-attr]
    return CardHolder(id_type=id_type, **values)


VERIFY_LIMIT = 30  # lookups per client address and window: enough for people, too few to enumerate
VERIFY_WINDOW = 60.0  # seconds


def report_routes(app: App) -> list[Route]:
    """GET /reports/verify/{number}: is this report number genuine? No personal data in the answer."""
    check = ReportCheck(app.services.db, app.services.clock)

    async def verify(request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        count = await app.services.kv.incr(f"ratelimit:report_verify:{client}", VERIFY_WINDOW)
        if count > VERIFY_LIMIT:
            return JSONResponse({"error": "too many lookups, try again in a minute"}, status_code=429,
                                headers={"Retry-After": str(int(VERIFY_WINDOW))})
        try:
            found = await check.verify(request.path_params["number"])
        except MalformedReportNumber:
            return error(400, f"a report number is {REPORT_NUMBER_LENGTH} digits")
        if not found.found:
            return JSONResponse({"valid": False}, status_code=404)
        return JSONResponse({"valid": True, "product": found.product, "status": found.status,
                             "issued_at": _iso(found.generated_at), "expires_at": _iso(found.expires_at)},
                            headers={"Cache-Control": "no-store"})

    return [Route("/reports/verify/{number}", verify, methods=["GET"])]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def _refused(request: Request) -> Response:
    return error(403, "sandbox endpoints exist only when CREDITBOT_ENV=sandbox")


def build_web(app: App, extra_routes: list[BaseRoute] | None = None) -> Starlette:
    routes = (rest_routes(app) + file_routes(app) + sms_routes(app) + report_routes(app)
              + webchat_routes(app, _attachment) + console_routes(app) + (extra_routes or []))
    if app.settings.sandbox:
        routes += sandbox_routes(app)
    else:
        routes.append(Route("/sandbox/{rest:path}", _refused, methods=["GET", "POST"]))
    return Starlette(routes=routes)
