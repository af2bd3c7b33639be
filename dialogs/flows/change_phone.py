"""Change the registered phone: verify identity, then the new number and the code texted to it."""

from __future__ import annotations

from backend.identity_rules import mask_phone
from dialogs import texts, validators
from dialogs.context import Ctx
from dialogs.forms import Form, Invalid, Slot, Valid, Validation

FLOW_ID = "change_phone"


class ChangePhone(Form):
    id = FLOW_ID
    triggers = ("change_phone",)
    requires_login = True
    slots = (Slot("verified", "flow"), Slot("new_phone"), Slot("sms_code", "code"))

    async def on_start(self, ctx: Ctx) -> None:
        account = await ctx.account()
        ctx.say("change_phone.intro", phone=mask_phone(account.phone))

    def ask_verified(self, ctx: Ctx) -> None:
        ctx.call("verify_identity")

    def validate_verified(self, value: object, ctx: Ctx) -> Validation:
        return Valid(True) if value else Invalid("verification.failed")

    async def validate_new_phone(self, value: str, ctx: Ctx) -> Validation:
        result = validators.phone(value)
        if isinstance(result, Valid) and result.value == (await ctx.account()).phone:
            return Invalid("phone.same")
        return result

    async def ask_sms_code(self, ctx: Ctx) -> None:
        await texts.send_code(ctx, "change_phone", ctx.get("new_phone"))

    async def validate_sms_code(self, value: str, ctx: Ctx) -> Validation:
        return await validators.verify_code(ctx.services, "change_phone", ctx.get("new_phone"), value)

    async def on_complete(self, ctx: Ctx) -> None:
        old = (await ctx.account()).phone
        account = await ctx.services.accounts.change_phone(ctx.account_id, ctx.get("new_phone"))  # type: ignore[arg-type]
        ctx.forget_account()
        # The old number hears of it too: if this was not its owner, they learn it at once.
        await ctx.services.sms.send(old, ctx.t("change_phone.sms_notice", phone=mask_phone(account.phone)))
        ctx.say("change_phone.done", phone=mask_phone(account.phone))
        texts.menu(ctx)


FLOW = ChangePhone()
