"""Codes for people who are not logged in (forgotten password or login name), told nothing about who exists.

The flow finds the account the answers point to and keeps its id as the "subject account". The code
goes to that account's registered phone; when there is no such account, a code is still issued, to a
stand-in subject, and texted to nobody, so the replies, the wrong-code counts and the resend waits
are the same either way.
"""

from __future__ import annotations

from backend.accounts import AccountView
from backend.errors import ResendTooSoonError
from dialogs import validators
from dialogs.context import Ctx
from dialogs.forms import Validation

SUBJECT = "subject_account"
CODE_TO = "code_to"


def remember_subject(ctx: Ctx, account: AccountView | None, stand_in: str) -> None:
    """`stand_in` names what was asked for (a login name, an identity): the fake subject is stable for it."""
    ctx.put(SUBJECT, None if account is None else account.id)
    target = account.phone if account is not None else "nobody:" + ctx.services.vault.lookup_hash("identity", stand_in)
    ctx.put(CODE_TO, target, secret=True)


async def send_recovery_code(ctx: Ctx, purpose: str) -> None:
    """Texts the code when there is an account; says the same words whether there is one or not."""
    target, codes = ctx.get(CODE_TO), ctx.services.codes
    minutes = codes.policy.ttl_seconds // 60
    try:
        code = await codes.issue(purpose, ctx.services.vault.lookup_hash("phone", target))
    except ResendTooSoonError as exc:
        ctx.say("recovery.too_soon", seconds=exc.wait_seconds)
        return
    if ctx.get(SUBJECT) is not None:
        await ctx.services.sms.send(target, ctx.t(f"sms.{purpose}", code=code, minutes=minutes))
    ctx.say("recovery.code_sent", minutes=minutes)


async def check_recovery_code(ctx: Ctx, purpose: str, raw: str) -> Validation:
    return await validators.verify_code(ctx.services, purpose, ctx.get(CODE_TO), raw)
