"""Close the account for good: verify identity, read the warning, confirm; the chat is then logged out."""

from __future__ import annotations

from dialogs import texts
from dialogs.context import Ctx
from dialogs.types import UNRECORDED
from dialogs.forms import Choice, Form, Invalid, Slot, Valid, Validation

FLOW_ID = "close_account"
DECISION = (Choice("confirm", "close_account.confirm"), Choice("keep", "close_account.keep"))


class CloseAccount(Form):
    id = FLOW_ID
    triggers = ("close_account",)
    requires_login = True
    slots = (Slot("verified", "flow"), Slot("decision", "choice", DECISION))

    async def on_start(self, ctx: Ctx) -> None:
        ctx.say("close_account.intro")

    def ask_verified(self, ctx: Ctx) -> None:
        ctx.call("verify_identity")

    def validate_verified(self, value: object, ctx: Ctx) -> Validation:
        return Valid(True) if value else Invalid("verification.failed")

    async def on_complete(self, ctx: Ctx) -> None:
        if ctx.get("decision") != "confirm":
            ctx.say("close_account.kept")
            texts.menu(ctx)
            return
        await ctx.services.accounts.close(ctx.account_id, ctx.conversation_id)  # type: ignore[arg-type]
        ctx.state["account_id"] = None
        ctx.state[UNRECORDED] = True  # type: ignore[literal-required]  # the closing turn is not written back
        ctx.forget_account()
        ctx.say("close_account.done")
        texts.menu(ctx)


FLOW = CloseAccount()
