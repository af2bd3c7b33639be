"""Digital-certificate verification (PKCS#12 file, its password; identity on first use): raises the level to high."""

from __future__ import annotations

import base64
import logging

from backend.certificates import (
    MAX_FILE_BYTES,
    CertificateError,
    Claim,
    WrongPasswordError,
    certificates_for,
    looks_like_pkcs12,
)
from backend.identity_rules import ID_TYPES
from dialogs import texts
from dialogs.context import Ctx
from dialogs.forms import Choice, Form, Invalid, Slot, Valid, Validation
from dialogs.hooks import IdentityHooks
from dialogs.types import Attachment

logger = logging.getLogger(__name__)

FLOW_ID = "certificate"
# The registry key of the same checks for someone not logged in (a forgotten password): see ForAccount.
FOR_ACCOUNT = "certificate_for_account"
HOLDER = "holder_account"  # preset by the calling flow: the account the certificate must belong to
MAX_FAILURES = 3
ID_TYPE_CHOICES = tuple(Choice(code, f"id_type.{key}") for code, key in ID_TYPES)
CHECKED = "checked"  # stands in for the password in the slots: the password itself is never kept
# Refusals at the password question (the engine shows "certificate.password.<reason>"; listed for the last try).
REFUSED = {
    "wrong_password": "certificate.password.wrong_password", "non_ascii": "certificate.password.non_ascii",
    "bad_file": "certificate.password.bad_file", "untrusted": "certificate.password.untrusted",
    "expired": "certificate.password.expired", "not_yet_valid": "certificate.password.not_yet_valid",
    "revoked": "certificate.password.revoked", "key_usage": "certificate.password.key_usage",
    "possession": "certificate.password.possession", "bound_elsewhere": "certificate.password.bound_elsewhere",
    "crl_expired": "certificate.password.crl_expired", "unavailable": "certificate.password.unavailable",
    "failed": "certificate.password.failed",
}
# Refusals when binding (first use: the identity; a race; a certificate that expired meanwhile).
BIND_REFUSED = {"not_holder": "certificate.not_holder", "subject_mismatch": "certificate.subject_mismatch",
                "bound_elsewhere": "certificate.bound_elsewhere", "expired": "certificate.expired"}


class Certificate(IdentityHooks, Form):
    id = FLOW_ID
    triggers = ("certificate",)
    requires_login = True
    slots = (
        Slot("certificate", "file", secret=True),  # sealed in state until the flow ends
        Slot("password", "secret"),
        Slot("name"),
        Slot("id_type", "choice", ID_TYPE_CHOICES),
        Slot("id_number"),
    )

    async def on_start(self, ctx: Ctx) -> None:
        if not certificates_for(ctx.services).available:  # no trust roots configured (production)
            ctx.say("certificate.unavailable")
            ctx.stop()
            return
        ctx.say(await texts.verification_intro(ctx, "certificate"))

    def validate_certificate(self, value: Attachment, ctx: Ctx) -> Validation:
        if len(value.data) > MAX_FILE_BYTES:
            return Invalid("too_big", {"kb": MAX_FILE_BYTES // 1024})
        if not looks_like_pkcs12(value.data):
            return Invalid("bad_file")
        return Valid(base64.b64encode(value.data).decode())

    async def validate_password(self, value: str, ctx: Ctx) -> Validation:
        """Opens and checks the file now, so a wrong password is re-asked; only public facts are kept."""
        service = certificates_for(ctx.services)
        try:
            cert = service.verify(base64.b64decode(ctx.get("certificate")), value)
        except WrongPasswordError as exc:
            return self._count(ctx, "non_ascii" if exc.non_ascii else "wrong_password", retry_file=False)
        except CertificateError as exc:
            return self._count(ctx, exc.reason, retry_file=True)
        owner = await service.owner(cert)
        if owner is not None and owner != self.holder(ctx):
            return self._count(ctx, "bound_elsewhere", retry_file=True)
        ctx.put("verified", base64.b64encode(cert.der).decode(), secret=True)
        ctx.put("bound", owner is not None)
        return Valid(CHECKED)

    def skip_name(self, ctx: Ctx) -> bool:
        return bool(ctx.get("bound"))

    skip_id_type = skip_id_number = skip_name

    async def on_complete(self, ctx: Ctx) -> None:
        service = certificates_for(ctx.services)
        cert = service.from_der(base64.b64decode(ctx.get("verified")))
        claim = None if ctx.get("bound") else Claim(ctx.get("name"), ctx.get("id_type"), ctx.get("id_number"))
        try:
            await service.bind(self.holder(ctx), cert, claim)  # type: ignore[arg-type]
        except CertificateError as exc:
            self._fail(ctx, exc.reason)
            return
        ctx.forget_account()
        account = await ctx.services.accounts.get(self.holder(ctx))  # type: ignore[arg-type]
        ctx.say("certificate.done", subject=cert.subject_masked, level=ctx.t(f"level.{account.security_level}"))
        ctx.returns["verified"] = True
        if ctx.get("mode") != "request" and not ctx.state.get("stack") and not account.quick_query:
            ctx.start("quick_query", just_verified=True)

    def holder(self, ctx: Ctx) -> int | None:
        """The account the certificate is checked against and bound to: the one logged in."""
        return ctx.account_id

    def _count(self, ctx: Ctx, reason: str, retry_file: bool) -> Invalid:
        """A refused password or certificate counts toward the limit; a refused file asks for a file again."""
        reason = reason if reason in REFUSED else "failed"
        failures = int(ctx.get("failures", 0)) + 1
        logger.info("certificate verification refused (%s), attempt %d", reason, failures)
        ctx.put("failures", failures)
        if failures >= MAX_FAILURES:
            ctx.say(REFUSED[reason])
            ctx.stop()
            return Invalid("too_many")
        if retry_file:
            ctx.clear("certificate")
            ctx.again()
        return Invalid(reason)

    def _fail(self, ctx: Ctx, reason: str) -> None:
        failures = int(ctx.get("failures", 0)) + 1
        logger.info("certificate binding refused (%s), attempt %d", reason, failures)
        ctx.say(BIND_REFUSED.get(reason, "certificate.failed"))
        if failures >= MAX_FAILURES:
            ctx.say("certificate.too_many")
            ctx.stop()
            return
        kept = {name: ctx.slots[name] for name in ("mode", HOLDER) if ctx.slots.get(name)}
        ctx.state["slots"] = {"failures": failures, **kept}
        ctx.say("certificate.retry")
        ctx.again()


class ForAccount(Certificate):
    """The same checks for a person who is not logged in, against the account a recovery flow found.

    The caller presets HOLDER (after the code texted to that account's phone was right). It keeps the
    id "certificate", so every text is the certificate flow's; the registry files it under FOR_ACCOUNT.
    """

    triggers = ()
    requires_login = False

    async def on_start(self, ctx: Ctx) -> None:
        if ctx.get(HOLDER) is None:  # typed as a command: there is no account to act for
            ctx.say("error.unknown_command", command=FOR_ACCOUNT)
            ctx.stop()
            return
        await super().on_start(ctx)

    def holder(self, ctx: Ctx) -> int | None:
        return ctx.get(HOLDER)  # type: ignore[no-any-return]


FLOW = Certificate()
FLOW_FOR_ACCOUNT = ForAccount()
