"""Shared validators: the backend's identity rules turned into Valid/Invalid for forms."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from backend import identity_rules as rules
from backend.errors import CodeError, CodeMismatchError
from dialogs.forms import Invalid, Valid, Validation

if TYPE_CHECKING:
    from backend.services import Services

# Household register and temporary ID cards carry the 18-character resident ID number.
RESIDENT_NUMBER_TYPES = {"0", "1", "7"}


def adapt(result: rules.Result) -> Validation:
    return Valid(result.value) if isinstance(result, rules.Ok) else Invalid(result.reason)


def _wrap(rule: Callable[[str], rules.Result]) -> Callable[[str], Validation]:
    return lambda raw: adapt(rule(raw))


name = _wrap(rules.normalize_name)
phone = _wrap(rules.normalize_phone)
card = _wrap(rules.normalize_card)
login_name = _wrap(rules.normalize_login_name)
password = _wrap(rules.check_password)
code = _wrap(rules.normalize_code)


def document_number(id_type: str, raw: str) -> Validation:
    if id_type in RESIDENT_NUMBER_TYPES:
        return adapt(rules.normalize_id_number(raw))
    return adapt(rules.normalize_document_number(id_type, raw))


ID_TYPE_CODES = tuple(code_ for code_, _ in rules.ID_TYPES)


async def verify_code(services: Services, purpose: str, phone: str, raw: str) -> Validation:
    """Checks an SMS code; each failure kind has its own message and re-ask."""
    shaped = code(raw)
    if isinstance(shaped, Invalid):
        return shaped
    subject = services.vault.lookup_hash("phone", phone)
    try:
        await services.codes.verify(purpose, subject, shaped.value)
    except CodeMismatchError as exc:
        return Invalid("code.mismatch", {"remaining": exc.fields["remaining"]})
    except CodeError as exc:
        return Invalid(exc.reason)
    return Valid(shaped.value)


async def captcha(services: Services, owner: str, raw: str) -> Validation:
    """Checks the picture's characters; full-width letters count, anything non-ASCII is just wrong."""
    answer = rules.clean_text(raw).replace(" ", "").upper()
    if not answer.isascii():
        await services.captcha.check(owner, "")  # the picture is single use whatever was typed
        return Invalid("captcha.mismatch")
    ok = await services.captcha.check(owner, answer)
    return Valid(True) if ok else Invalid("captcha.mismatch")
