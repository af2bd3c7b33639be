"""Get a ready result: the identity code sent to the phone, then the product as text and PDF.

Started by the result-ready notice (the code was texted with it), by a button in "my requests", or
by `/fetch_result <number>`. Only the chat that made the request, or the owner logged in from any
chat, may fetch it; the 7-day retention is checked when the flow starts and again at the end.
"""

from __future__ import annotations

from backend.errors import ReportExpiredError, ReportNotFoundError, ReportNotReadyError
from backend.queries import RequestView
from dialogs import results, texts, validators
from dialogs.context import Ctx
from dialogs.forms import Form, Slot, Validation

FLOW_ID = "fetch_result"


class FetchResult(Form):
    id = FLOW_ID
    triggers = ("fetch_result",)
    slots = (Slot("code", "code"),)

    async def on_start(self, ctx: Ctx) -> None:
        request = await _available(ctx, _int(ctx.get("request_id", ctx.get("arg"))))
        if request is None:
            ctx.stop()
            return
        ctx.put("request_id", request.id)
        ctx.put("owner", request.account_id)

    async def ask_code(self, ctx: Ctx) -> None:
        if ctx.get("code_sent"):
            ctx.clear("code_sent")  # the dispatcher already texted one with the notice
            return
        account = await ctx.services.accounts.get(ctx.get("owner"))
        await texts.send_code(ctx, "result", account.phone)

    async def validate_code(self, value: str, ctx: Ctx) -> Validation:
        account = await ctx.services.accounts.get(ctx.get("owner"))
        return await validators.verify_code(ctx.services, "result", account.phone, value)

    async def on_complete(self, ctx: Ctx) -> None:
        request = await _available(ctx, ctx.get("request_id"))  # it may have expired meanwhile
        if request is None:
            ctx.stop()
            return
        account = await ctx.services.accounts.get(request.account_id)
        await results.deliver(ctx, request, account)


async def _available(ctx: Ctx, request_id: int | None) -> RequestView | None:
    """The request when this chat may have its result now; otherwise says why not and gives None."""
    try:
        if request_id is None:
            raise ReportNotFoundError
        request = await ctx.services.queries.get(request_id)
        if not _may_see(ctx, request.account_id, request.conversation_id):
            raise ReportNotFoundError  # the same answer as for a number that does not exist
        return await ctx.services.queries.result_for(request.account_id, request.id)
    except ReportNotFoundError:
        ctx.say("fetch_result.not_found")
    except ReportNotReadyError as exc:
        ctx.say("fetch_result.not_ready", due=texts.format_time(ctx, exc.fields["due_at"]))  # type: ignore[arg-type]
    except ReportExpiredError:
        ctx.say("fetch_result.expired")
    return None


def _may_see(ctx: Ctx, account_id: int, conversation_id: str) -> bool:
    return ctx.account_id == account_id or (ctx.account_id is None and conversation_id == ctx.conversation_id)


def _int(value: object) -> int | None:
    try:
        return int(str(value).strip().lstrip("#"))
    except (TypeError, ValueError):
        return None


FLOW = FetchResult()
