"""Forgotten password: the account by login name or identity, a code to its phone, then identity
verification by bank card or digital certificate (the person's choice, as verify_identity offers it),
and a new password.

The person is not logged in, so the bank-card flow (which checks against the logged-in account) is
not used: the card's four elements are checked here against the account the answers pointed to.
The certificate is checked by the certificate flow's own steps (certificate.ForAccount), against that
same account: bound to it already, or bound to nobody and matching its identity on first use.
"""

from __future__ import annotations

import logging

from backend.bankcards import CardHolder
from backend.identity_rules import ID_TYPES, login_name_key
from dialogs import recovery, validators
from dialogs.context import Ctx
from dialogs.flows import certificate, verify_identity
from dialogs.forms import Choice, Form, Invalid, Slot, Valid, Validation
from dialogs.hooks import CaptchaHooks, IdentityHooks

logger = logging.getLogger(__name__)

FLOW_ID = "reset_password"
BY = (Choice("login_name", "reset_password.by_login_name"), Choice("identity", "reset_password.by_identity"))
ID_TYPE_CHOICES = tuple(Choice(code, f"id_type.{key}") for code, key in ID_TYPES)
MAX_CARD_FAILURES = 3
CARD_FAILURE_WINDOW = 24 * 3600


class ResetPassword(IdentityHooks, CaptchaHooks, Form):
    id = FLOW_ID
    triggers = ("reset_password",)
    slots = (
        Slot("by", "choice", BY),
        Slot("login_name"),
        Slot("name"),
        Slot("id_type", "choice", ID_TYPE_CHOICES),
        Slot("id_number"),
        Slot("captcha", "captcha"),
        Slot("sms_code", "code"),
        Slot("method", "choice"),
        Slot("card", secret=True),
        Slot("card_phone"),
        Slot("verified", "flow"),
        Slot("password", "secret"),
        Slot("password_confirm", "secret"),
    )

    async def on_start(self, ctx: Ctx) -> None:
        ctx.say("reset_password.intro")
        offered = verify_identity.methods()
        if len(offered) == 1:
            ctx.put("method", offered[0].value)

    def skip_login_name(self, ctx: Ctx) -> bool:
        return bool(ctx.get("by") != "login_name")

    def skip_name(self, ctx: Ctx) -> bool:
        return bool(ctx.get("by") != "identity")

    skip_id_type = skip_id_number = skip_name

    def validate_login_name(self, value: str, ctx: Ctx) -> Validation:
        return validators.login_name(value)  # the shape only: whether it exists is never said

    async def ask_sms_code(self, ctx: Ctx) -> None:
        accounts = ctx.services.accounts
        if ctx.get("by") == "login_name":
            stand_in = "login:" + login_name_key(ctx.get("login_name"))
            account = await accounts.find_by_login(ctx.get("login_name"))
        else:
            stand_in = f"{ctx.get('id_type')}:{ctx.get('id_number')}"
            account = await accounts.find_by_identity(ctx.get("id_type"), ctx.get("id_number"))
            if account is not None and account.name != ctx.get("name"):
                account = None
        recovery.remember_subject(ctx, account, stand_in)
        await recovery.send_recovery_code(ctx, "reset_password")

    async def validate_sms_code(self, value: str, ctx: Ctx) -> Validation:
        result = await recovery.check_recovery_code(ctx, "reset_password", value)
        if isinstance(result, Valid) and ctx.get(recovery.SUBJECT) is None:
            ctx.stop()  # only a lucky guess of a code nobody was sent gets here
            return Invalid("recovery.failed", reask=False)
        return result

    def choices_method(self, ctx: Ctx) -> tuple[Choice, ...]:
        return verify_identity.methods()

    def skip_card(self, ctx: Ctx) -> bool:
        return bool(ctx.get("method") != verify_identity.BANK_CARD.value)

    skip_card_phone = skip_card

    def skip_verified(self, ctx: Ctx) -> bool:
        return bool(ctx.get("method") != verify_identity.CERTIFICATE.value)

    def ask_verified(self, ctx: Ctx) -> None:
        ctx.call(certificate.FOR_ACCOUNT, mode=verify_identity.METHOD_MODE,
                 **{certificate.HOLDER: ctx.get(recovery.SUBJECT)})

    def validate_verified(self, value: object, ctx: Ctx) -> Validation:
        return Valid(True) if value else Invalid("verification.failed")

    def validate_card(self, value: str, ctx: Ctx) -> Validation:
        return validators.card(value)

    async def validate_card_phone(self, value: str, ctx: Ctx) -> Validation:
        result = validators.phone(value)
        if isinstance(result, Invalid):
            return result
        account = await ctx.services.accounts.get(ctx.get(recovery.SUBJECT))
        claim = CardHolder(card=ctx.get("card"), name=account.name, id_type=account.id_type,
                           id_number=account.id_number, phone=result.value)
        check = await ctx.services.bank.verify(claim)
        if check.ok:
            return result
        # Counted per account and day, not per attempt of this flow: starting again gave three more guesses.
        failures = await ctx.services.kv.incr(f"reset-card-failures:{account.id}", ttl=CARD_FAILURE_WINDOW)
        logger.info("password reset: bank-card check failed (%s), attempt %d", check.outcome, failures)
        if failures >= MAX_CARD_FAILURES:
            ctx.stop()
            return Invalid("card.too_many_failures", reask=False)
        ctx.clear("card")
        return Invalid("card.not_verified", reask=False)

    async def validate_password(self, value: str, ctx: Ctx) -> Validation:
        result = validators.password(value)
        # Asked only after the phone's code and the identity check, so it tells a stranger nothing.
        if isinstance(result, Valid) and await ctx.services.accounts.passwords_among(ctx.get(recovery.SUBJECT), [value]):
            return Invalid("password.same_as_old")
        return result

    def validate_password_confirm(self, value: str, ctx: Ctx) -> Validation:
        if value != ctx.get("password"):
            ctx.clear("password")
            return Invalid("password.mismatch", reask=False)
        return Valid(value)

    async def on_complete(self, ctx: Ctx) -> None:
        await ctx.services.accounts.reset_password(ctx.get(recovery.SUBJECT), ctx.get("password"))
        ctx.say("reset_password.done", buttons=(ctx.button("menu.login", "/login"),))


FLOW = ResetPassword()
