"""Forgotten login name: identity (name, document) and a code texted to the registered phone tell it."""

from __future__ import annotations

from backend.identity_rules import ID_TYPES
from dialogs import recovery, texts
from dialogs.context import Ctx
from dialogs.forms import Choice, Form, Slot, Validation
from dialogs.hooks import CaptchaHooks, IdentityHooks
from dialogs.types import Button, Text

FLOW_ID = "recover_login"
ID_TYPE_CHOICES = tuple(Choice(code, f"id_type.{key}") for code, key in ID_TYPES)


class RecoverLogin(IdentityHooks, CaptchaHooks, Form):
    id = FLOW_ID
    triggers = ("recover_login",)
    slots = (
        Slot("name"),
        Slot("id_type", "choice", ID_TYPE_CHOICES),
        Slot("id_number"),
        Slot("captcha", "captcha"),
        Slot("sms_code", "code"),
    )

    async def on_start(self, ctx: Ctx) -> None:
        ctx.say("recover_login.intro")

    async def ask_sms_code(self, ctx: Ctx) -> None:
        id_type, id_number = ctx.get("id_type"), ctx.get("id_number")
        account = await ctx.services.accounts.find_by_identity(id_type, id_number)
        if account is not None and account.name != ctx.get("name"):
            account = None
        recovery.remember_subject(ctx, account, f"{id_type}:{id_number}")
        await recovery.send_recovery_code(ctx, "recover_login")

    async def validate_sms_code(self, value: str, ctx: Ctx) -> Validation:
        return await recovery.check_recovery_code(ctx, "recover_login", value)

    async def on_complete(self, ctx: Ctx) -> None:
        subject = ctx.get(recovery.SUBJECT)
        if subject is None:  # only a lucky guess of a code nobody was sent gets here
            ctx.say("recovery.failed")
            texts.menu(ctx)
            return
        account = await ctx.services.accounts.get(subject)
        ctx.add(Text(ctx.t("recover_login.done", login_name=account.login_name),
                     (Button(ctx.t("menu.login"), "/login"), Button(ctx.t("menu.reset_password"), "/reset_password"))))


FLOW = RecoverLogin()
