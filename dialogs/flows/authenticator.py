"""Bind an authenticator app for quick query's dynamic codes, or remove it; either needs the phone's code.

Binding shows a new secret once (never kept in the conversation's state, never shown to agents) and is
done only when the app shows a right code for it, so a mistyped key never locks anyone out.
"""

from __future__ import annotations

from backend.authenticator import AuthenticatorLockedError, AuthenticatorReusedError, TotpPolicy
from backend.errors import CodeError, CodeExpiredError, CodeMismatchError
from dialogs import texts, validators
from dialogs.context import Ctx
from dialogs.hooks import SWITCHED_ON, SwitchHooks
from dialogs.forms import Choice, Form, Invalid, Slot, Valid, Validation
from dialogs.types import Text

FLOW_ID = "authenticator"
PURPOSES = {"bind": "authenticator", "remove": "authenticator_off"}  # the SMS says which it confirms
BIND = (Choice("bind", "authenticator.bind"), Choice("later", "authenticator.later"))
REMOVE = (Choice("remove", "authenticator.remove"), Choice("keep", "authenticator.keep"))


class Authenticator(SwitchHooks, Form):
    id = FLOW_ID
    when_on, when_off = REMOVE, BIND
    prompt_on, prompt_off = "authenticator.decision.prompt_bound", "authenticator.decision.prompt"
    triggers = ("authenticator",)
    requires_login = True
    slots = (Slot("decision", "choice"), Slot("sms_code", "code"), Slot("app_code", "code"))

    async def on_start(self, ctx: Ctx) -> None:
        account = await ctx.account()
        ctx.put(SWITCHED_ON, account.authenticator)
        ctx.say("authenticator.intro")

    def skip_sms_code(self, ctx: Ctx) -> bool:
        return ctx.get("decision") not in ("bind", "remove")

    async def ask_sms_code(self, ctx: Ctx) -> None:
        await texts.send_code(ctx, PURPOSES[ctx.get("decision")], (await ctx.account()).phone)

    async def validate_sms_code(self, value: str, ctx: Ctx) -> Validation:
        return await validators.verify_code(ctx.services, PURPOSES[ctx.get("decision")], (await ctx.account()).phone,
                                            value)

    def skip_app_code(self, ctx: Ctx) -> bool:
        return ctx.get("decision") != "bind"

    async def ask_app_code(self, ctx: Ctx) -> None:
        if ctx.get("shown"):
            ctx.say("authenticator.no_resend")  # /resend: the app makes its codes, nothing is sent
            return
        account = await ctx.account()
        enrolment = await ctx.services.authenticator.begin(account.id, account.login_name)
        key = " ".join(enrolment.secret[i:i + 4] for i in range(0, len(enrolment.secret), 4))
        minutes = ctx.services.authenticator.policy.enrol_seconds // 60
        # secret: an agent reading this conversation later sees a placeholder, never the key.
        ctx.add(Text(ctx.t("authenticator.secret", label=account.login_name, secret=key, uri=enrolment.uri,
                           minutes=minutes), secret=True))
        ctx.put("shown", True)

    async def validate_app_code(self, value: str, ctx: Ctx) -> Validation:
        shaped = validators.code(value)
        if isinstance(shaped, Invalid):
            return shaped  # "6 digits", as for an SMS code
        try:
            await ctx.services.authenticator.confirm(ctx.account_id, shaped.value)  # type: ignore[arg-type]
        except CodeExpiredError:
            ctx.stop()
            return Invalid("authenticator.enrol_expired", reask=False)
        except CodeError as exc:
            return app_code_invalid(exc, ctx)
        return Valid(True)

    async def on_complete(self, ctx: Ctx) -> None:
        decision = ctx.get("decision")
        if decision == "remove":
            await ctx.services.authenticator.remove(ctx.account_id)  # type: ignore[arg-type]
        if decision in ("bind", "remove"):
            ctx.forget_account()
        ctx.say(f"authenticator.done_{decision}")
        texts.menu(ctx)


def app_code_refusal(exc: CodeError, policy: TotpPolicy) -> Invalid:
    """What a refused app code is told (chat flows and Rasa actions alike)."""
    if isinstance(exc, CodeMismatchError):
        return Invalid("authenticator.mismatch", {"remaining": exc.fields.get("remaining", 0)})
    if isinstance(exc, AuthenticatorLockedError):
        return Invalid("authenticator.locked", {"minutes": policy.lock_seconds // 60}, reask=False)
    if isinstance(exc, AuthenticatorReusedError):
        return Invalid("authenticator.reused")
    return Invalid(exc.reason)


def app_code_invalid(exc: CodeError, ctx: Ctx) -> Invalid:
    """The refusal; after too many wrong codes the step ends, since a retry could not pass anyway."""
    refusal = app_code_refusal(exc, ctx.services.authenticator.policy)
    if not refusal.reask:
        ctx.stop()
    return refusal


FLOW = Authenticator()
