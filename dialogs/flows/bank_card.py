"""Bank-card verification (card, name, document, reserved phone, SMS code, captcha): raises the level to high."""

from __future__ import annotations

import logging

from backend.bankcards import CardHolder
from backend.identity_rules import ID_TYPES, mask_card
from dialogs import texts, validators
from dialogs.context import Ctx
from dialogs.forms import Choice, Form, Slot, Validation
from dialogs.hooks import CaptchaHooks, IdentityHooks

logger = logging.getLogger(__name__)

FLOW_ID = "bank_card"
MAX_FAILURES = 3
ID_TYPE_CHOICES = tuple(Choice(code, f"id_type.{key}") for code, key in ID_TYPES)


class BankCard(IdentityHooks, CaptchaHooks, Form):
    id = FLOW_ID
    triggers = ("bank_card",)
    requires_login = True
    slots = (
        Slot("card", secret=True),
        Slot("name"),
        Slot("id_type", "choice", ID_TYPE_CHOICES),
        Slot("id_number"),
        Slot("phone"),
        Slot("sms_code", "code"),
        Slot("captcha", "captcha"),
    )

    async def on_start(self, ctx: Ctx) -> None:
        ctx.say(await texts.verification_intro(ctx, "bank_card"))

    def validate_card(self, value: str, ctx: Ctx) -> Validation:
        return validators.card(value)

    def validate_phone(self, value: str, ctx: Ctx) -> Validation:
        return validators.phone(value)

    async def ask_sms_code(self, ctx: Ctx) -> None:
        await texts.send_code(ctx, "bank_card", ctx.get("phone"))

    async def validate_sms_code(self, value: str, ctx: Ctx) -> Validation:
        return await validators.verify_code(ctx.services, "bank_card", ctx.get("phone"), value)

    async def on_complete(self, ctx: Ctx) -> None:
        claim = CardHolder(card=ctx.get("card"), name=ctx.get("name"), id_type=ctx.get("id_type"),
                           id_number=ctx.get("id_number"), phone=ctx.get("phone"))
        account = await ctx.account()
        if (claim.name, claim.id_type, claim.id_number) != (account.name, account.id_type, account.id_number):
            self._fail(ctx, "bank_card.not_holder")
            return
        check = await ctx.services.bank.verify(claim)
        if not check.ok:
            self._fail(ctx, f"bank_card.{check.outcome}")
            return
        account = await ctx.services.accounts.add_verified_card(account.id, claim.card)
        ctx.forget_account()
        ctx.say("bank_card.done", card=mask_card(claim.card), level=ctx.t(f"level.{account.security_level}"))
        ctx.returns["verified"] = True
        if ctx.get("mode") != "request" and not ctx.state.get("stack") and not account.quick_query:
            ctx.start("quick_query", just_verified=True)

    def _fail(self, ctx: Ctx, key: str) -> None:
        failures = int(ctx.get("failures", 0)) + 1
        logger.info("bank-card verification failed (%s), attempt %d", key, failures)
        ctx.say(key)
        if failures >= MAX_FAILURES:
            ctx.say("bank_card.too_many")
            ctx.stop()
            return
        mode = ctx.get("mode")
        ctx.state["slots"] = {"failures": failures, **({"mode": mode} if mode else {})}
        ctx.say("bank_card.retry")
        ctx.again()


FLOW = BankCard()
