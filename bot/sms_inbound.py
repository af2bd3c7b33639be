"""SMS query: "CX<login name>" texted from the registered phone asks for the credit hint, answered by SMS.

The gateway's POST is signed (HMAC-SHA256 over the timestamp and the raw body, with the secret
CREDITBOT_SMS_WEBHOOK_SECRET); only the sandbox phone may post unsigned, and only while no secret is set.
Every well-formed request gets the same HTTP answer, 202 {"status": "accepted"}: what happened goes by
SMS to the sender and into the audit trail, never to the caller. The SMS reply never tells a stranger
which accounts exist: an unknown login name and a phone that is not the account's get the same words.
Only the account's own phone hears about its security level.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backend.accounts import AccountView
from backend.clock import PRODUCT_TZ
from backend.credit_data import Person
from backend.delivery import Delivery
from backend.errors import AccountNotFoundError, ConfigurationError
from backend.identity_rules import (
    Ok,
    clean_text,
    mask_phone,
    normalize_login_name,
    normalize_phone,
)
from backend.queries import RequestView
from backend.reports import build_report_data
from backend.services import Services
from backend.sms import SandboxSms
from bot.json_in import parse_object
from dialogs.catalog import Translator
from dialogs.results import build_hint_text
from dialogs.types import Reply

if TYPE_CHECKING:
    from bot.wiring import App  # wiring may register SmsSender: no import cycle

logger = logging.getLogger(__name__)

CHANNEL = "sms"
LANG = "zh"  # texts to Chinese mobile numbers are in Chinese
COMMAND = re.compile(r"cx(?P<login>.+)")
MAX_PER_HOUR = 5  # texts answered per sending phone
MAX_STRANGERS_PER_HOUR = 5  # phones, not the account's own, answered about one login name
SENT_TTL = 8 * 24 * 3600  # longer than a result is kept
LOCK_TIMEOUT = 30  # seconds: one account's look-then-submit
MAX_BODY = 4096
TIMESTAMP_HEADER = "X-Sms-Timestamp"
SIGNATURE_HEADER = "X-Sms-Signature"
SIGNATURE_WINDOW = 300  # seconds either side of our clock; a signature is remembered this long (twice)
ACCEPTED = {"status": "accepted"}


def sms_routes(app: App) -> list[Route]:
    secret = app.settings.sms_webhook_secret
    if secret is None and not isinstance(app.services.sms, SandboxSms):
        msg = ("CREDITBOT_SMS_WEBHOOK_SECRET is required with a real SMS gateway: without it anyone could "
               "post forged texts to /sms/inbound")
        raise ConfigurationError(msg)

    async def inbound(request: Request) -> Response:
        body = await request.body()
        if secret is not None:
            refusal = await _authenticate(app.services, secret.reveal(), request.headers, body)
            if refusal:
                return _error(401, refusal)
        data = _json_object(body)
        sender, to, text = data.get("from"), data.get("to"), data.get("text")
        if not (isinstance(sender, str) and isinstance(to, str) and isinstance(text, str)):
            return _error(400, 'expected a JSON object {"from": "...", "to": "...", "text": "..."}')
        if clean_text(to) != app.settings.sms_service_number:
            return _error(404, "unknown service number")
        phone = normalize_phone(sender)
        if not isinstance(phone, Ok):
            return _error(422, '"from" must be a mainland China mobile number')
        await answer_sms(app.services, phone.value, text)
        # The same answer whatever happened: the caller must not learn who owns which login name.
        return JSONResponse(ACCEPTED, status_code=202)

    return [Route("/sms/inbound", inbound, methods=["POST"])]


def build_sms_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `<timestamp>.<raw body>`: what the gateway puts in X-Sms-Signature."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def check_sms_signature(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> str | None:
    """Why the request is not the gateway's, or None when it is. Pure: the replay check comes after."""
    timestamp, signature = headers.get(TIMESTAMP_HEADER, ""), headers.get(SIGNATURE_HEADER, "")
    if not timestamp or not signature:
        return f"signed requests only: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required"
    try:
        sent_at = int(timestamp)
    except ValueError:
        return f"{TIMESTAMP_HEADER} must be Unix seconds"
    if abs(now - sent_at) > SIGNATURE_WINDOW:
        return f"{TIMESTAMP_HEADER} is more than {SIGNATURE_WINDOW} seconds from the server's clock"
    expected = build_sms_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().removeprefix("sha256=").encode()):
        return f"{SIGNATURE_HEADER} does not match"
    return None


async def _authenticate(services: Services, secret: str, headers: Mapping[str, str], body: bytes) -> str | None:
    refusal = check_sms_signature(secret, headers, body, services.clock.now().timestamp())
    if refusal:
        return refusal
    # A captured request replayed inside the window has a valid signature: each is taken once.
    signature = headers[SIGNATURE_HEADER].strip().lower().removeprefix("sha256=")
    if not await services.kv.add(f"sms-sig:{signature}", 1, ttl=2 * SIGNATURE_WINDOW):
        return "this signed request was already received"
    return None


