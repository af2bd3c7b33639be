"""Open quick query (requests confirmed by a dynamic code), decline it, or close it again.

Opening needs identity verification (sub-flow), unless the person has just verified: bank_card and
certificate start this flow with `just_verified=True` right after a successful verification.
"""

from __future__ import annotations

from dialogs import texts
from dialogs.context import Ctx
from dialogs.hooks import SWITCHED_ON, SwitchHooks
from dialogs.forms import Choice, Form, Invalid, Slot, Valid, Validation
from dialogs.types import Button, Text

FLOW_ID = "quick_query"
DECISION = (Choice("open", "quick_query.open"), Choice("decline", "quick_query.decline"))
CLOSE = (Choice("close", "quick_query.close"), Choice("keep", "quick_query.keep"))


class QuickQuery(SwitchHooks, Form):
    id = FLOW_ID
    when_on, when_off = CLOSE, DECISION
    prompt_on, prompt_off = "quick_query.prompt_close", "quick_query.prompt"
    triggers = ("quick_query",)
    requires_login = True
    slots = (Slot("decision", "choice"), Slot("verified", "flow"))

    async def on_start(self, ctx: Ctx) -> None:
        account = await ctx.account()
        if account.security_level != "high":
            ctx.add(Text(ctx.t("quick_query.needs_high"), (Button(ctx.t("menu.bank_card"), "/bank_card"),)))
            ctx.stop()
        elif account.quick_query:
            ctx.put(SWITCHED_ON, True)

    def skip_verified(self, ctx: Ctx) -> bool:
        return ctx.get("decision") != "open" or bool(ctx.get("just_verified"))

    def ask_verified(self, ctx: Ctx) -> None:
        ctx.call("verify_identity")

    def validate_verified(self, value: object, ctx: Ctx) -> Validation:
        return Valid(True) if value else Invalid("verification.failed")

    async def on_complete(self, ctx: Ctx) -> None:
        decision = ctx.get("decision")
        if decision in ("open", "close"):
            await ctx.services.accounts.set_quick_query(ctx.account_id, decision == "open")  # type: ignore[arg-type]
            ctx.forget_account()
        ctx.say(f"quick_query.done_{decision}")
        texts.menu(ctx)


FLOW = QuickQuery()
