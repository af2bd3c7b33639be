"""SMS query: "CX<login name>" texted from the registered phone asks for the credit hint, answered by SMS.

The reply never tells a stranger which accounts exist: an unknown login name and a phone that is not
the account's get the same words. Only the account's own phone hears about its security level.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backend.accounts import AccountView
from backend.clock import PRODUCT_TZ
from backend.credit_data import Person
from backend.delivery import Delivery
from backend.errors import AccountNotFoundError
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
from dialogs.catalog import Translator
from dialogs.results import build_hint_text
from dialogs.types import Reply

if TYPE_CHECKING:
    from bot.wiring import App  # wiring may register SmsSender: no import cycle

logger = logging.getLogger(__name__)

CHANNEL = "sms"
LANG = "zh"  # texts to Chinese mobile numbers are in Chinese
COMMAND = re.compile(r"cx(?P<login>.+)")
MAX_PER_HOUR = 5
SENT_TTL = 8 * 24 * 3600  # longer than a result is kept
MAX_BODY = 4096


def sms_routes(app: App) -> list[Route]:
    async def inbound(request: Request) -> Response:
        data = _json_object(await request.body())
        sender, to, text = data.get("from"), data.get("to"), data.get("text")
        if not (isinstance(sender, str) and isinstance(to, str) and isinstance(text, str)):
            return _error(400, 'expected a JSON object {"from": "...", "to": "...", "text": "..."}')
        if clean_text(to) != app.settings.sms_service_number:
            return _error(404, "unknown service number")
        phone = normalize_phone(sender)
        if not isinstance(phone, Ok):
            return _error(400, '"from" must be a mainland China mobile number')
        outcome = await answer_sms(app.services, phone.value, text)
        return JSONResponse({"status": outcome})

    return [Route("/sms/inbound", inbound, methods=["POST"])]


def _json_object(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY:
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def answer_sms(services: Services, phone: str, text: str) -> str:
    """Handles one inbound text and texts the answer back; returns what happened (for the gateway's log)."""
    hits = await services.kv.incr(f"sms-in:{services.vault.lookup_hash('phone', phone)}", ttl=3600)
    if hits > MAX_PER_HOUR:
        logger.info("SMS query from %s: over the hourly limit, not answered", mask_phone(phone))
        return "rate_limited"
    t = Translator(LANG)
    key, account = await _decide(services, phone, text)
    outcome = key.rsplit(".", 1)[1]
    if account is not None:
        request = await services.queries.submit(account.id, "hint", f"{CHANNEL}:{account.id}", LANG)
        due = request.due_at.astimezone(PRODUCT_TZ).strftime("%Y-%m-%d %H:%M")
        await services.sms.send(phone, t("sms_query.received", number=request.id, due=due))
    else:
        await services.sms.send(phone, t(key))
    logger.info("SMS query from %s: %s", mask_phone(phone), outcome)
    return outcome


async def _decide(services: Services, phone: str, text: str) -> tuple[str, AccountView | None]:
    """The catalog key of the answer, and the account when the request is accepted."""
    compact = re.sub(r"\s+", "", clean_text(text)).lower()
    match = COMMAND.fullmatch(compact)
    login = normalize_login_name(match.group("login")) if match else None
    if not isinstance(login, Ok):
        return "sms_query.help", None
    account = await services.accounts.find_by_login(login.value)
    if account is None or account.phone != phone:
        return "sms_query.not_matched", None
    if account.security_level == "low":
        return "sms_query.level_low", None
    return "sms_query.received", account


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
