"""Get a ready result: the identity code sent to the phone, then the product as text and PDF."""

from __future__ import annotations

from backend.errors import ReportExpiredError, ReportNotFoundError, ReportNotReadyError
from dialogs import results, texts, validators
from dialogs.context import Ctx
from dialogs.forms import Form, Invalid, Slot, Valid, Validation

FLOW_ID = "fetch_result"


class FetchResult(Form):
    id = FLOW_ID
    triggers = ("fetch_result",)
    slots = (Slot("code", "code"),)

    async def on_start(self, ctx: Ctx) -> None:
        """Allowed to the chat that made the request, or to the logged-in owner from any chat."""
        request_id = _int(ctx.get("request_id", ctx.get("arg")))
        try:
            request = await ctx.services.queries.get(request_id) if request_id else None
            if request is None or not _may_see(ctx, request.account_id, request.conversation_id):
                raise ReportNotFoundError
            await ctx.services.queries.result_for(request.account_id, request.id)
        except ReportNotFoundError:
            ctx.say("fetch_result.not_found")
            ctx.stop()
            return
        except ReportNotReadyError as exc:
            ctx.say("fetch_result.not_ready", due=texts.format_time(ctx, exc.fields["due_at"]))  # type: ignore[arg-type]
            ctx.stop()
            return
        except ReportExpiredError:
            ctx.say("fetch_result.expired")
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
        request = await ctx.services.queries.get(ctx.get("request_id"))
        account = await ctx.services.accounts.get(ctx.get("owner"))
        await results.deliver(ctx, request, account)


def _may_see(ctx: Ctx, account_id: int, conversation_id: str) -> bool:
    return ctx.account_id == account_id or (ctx.account_id is None and conversation_id == ctx.conversation_id)


def _int(value: object) -> int | None:
    try:
        return int(str(value).strip().lstrip("#"))
    except (TypeError, ValueError):
        return None


FLOW = FetchResult()
