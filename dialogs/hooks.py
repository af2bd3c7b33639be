"""Slot hooks several flows share, as mixins: the engine finds them by name like any other hook."""

from __future__ import annotations

from dialogs import texts, validators
from dialogs.context import Ctx
from dialogs.forms import Choice, Valid, Validation


class IdentityHooks:
    """For flows with `name`, `id_type` and `id_number` slots."""

    def validate_name(self, value: str, ctx: Ctx) -> Validation:
        return validators.name(value)

    def validate_id_number(self, value: str, ctx: Ctx) -> Validation:
        return validators.document_number(ctx.get("id_type"), value)


class CaptchaHooks:
    """For flows with a `captcha` slot: a new picture each time it is asked; single-use answers."""

    async def ask_captcha(self, ctx: Ctx) -> None:
        await texts.captcha(ctx)

    async def validate_captcha(self, value: str, ctx: Ctx) -> Validation:
        return await validators.captcha(ctx.services, ctx.conversation_id, value)


class SwitchHooks:
    """For flows whose `decision` switches something on or off: its choices and prompt follow whether
    it is on now, which `on_start` puts as `ctx.put(SWITCHED_ON, ...)`."""

    when_on: tuple[Choice, ...] = ()
    when_off: tuple[Choice, ...] = ()
    prompt_on = ""
    prompt_off = ""

    def choices_decision(self, ctx: Ctx) -> tuple[Choice, ...]:
        return self.when_on if ctx.get(SWITCHED_ON) else self.when_off

    def prompt_decision(self, ctx: Ctx) -> str:
        return ctx.t(self.prompt_on if ctx.get(SWITCHED_ON) else self.prompt_off)

    def validate_decision(self, value: str, ctx: Ctx) -> Validation:
        return Valid(value)  # the buttons are the only answers the engine lets through


SWITCHED_ON = "switched_on"
