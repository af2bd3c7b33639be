"""The new-user guide: what the service is, the steps, the three products and the security levels."""

from __future__ import annotations

from dialogs import texts
from dialogs.context import Ctx
from dialogs.forms import Form
from dialogs.types import Button, Text

FLOW_ID = "guide"


class Guide(Form):
    id = FLOW_ID
    triggers = ("guide",)

    async def on_complete(self, ctx: Ctx) -> None:
        ctx.say("guide.text")
        if ctx.account_id is None:
            texts.menu(ctx)
            return
        account = await ctx.account()
        if account.security_level == "low":
            ctx.add(Text(ctx.t("guide.next_verify"), (Button(ctx.t("menu.bank_card"), "/bank_card"),
                                                      Button(ctx.t("menu.certificate"), "/certificate"),
                                                      Button(ctx.t("menu.question_verify"), "/question_verify"),
                                                      Button(ctx.t("menu.menu"), "/menu"))))
        else:
            texts.menu(ctx)


FLOW = Guide()
