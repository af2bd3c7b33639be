"""What others may see of a person's input: the echo in the web chat and the agents' transcript.

Masks are applied before anything is stored, so no reader (an agent's console, its API, a second
browser tab) can undo them. Secret answers (passwords, codes, card numbers, certificates) become a
fixed placeholder that does not even reveal their length; names and numbers keep only the ends
that the product's own echoes show.
"""

from __future__ import annotations

import re

from backend.identity_rules import mask_name, mask_phone

SECRET = "••••••"
FILE = "📎"
# A run of digits, possibly grouped by spaces or dashes, perhaps ending in the ID's check "X".
_NUMBER = re.compile(r"\d(?:[\d \-]*\d)?[Xx]?")
NAME_SLOTS = frozenset({"name"})
PHONE_SLOTS = frozenset({"phone", "new_phone", "card_phone"})


def mask_numbers(text: str) -> str:
    """Numbers of 6 digits or more: long ones (phones, IDs, cards) keep their last 4, short ones
    (codes, dates of birth) nothing."""
    def one(match: re.Match[str]) -> str:
        run = match.group(0)
        digits = sum(ch.isdigit() for ch in run) + (1 if run[-1] in "Xx" else 0)
        if digits < 6:
            return run
        plain = re.sub(r"[ \-]", "", run)
        return "*" * (len(plain) - 4) + plain[-4:] if digits >= 11 else "*" * len(plain)
    return _NUMBER.sub(one, text)


def mask_input(text: str | None, kind: str, slot_name: str | None = None, secret: bool = False) -> str:
    """The masked form of one user message; `slot_name`/`secret` describe the question it answers."""
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
