"""My account: login name, masked personal data, security level and what it allows, quick query, actions."""

from __future__ import annotations

from backend.identity_rules import ID_TYPES, mask_id, mask_name, mask_phone
from dialogs.context import Ctx
from dialogs.forms import Form
from dialogs.types import Button, Text

FLOW_ID = "my_account"
ALLOWS = {"low": "my_account.allows_low", "medium": "my_account.allows_medium", "high": "my_account.allows_high"}


class MyAccount(Form):
    id = FLOW_ID
    triggers = ("my_account",)
    requires_login = True
    slots = ()

    async def on_complete(self, ctx: Ctx) -> None:
        account = await ctx.account()
        level = account.security_level
        ctx.say("my_account.summary", login_name=account.login_name, name=mask_name(account.name),
                id_type=ctx.t(_id_type_key(account.id_type)), id_number=mask_id(account.id_number),
                phone=mask_phone(account.phone), level=ctx.t(f"level.{level}"), allows=ctx.t(ALLOWS[level]),
                quick=ctx.t("my_account.quick_on" if account.quick_query else "my_account.quick_off"),
                app=ctx.t("my_account.app_on" if account.authenticator else "my_account.app_off"))
        toggle = "my_account.quick_close" if account.quick_query else "my_account.quick_open"
        app = "my_account.app_remove" if account.authenticator else "my_account.app_bind"
        buttons = (Button(ctx.t(toggle), "/quick_query"),
                   Button(ctx.t(app), "/authenticator"),
                   Button(ctx.t("my_account.change_phone"), "/change_phone"),
                   Button(ctx.t("my_account.verify"), "/verify_identity"),
                   Button(ctx.t("my_account.close"), "/close_account"),
                   Button(ctx.t("menu.menu"), "/menu"))
        ctx.add(Text(ctx.t("my_account.actions"), buttons))


def _id_type_key(code: str) -> str:
    return next((f"id_type.{key}" for c, key in ID_TYPES if c == code), "id_type.other")


FLOW = MyAccount()
