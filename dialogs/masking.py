"""What others may see of a person's input: the echo in the web chat and the agents' transcript.

Masks are applied before anything is stored, so no reader (an agent's console, its API, a second
browser tab) can undo them. Secret answers (passwords, codes, card numbers, certificates) become a
fixed placeholder that does not even reveal their length; names and numbers keep only the ends
that the product's own echoes show.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from backend.identity_rules import Ok, check_password, mask_card, mask_id, mask_name, mask_phone

SECRET = "••••••"
FILE = "📎"
# What people put between digit groups: spaces, dashes of every kind, dots, commas, slashes,
# underscores, brackets, in ASCII or full-width. Up to three in a row.
_SEP = r"[\s\-_.,/\\·•()\[\]~\u2010-\u2015\u2212、。，．／－＿（）～]"
# A run of digits so grouped, perhaps ending in the ID's check "X".
_NUMBER = re.compile(rf"\d(?:{_SEP}{{0,3}}\d)*(?:{_SEP}{{0,2}}[Xx](?![A-Za-z]))?")
# A recent date (an application day, a query day), left readable: from 2015 on it cannot be an
# adult's date of birth. Older dates are masked like any number.
_RECENT_DATE = re.compile(r"(?<!\d)20(?:1[5-9]|[2-9]\d)(?:([-./])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])"
                          r"|年(?:0?[1-9]|1[0-2])月(?:0?[1-9]|[12]\d|3[01])日?)(?!\d)")
# A secret named by its keyword: "密码Abc12345!", "password is hunter22", "PIN: 1234".
_KEYWORD = re.compile(r"(?i)(密码|口令|验证码|校验码|动态码|短信码"
                      r"|(?<![A-Za-z])(?:pass\s*word|passwd|passcode|pwd|pin|otp|code)(?![A-Za-z]))"
                      r"((?:\s*(?:[:：=是为]|is|was)\s*|\s+)?)([!-~]{4,64})")
# Printable ASCII tokens that could be a password (checked against the person's own, if known).
_TOKEN = re.compile(r"[!-~]{8,20}")
NAME_SLOTS = frozenset({"name"})
PHONE_SLOTS = frozenset({"phone", "new_phone", "card_phone"})


def normalise(text: str) -> str:
    """Full-width digits and Latin letters folded to ASCII, the ideographic space to a space, and
    invisible format characters (zero-width spaces, joiners, BOM, direction marks) dropped: what the
    answers' checks accept as a number must not slip past the masks. Chinese punctuation stays."""
    return "".join(_FOLD.get(ch, ch) for ch in text if unicodedata.category(ch) != "Cf")


_FOLD = {chr(c): chr(c - 0xFEE0) for c in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))}
_FOLD["\u3000"] = " "


def mask_numbers(text: str) -> str:
    """Numbers of 6 digits or more, in the product's mask shapes: a mobile number 138****5678, an
    ID number 110101********1234, a card 6222 **** **** 1234; other long numbers keep their last 4,
    short ones (codes, dates of birth) nothing."""
    text, out, at = normalise(text), [], 0
    for date in _RECENT_DATE.finditer(text):
        out += [_NUMBER.sub(_masked, text[at:date.start()]), date.group(0)]
        at = date.end()
    return "".join([*out, _NUMBER.sub(_masked, text[at:])])


def _masked(match: re.Match[str]) -> str:
    return _mask_number(match.group(0))


def _mask_number(run: str) -> str:
    plain = re.sub(r"[^\dXx]", "", run)
    if len(plain) < 6:
        return run
    if len(plain) == 11 and plain.startswith("1") and plain.isdigit():
        return mask_phone(plain)
    if len(plain) in (15, 18) and plain[:-1].isdigit():
        return mask_id(plain.upper())
    if 16 <= len(plain) <= 19 and plain.isdigit():
        return mask_card(plain)
    return "*" * (len(plain) - 4) + plain[-4:] if len(plain) >= 11 else "*" * len(plain)


def mask_free_text(text: str, names: Iterable[str] = ()) -> str:
    """Words a person writes freely (to an agent): numbers masked, anything named as a password or
    code hidden, and the person's own name (when known) masked wherever it appears."""
    text = mask_numbers(text)
    text = _KEYWORD.sub(lambda m: m.group(1) + m.group(2) + SECRET if _secret_like(m.group(3)) else m.group(0),
                        text)
    for name in sorted({normalise(n).strip() for n in names if n and n.strip()}, key=len, reverse=True):
        if len(name) >= 2:
            text = text.replace(name, mask_name(name))
    return text


def _secret_like(token: str) -> bool:
    """A token after a password keyword that looks like one: a digit or a symbol in it, so "password
    reset" stays readable while "password hunter22" does not."""
    return SECRET not in token and any(not ch.isalpha() for ch in token)


def password_candidates(text: str, limit: int = 3) -> list[str]:
    """Tokens that pass the product's own password rules, to check against the person's password."""
    found = [t for t in _TOKEN.findall(text) if "*" not in t and isinstance(check_password(t), Ok)]
    return found[:limit]


def hide(text: str, tokens: Iterable[str]) -> str:
    for token in tokens:
        text = text.replace(token, SECRET)
    return text


def mask_input(text: str | None, kind: str, slot_name: str | None = None, secret: bool = False) -> str:
    """The masked form of one user message; `slot_name`/`secret` describe the question it answers
    (None for a message that is not an answer: a command, or words for an agent)."""
    if kind == "file":
        return FILE
    if secret:
        return SECRET
    value = normalise(text or "").strip()
    if slot_name in NAME_SLOTS:
        return mask_name(value)
    if slot_name in PHONE_SLOTS and value.isdigit():
        return mask_phone(value)
    return mask_free_text(value)