def _json_object(body: bytes) -> dict[str, Any]:
    return parse_object(body, MAX_BODY) or {}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def answer_sms(services: Services, phone: str, text: str) -> str:
    """Handles one inbound text and texts the answer back; returns what happened (for the log and tests)."""
    if await services.kv.incr(f"sms-in:{services.vault.lookup_hash('phone', phone)}", ttl=3600) > MAX_PER_HOUR:
        return await _record(services, phone, "rate_limited", None)
    t = Translator(LANG)
    key, login, account = await _decide(services, phone, text)
    outcome = key.rsplit(".", 1)[1]
    # One login name tried from many phones is someone looking for its owner's number. Counted for
    # every name, known or not, and only for other phones, so strangers cannot lock the owner out.
    if outcome == "not_matched" and await services.kv.incr(
            f"sms-in-login:{services.vault.lookup_hash('login', login)}", ttl=3600) > MAX_STRANGERS_PER_HOUR:
        return await _record(services, phone, "rate_limited", account)
    if outcome == "received" and account is not None:
        request, key = await _submit_once(services, account)
        outcome = key.rsplit(".", 1)[1]
        due = request.due_at.astimezone(PRODUCT_TZ).strftime("%Y-%m-%d %H:%M")
        await services.sms.send(phone, t(key, number=request.id, due=due))
    else:
        await services.sms.send(phone, t(key))
    return await _record(services, phone, outcome, account)


async def _submit_once(services: Services, account: AccountView) -> tuple[RequestView, str]:
    """A new request, or the account's SMS request still open; with the catalog key of the answer.

    Texts sent again, or several at the same moment, make one request: the look and the insert run
    under the account's lock in the shared store (Redis when several processes serve).
    """
    conversation_id = f"{CHANNEL}:{account.id}"
    async with services.kv.lock(f"sms-query:{account.id}", timeout=LOCK_TIMEOUT):
        request = await services.queries.open_for(account.id, "hint", conversation_id)
        if request is not None:
            return request, "sms_query.already_received"
        return await services.queries.submit(account.id, "hint", conversation_id, LANG), "sms_query.received"


async def _record(services: Services, phone: str, outcome: str, account: AccountView | None) -> str:
    logger.info("SMS query from %s: %s", mask_phone(phone), outcome)
    async with services.db.transaction() as session:
        await services.audit.record(session, CHANNEL, "query.sms_inbound", account.id if account else None,
                                    outcome=outcome, phone=mask_phone(phone))
    return outcome


async def _decide(services: Services, phone: str, text: str) -> tuple[str, str, AccountView | None]:
    """The catalog key of the answer, the login name asked about, and its account if there is one."""
    compact = re.sub(r"\s+", "", clean_text(text)).lower()
    match = COMMAND.fullmatch(compact)
    login = normalize_login_name(match.group("login")) if match else None
    if not isinstance(login, Ok):
        return "sms_query.help", "", None
    account = await services.accounts.find_by_login(login.value)
    if account is None or account.phone != phone:
        return "sms_query.not_matched", login.value, account
    if account.security_level == "low":
        return "sms_query.level_low", login.value, account
    return "sms_query.received", login.value, account


class SmsSender:
    """Delivers results of SMS queries: the hint itself, texted to the account's phone.

    Register with `app.channels.register("sms", SmsSender(app.services))`. The replies it is given
    (a code and a fetch flow, made for chats) are ignored: a text message can carry the hint itself.
    """

    def __init__(self, services: Services) -> None:
        self._services = services

    async def send(self, conversation_id: str, replies: list[Reply]) -> Delivery:
        try:
            account = await self._services.accounts.get(int(conversation_id.split(":", 1)[1]))
        except (ValueError, AccountNotFoundError):
            return Delivery("blocked", note="no such account")
        for request in await self._services.queries.list_for(account.id):
            if request.conversation_id != conversation_id or request.status != "notifying":
                continue
            # Two due requests may be handed over at once; each is texted once all the same.
            if await self._services.kv.add(f"sms-result:{request.id}", 1, ttl=SENT_TTL):
                await self._text_hint(account, request)
        return Delivery("sent")

    async def _text_hint(self, account: AccountView, request: RequestView) -> None:
        services, t = self._services, Translator(LANG)
        file = await services.credit.load(account.id_type, account.id_number)
        person = Person(name=account.name, id_type=account.id_type, id_number=account.id_number, phone=account.phone)
        data = build_report_data(person, file, product="hint", report_number=request.report_number,
                                 query_time=services.clock.now())
        text = t("sms_query.result", number=request.report_number, hint=build_hint_text(t, file, data))
        await services.sms.send(account.phone, text)
