"""Open quick query (requests confirmed by a dynamic code), decline it, or close it again."""

from __future__ import annotations

from dialogs import texts
from dialogs.context import Ctx
from dialogs.forms import Choice, Form, Slot, Valid, Validation
from dialogs.types import Button, Text

FLOW_ID = "quick_query"
DECISION = (Choice("open", "quick_query.open"), Choice("decline", "quick_query.decline"))
CLOSE = (Choice("close", "quick_query.close"), Choice("keep", "quick_query.keep"))


class QuickQuery(Form):
    id = FLOW_ID
    triggers = ("quick_query",)
    requires_login = True
    slots = (Slot("decision", "choice"),)

    async def on_start(self, ctx: Ctx) -> None:
        account = await ctx.account()
        if account.security_level != "high":
            ctx.add(Text(ctx.t("quick_query.needs_high"), (Button(ctx.t("menu.bank_card"), "/bank_card"),)))
            ctx.stop()
        elif account.quick_query:
            ctx.put("is_open", True)

    def choices_decision(self, ctx: Ctx) -> tuple[Choice, ...]:
        return CLOSE if ctx.get("is_open") else DECISION

    def prompt_decision(self, ctx: Ctx) -> str:
        return ctx.t("quick_query.prompt_close" if ctx.get("is_open") else "quick_query.prompt")

    def validate_decision(self, value: str, ctx: Ctx) -> Validation:
        return Valid(value)

    async def on_complete(self, ctx: Ctx) -> None:
        decision = ctx.get("decision")
        if decision in ("open", "close"):
            await ctx.services.accounts.set_quick_query(ctx.account_id, decision == "open")  # type: ignore[arg-type]
            ctx.forget_account()
        ctx.say(f"quick_query.done_{decision}")
        texts.menu(ctx)


FLOW = QuickQuery()
