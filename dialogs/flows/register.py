"""Registration in two steps: identity (name, document, captcha, agreement), then the account itself.

Whether a document already has an account is said only at the end, after a solved captcha and a code
texted to the phone: said at the document question it let anyone look up who is registered, at no cost.
"""

from __future__ import annotations

from backend.accounts import NewAccount
from backend.errors import IdentityTakenError, LoginNameTakenError
from backend.identity_rules import ID_TYPES, mask_id, mask_name, mask_phone
from backend.kv import KeyValueStore
from dialogs import texts, validators
from dialogs.context import Ctx
from dialogs.forms import Choice, Form, Invalid, Slot, Valid, Validation
from dialogs.hooks import CaptchaHooks, IdentityHooks

FLOW_ID = "register"
ID_TYPE_CHOICES = tuple(Choice(code, f"id_type.{key}") for code, key in ID_TYPES)
AGREEMENT = (Choice("accept", "register.agreement.accept"), Choice("decline", "register.agreement.decline"))
LOGIN_CHECKS_PER_HOUR = 10  # login names looked up per conversation: plenty to find a free one, few to enumerate


async def login_check_allowed(kv: KeyValueStore, conversation: str) -> bool:
    """Counts one login-name lookup for the conversation; False once the hour's allowance is spent.

    Counted before the lookup, atomically, so parallel messages cannot each slip in under the limit.
    """
    return await kv.incr(f"register-login-checks:{conversation}", ttl=3600) <= LOGIN_CHECKS_PER_HOUR


class Register(IdentityHooks, CaptchaHooks, Form):
    id = FLOW_ID
    triggers = ("register",)
    slots = (
        Slot("name"),
        Slot("id_type", "choice", ID_TYPE_CHOICES),
        Slot("id_number"),
        Slot("captcha", "captcha"),
        Slot("agreement", "choice", AGREEMENT),
        Slot("login_name"),
        Slot("password", "secret"),
        Slot("password_confirm", "secret"),
        Slot("phone"),
        Slot("sms_code", "code"),
    )

    async def on_start(self, ctx: Ctx) -> None:
        if ctx.account_id is not None:
            ctx.say("register.already_logged_in")
            ctx.stop()
            return
        ctx.say("register.intro")

    def prompt_id_number(self, ctx: Ctx) -> str:
        resident = ctx.get("id_type") in validators.RESIDENT_NUMBER_TYPES
        return ctx.t("register.id_number.prompt" if resident else "register.id_number.prompt_other")

    def validate_id_number(self, value: str, ctx: Ctx) -> Validation:
        return validators.document_number(ctx.get("id_type"), value)

    def prompt_agreement(self, ctx: Ctx) -> str:
        return ctx.t("register.agreement.prompt", agreement=ctx.t("agreement.text"))

    def validate_agreement(self, value: str, ctx: Ctx) -> Validation:
        if value == "decline":
            ctx.stop()
            return Invalid("agreement.declined", reask=False)
        return Valid(value)

    async def validate_login_name(self, value: str, ctx: Ctx) -> Validation:
        result = validators.login_name(value)
        if not isinstance(result, Valid):
            return result
        if not await login_check_allowed(ctx.services.kv, ctx.conversation_id):
            ctx.stop()
            return Invalid("too_many", reask=False)
        if await ctx.services.accounts.login_name_exists(result.value):
            return Invalid("login_taken")
        return result

    def validate_password(self, value: str, ctx: Ctx) -> Validation:
        return validators.password(value)

    def validate_password_confirm(self, value: str, ctx: Ctx) -> Validation:
        if value != ctx.get("password"):
            ctx.clear("password")
            return Invalid("password.mismatch", reask=False)
        return Valid(value)

    def validate_phone(self, value: str, ctx: Ctx) -> Validation:
        return validators.phone(value)

    async def ask_sms_code(self, ctx: Ctx) -> None:
        await texts.send_code(ctx, "register", ctx.get("phone"))

    async def validate_sms_code(self, value: str, ctx: Ctx) -> Validation:
        return await validators.verify_code(ctx.services, "register", ctx.get("phone"), value)

    async def on_complete(self, ctx: Ctx) -> None:
        new = NewAccount(name=ctx.get("name"), id_type=ctx.get("id_type"), id_number=ctx.get("id_number"),
                         login_name=ctx.get("login_name"), password=ctx.get("password"), phone=ctx.get("phone"))
        try:
            await ctx.services.accounts.register(new)
        except IdentityTakenError:  # nothing was written: the unique index refused the whole account
            ctx.say("register.identity_taken", buttons=(
                ctx.button("menu.recover_login", "/recover_login"), ctx.button("menu.reset_password", "/reset_password")))
            ctx.stop()
            return
        except LoginNameTakenError:
            ctx.say("error.login_taken")
            ctx.clear("login_name", "password", "password_confirm", "sms_code")
            ctx.again()
            return
        ctx.say("register.done", name=mask_name(new.name), id_number=mask_id(new.id_number),
                login_name=new.login_name, phone=mask_phone(new.phone),
                buttons=(ctx.button("menu.login", "/login"), ctx.button("menu.guide", "/guide")))


FLOW = Register()
