"""Messages the product starts on its own: a result is ready (code texted, fetch flow opened)."""

from __future__ import annotations

import logging
from datetime import timedelta

from backend.errors import ResendTooSoonError
from backend.identity_rules import mask_phone
from backend.queries import RequestView
from dialogs.catalog import Translator
from dialogs.engine import Engine
from dialogs.types import Reply, Text, Turn

logger = logging.getLogger(__name__)

LATE_AFTER = timedelta(minutes=10)


async def build_result_ready(engine: Engine, request: RequestView) -> list[Reply]:
    """Texts the identity code, then opens the fetch flow in the request's conversation."""
    services = engine.services
    account = await services.accounts.get(request.account_id)
    turn = Turn(channel=request.conversation_id.split(":", 1)[0], conversation_id=request.conversation_id,
                kind="other", locale=request.locale)
    # The chat's language now, not the one it had when the request was made.
    t = Translator((await engine.load(turn)).get("lang", request.locale))
    try:
        code = await services.codes.issue("result", services.vault.lookup_hash("phone", account.phone))
        minutes = services.codes.policy.ttl_seconds // 60
        await services.sms.send(account.phone, t("sms.result", code=code, minutes=minutes))
    except ResendTooSoonError:
        logger.info("request %s: a result code was sent moments ago; not sending another", request.id)
    lead = ("result.ready", {"product": t(f"product.{request.product}"), "number": request.id,
                             "phone": mask_phone(account.phone)})
    replies = await engine.push(turn, "fetch_result", lead=lead, request_id=request.id, code_sent=True)
    if services.clock.now() - request.due_at > LATE_AFTER:
        replies.insert(1, Text(t("result.delayed")))
    return replies
