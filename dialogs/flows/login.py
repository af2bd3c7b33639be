"""Log in with login name, password and captcha; the chat is then bound to the account."""

from __future__ import annotations

from backend.errors import AccountLockedError, BadCredentialsError
from dialogs import texts, validators
from dialogs.context import Ctx
from dialogs.forms import Form, Slot, Validation
from dialogs.hooks import CaptchaHooks

FLOW_ID = "login"


class Login(CaptchaHooks, Form):
    id = FLOW_ID
    triggers = ("login",)
    slots = (Slot("login_name"), Slot("password", "secret"), Slot("captcha", "captcha"))

    async def on_start(self, ctx: Ctx) -> None:
        if ctx.account_id is not None:
            account = await ctx.account()
            ctx.say("login.already", login_name=account.login_name)
            ctx.stop()

    def validate_login_name(self, value: str, ctx: Ctx) -> Validation:
        # Only the shape is checked here: whether the name exists is never revealed.
        return validators.login_name(value)

    async def on_complete(self, ctx: Ctx) -> None:
        try:
            account = await ctx.services.accounts.login(ctx.get("login_name"), ctx.get("password"))
        except BadCredentialsError:
            # One message whether the name exists or not, and no count that would tell them apart.
            policy = ctx.services.accounts.policy
            ctx.say("login.failed", max_failures=policy.max_failures, minutes=policy.lock_seconds // 60)
            ctx.clear("login_name", "password", "captcha")
            ctx.again()
            return
        except AccountLockedError as exc:
            ctx.say("login.locked", minutes=exc.minutes)
            ctx.stop()
            return
        ctx.state["account_id"] = account.id
        ctx.forget_account()
        ctx.say("login.done", login_name=account.login_name,
                level=ctx.t(f"level.{account.security_level}"))
        if not ctx.state.get("stack"):
            self._next_steps(ctx, account.security_level)

    def _next_steps(self, ctx: Ctx, level: str) -> None:
        if level == "low":
            ctx.start("guide")
        else:
            texts.menu(ctx)


FLOW = Login()
