"""Replies shared by every flow: the main menu, code sending, and time formatting."""

from __future__ import annotations

from datetime import datetime

from backend.clock import PRODUCT_TZ
from backend.errors import ResendTooSoonError
from backend.identity_rules import mask_phone
from dialogs.context import Ctx
from dialogs.types import Button, Image, Text


def menu(ctx: Ctx) -> None:
    if ctx.account_id is None:
        items = [("menu.register", "/register"), ("menu.login", "/login"), ("menu.guide", "/guide"),
                 ("menu.reset_password", "/reset_password"), ("menu.recover_login", "/recover_login")]
    else:
        items = [("menu.request", "/request_report"), ("menu.my_requests", "/my_requests"),
                 ("menu.bank_card", "/bank_card"), ("menu.quick_query", "/quick_query"),
                 ("menu.my_account", "/my_account"), ("menu.guide", "/guide"), ("menu.logout", "/logout")]
        if ctx.state.get("level") == "high":  # "raise the security level" has nothing left to raise
            items.remove(("menu.bank_card", "/bank_card"))
    items.append(("menu.agent", "/agent"))
    # The button names its target language: Telegram keeps old buttons, and a toggle would flip back.
    items.append(("menu.lang", "/lang en" if ctx.lang == "zh" else "/lang zh"))
    buttons = tuple(Button(ctx.t(key), payload) for key, payload in items)
    ctx.add(Text(ctx.t("menu.prompt"), buttons))


def format_time(ctx: Ctx, when: datetime) -> str:
    """Shown in Beijing time whatever the server's zone (B43)."""
    return ctx.t("time.format", time=when.astimezone(PRODUCT_TZ).strftime("%Y-%m-%d %H:%M"))


async def send_code(ctx: Ctx, purpose: str, phone: str) -> bool:
    """Issue a code and text it; says what happened. False when a resend came too soon."""
    codes, subject = ctx.services.codes, phone_subject(ctx, phone)
    try:
        code = await codes.issue(purpose, subject)
    except ResendTooSoonError as exc:
        # Only claim the earlier code still works when it does (not after too many wrong tries).
        key = "code.too_soon" if await codes.usable(purpose, subject) else "code.too_soon_void"
        ctx.say(key, seconds=exc.wait_seconds, phone=mask_phone(phone))
        return False
    minutes = codes.policy.ttl_seconds // 60
    await ctx.services.sms.send(phone, ctx.t(f"sms.{purpose}", code=code, minutes=minutes))
    ctx.say("code.sent", phone=mask_phone(phone), minutes=minutes)
    return True


async def captcha(ctx: Ctx) -> None:
    """A new picture for this conversation; its answer replaces any earlier one."""
    ctx.add(Image(await ctx.services.captcha.new(ctx.conversation_id), ctx.t("captcha.caption")))


def phone_subject(ctx: Ctx, phone: str) -> str:
    return ctx.services.vault.lookup_hash("phone", phone)


async def verification_intro(ctx: Ctx, method: str) -> str:
    """The opening line of a bank-card or certificate check: why it is asked, and what it will raise,
    which is nothing for someone already at level high."""
    if ctx.get("mode") == "request":
        return f"{method}.intro_request"
    if ctx.account_id is not None and (await ctx.account()).security_level == "high":
        return f"{method}.intro_verify"
    return f"{method}.intro"
