"""What others may see of a person's input: the echo in the web chat and the agents' transcript.

Masks are applied before anything is stored, so no reader (an agent's console, its API, a second
browser tab) can undo them. Secret answers (passwords, codes, card numbers, certificates) become a
fixed placeholder that does not even reveal their length; names and numbers keep only the ends
that the product's own echoes show.
"""

from __future__ import annotations

import re

from backend.identity_rules import mask_card, mask_id, mask_name, mask_phone

SECRET = "••••••"
FILE = "📎"
# A run of digits, possibly grouped by spaces or dashes, perhaps ending in the ID's check "X".
_NUMBER = re.compile(r"\d(?:[\d \-]*\d)?[Xx]?")
NAME_SLOTS = frozenset({"name"})
PHONE_SLOTS = frozenset({"phone", "new_phone", "card_phone"})


def mask_numbers(text: str) -> str:
    """Numbers of 6 digits or more, in the product's mask shapes: a mobile number 138****5678, an
    ID number 110101********1234, a card 6222 **** **** 1234; other long numbers keep their last 4,
    short ones (codes, dates of birth) nothing."""
    return _NUMBER.sub(lambda match: _mask_number(match.group(0)), text)


def _mask_number(run: str) -> str:
    plain = re.sub(r"[ \-]", "", run)
    if len(plain) < 6:
        return run
    if len(plain) == 11 and plain.startswith("1") and plain.isdigit():
        return mask_phone(plain)
    if len(plain) in (15, 18) and plain[:-1].isdigit():
        return mask_id(plain.upper())
    if 16 <= len(plain) <= 19 and plain.isdigit():
        return mask_card(plain)
    return "*" * (len(plain) - 4) + plain[-4:] if len(plain) >= 11 else "*" * len(plain)


def mask_input(text: str | None, kind: str, slot_name: str | None = None, secret: bool = False) -> str:
    """The masked form of one user message; `slot_name`/`secret` describe the question it answers
    (None for a message that is not an answer: a command, or words for an agent)."""
    if kind == "file":
        return FILE
    if secret:
        return SECRET
    value = (text or "").strip()
    if slot_name in NAME_SLOTS:
        return mask_name(value)
    if slot_name in PHONE_SLOTS and value.isdigit():
        return mask_phone(value)
    return mask_numbers(value)
