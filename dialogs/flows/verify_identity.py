"""Prove it is really the account holder (bank card, or digital certificate where offered); a sub-flow.

Callers use a Slot(kind="flow") named "verified" whose ask_ hook does `ctx.call("verify_identity")`;
the chosen method's flow returns `verified=True`, and so does this one.
"""

from __future__ import annotations

from dialogs import texts
from dialogs.context import Ctx
from dialogs.forms import Choice, Form, Invalid, Slot, Valid, Validation

FLOW_ID = "verify_identity"
BANK_CARD = Choice("bank_card", "verify_identity.bank_card")
CERTIFICATE = Choice("certificate", "verify_identity.certificate")
# Mode given to the method's flow: not "request", whose intro speaks of a credit-report request.
METHOD_MODE = "identity"


def methods() -> tuple[Choice, ...]:
    """The ways to verify offered here, and by flows that offer the same choice (forgotten password)."""
    from dialogs.registry import flows_by_id  # the registry imports this module

    return (BANK_CARD, CERTIFICATE) if CERTIFICATE.value in flows_by_id() else (BANK_CARD,)


class VerifyIdentity(Form):
    id = FLOW_ID
    triggers = ("verify_identity",)
    requires_login = True
    slots = (Slot("method", "choice"), Slot("verified", "flow"))

    async def on_start(self, ctx: Ctx) -> None:
        ctx.say("verify_identity.intro")
        offered = methods()
        if len(offered) == 1:
            ctx.put("method", offered[0].value)

    def choices_method(self, ctx: Ctx) -> tuple[Choice, ...]:
        return methods()

    def ask_verified(self, ctx: Ctx) -> None:
        ctx.call(ctx.get("method"), mode=METHOD_MODE)

    def validate_verified(self, value: object, ctx: Ctx) -> Validation:
        return Valid(True) if value else Invalid("verification.failed")

    async def on_complete(self, ctx: Ctx) -> None:
        ctx.returns["verified"] = True
        if not ctx.state.get("stack"):
            texts.menu(ctx)


FLOW = VerifyIdentity()
