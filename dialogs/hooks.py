"""Slot hooks several flows share, as mixins: the engine finds them by name like any other hook."""

from __future__ import annotations

from dialogs import texts, validators
from dialogs.context import Ctx
from dialogs.forms import Validation


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
