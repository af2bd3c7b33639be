"""Choose one of the three credit products and submit a request, confirmed by dynamic code or identity verification."""

from __future__ import annotations

from backend.errors import CodeError, CodeNotIssuedError
from backend.identity_rules import mask_phone
from dialogs import texts, validators
from dialogs.context import Ctx
from dialogs.flows.authenticator import app_code_invalid
from dialogs.forms import Choice, Form, Invalid, Slot, Valid, Validation

FLOW_ID = "request_report"
PRODUCTS = (Choice("hint", "product.hint"), Choice("summary", "product.summary"), Choice("report", "product.report"))


class RequestReport(Form):
    id = FLOW_ID
    triggers = ("request_report", "report")
    requires_login = True
    slots = (
        Slot("product", "choice", PRODUCTS),
        Slot("dynamic_code", "code"),
        Slot("verified", "flow"),
    )

    async def on_start(self, ctx: Ctx) -> None:
        account = await ctx.account()
        app = account.quick_query and account.authenticator  # the dynamic code comes from the app
        if app and await ctx.services.authenticator.locked(account.id):
            # Said now, not after a product is chosen and a code typed that could not pass anyway.
            ctx.say("error.authenticator.locked", minutes=ctx.services.authenticator.policy.lock_seconds // 60)
            ctx.stop()
            return
        ctx.put("quick", account.quick_query)
        ctx.put("app", app)
        intro = "request_report.intro_app" if app else "request_report.intro_quick"
        ctx.say(intro if account.quick_query else "request_report.intro_card")

    def skip_dynamic_code(self, ctx: Ctx) -> bool:
        return not ctx.get("quick")

    def skip_verified(self, ctx: Ctx) -> bool:
        return bool(ctx.get("quick"))

    async def ask_dynamic_code(self, ctx: Ctx) -> None:
        if ctx.get("app"):
            if ctx.get("app_asked"):
                ctx.say("authenticator.no_resend")  # /resend: the app makes its codes, nothing is sent
            ctx.put("app_asked", True)
            return
        account = await ctx.account()
        await texts.send_code(ctx, "request", account.phone)

    def prompt_dynamic_code(self, ctx: Ctx) -> str:
        return ctx.t("request_report.dynamic_code.prompt_app" if ctx.get("app") else "request_report.dynamic_code.prompt")

    async def validate_dynamic_code(self, value: str, ctx: Ctx) -> Validation:
        account = await ctx.account()
        if not ctx.get("app"):
            return await validators.verify_code(ctx.services, "request", account.phone, value)
        shaped = validators.code(value)
        if isinstance(shaped, Invalid):
            return shaped  # "6 digits", as for an SMS code
        try:
            await ctx.services.authenticator.verify(account.id, shaped.value)
        except CodeNotIssuedError:
            # The app was removed meanwhile (in another chat): the code comes by SMS from now on.
            ctx.put("app", False)
            await texts.send_code(ctx, "request", account.phone)
            return Invalid("authenticator.gone")
        except CodeError as exc:
            return app_code_invalid(exc, ctx)
        return Valid(True)

    def ask_verified(self, ctx: Ctx) -> None:
        ctx.call("verify_identity")

    def validate_verified(self, value: str, ctx: Ctx) -> Validation:
        return Valid(True) if value else Invalid("verification.failed")

    async def on_complete(self, ctx: Ctx) -> None:
        account = await ctx.account()
        product = ctx.get("product")
        request = await ctx.services.queries.submit(account.id, product, ctx.conversation_id, ctx.lang)
        ctx.say("request_report.submitted", product=ctx.t(f"product.{product}"),
                number=request.id, due=texts.format_time(ctx, request.due_at), phone=mask_phone(account.phone),
                buttons=(ctx.button("menu.my_requests", "/my_requests"), ctx.button("menu.menu", "/menu")))


FLOW = RequestReport()
