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
# underscores, brackets, semicolons, bars, plus signs, in ASCII or full-width. Up to three in a row.
_SEP = r"[\s\-_.,;|+/\\·•()\[\]~\u2010-\u2015\u2212、。，．；｜＋／－＿（）～]"
# A run of digits so grouped, perhaps ending in the ID's check "X".
_NUMBER = re.compile(rf"\d(?:{_SEP}{{0,3}}\d)*(?:{_SEP}{{0,2}}[Xx](?![A-Za-z]))?")
# Digits spelt in Chinese numerals ("一五五零零零零零一零一"): six or more in a row.
_CN_DIGITS = "零〇一二三四五六七八九"
_CN_NUMBER = re.compile(rf"[{_CN_DIGITS}幺两](?:\s?[{_CN_DIGITS}幺两]){{5,}}")
_CN_VALUE = {**{ch: str(i) for i, ch in enumerate("零一二三四五六七八九")}, "〇": "0", "幺": "1", "两": "2"}
# A recent date (an application day, a query day), left readable: from 2015 on it cannot be an
# adult's date of birth. Older dates are masked like any number, in either form.
_RECENT_DATE = re.compile(r"(?<!\d)20(?:1[5-9]|[2-9]\d)(?:([-./])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])"
                          r"|年(?:0?[1-9]|1[0-2])月(?:0?[1-9]|[12]\d|3[01])日?)(?!\d)")
_OLD_CN_DATE = re.compile(r"(?<!\d)(?:19\d\d|200\d|201[0-4])年(?:\d{1,2}月(?:\d{1,2}日?)?)?")
# Printable ASCII, or its full-width forms (a Chinese keyboard gives "！").
_PRINTABLE = r"[!-~\uff01-\uff5e]"
# A secret named by its keyword: "密码Abc12345!", "password is hunter22", "PIN: 1234", "pw x1!".
_KEYWORD = re.compile(r"(?i)(密码|密碼|口令|验证码|驗證碼|校验码|动态码|动态口令|短信码"
                      r"|(?<![A-Za-z])(?:pass\s*word|passwd|passcode|pass|pwd|pw|pin|otp|code)(?![A-Za-z]))"
                      rf"((?:\s*(?:[:：=＝是为為]|is|was)\s*|\s+)?)({_PRINTABLE}{{4,64}})")
# Tokens that could be a password: checked against the person's own (if known), and hidden
# outright when they look like one (letters, digits and a symbol: no login name or word does).
_SETUP_KEY = re.compile(r"(?<![A-Za-z0-9])(?:[A-Za-z2-7]{4}[ \-]?){3,}[A-Za-z2-7]{4,}(?![A-Za-z0-9])")
_TOKEN = re.compile(rf"{_PRINTABLE}{{8,64}}")
_STRONG_SYMBOLS = frozenset("!#$%^&*+?~")  # not = < > ( ): markup and code stay readable
_ASCII = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}
NAME_SLOTS = frozenset({"name"})
PHONE_SLOTS = frozenset({"phone", "new_phone", "card_phone"})
_NAME_GAP = r"[\s·・.．•\-_]*"


def normalise(text: str) -> str:
    """Full-width and other digits (circled, Arabic-Indic) and full-width Latin letters folded to
    ASCII, the ideographic space to a space, and invisible format characters (zero-width spaces,
    joiners, BOM, direction marks) dropped: what the answers' checks accept as a number must not
    slip past the masks. Chinese punctuation stays."""
    return "".join(_fold(ch) for ch in text if unicodedata.category(ch) != "Cf")


def _fold(ch: str) -> str:
    if ch.isascii():
        return ch
    if ch in _FOLD:
        return _FOLD[ch]
    digit = unicodedata.digit(ch, None)
    return str(digit) if digit is not None and unicodedata.category(ch) in ("Nd", "No") else ch


_FOLD = {chr(c): chr(c - 0xFEE0) for c in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))}
_FOLD["\u3000"] = " "


def mask_numbers(text: str) -> str:
    """Numbers of 6 digits or more, in the product's mask shapes: a mobile number 138****5678, an
    ID number 110101********1234, a card 6222 **** **** 1234; other long numbers keep their last 4,
    short ones (codes, dates of birth) nothing. Chinese-numeral runs and old dates too."""
    text, out, at = normalise(text), [], 0
    for date in _RECENT_DATE.finditer(text):
        out += [_mask_segment(text[at:date.start()]), date.group(0)]
        at = date.end()
    return "".join([*out, _mask_segment(text[at:])])


def _mask_segment(text: str) -> str:
    text = _OLD_CN_DATE.sub(lambda m: re.sub(r"\d", "*", m.group(0)), text)
    text = _CN_NUMBER.sub(lambda m: _mask_number("".join(_CN_VALUE.get(ch, "") for ch in m.group(0))), text)
    return _NUMBER.sub(_masked, text)


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
    """Words a person writes freely: numbers masked, anything named as a password or code or that
    looks like a password hidden, and the given names (the person's own) masked wherever they
    appear, even spaced or dotted ("王 小明", "王·小明")."""
    text = _SETUP_KEY.sub(lambda m: SECRET if _looks_like_key(m.group(0)) else m.group(0), normalise(text))
    text = mask_numbers(text)
    text = _KEYWORD.sub(lambda m: m.group(1) + m.group(2) + SECRET if _secret_like(m.group(3)) else m.group(0),
                        text)
    text = _TOKEN.sub(lambda m: SECRET if _looks_like_password(m.group(0)) else m.group(0), text)
    return mask_names(text, names)


def mask_names(text: str, names: Iterable[str]) -> str:
    for name in sorted({normalise(n).strip() for n in names if n and n.strip()}, key=len, reverse=True):
        if len(name) >= 2:
            pattern = _NAME_GAP.join(re.escape(ch) for ch in name if not ch.isspace() and ch not in "·・.")
            text = re.sub(pattern, mask_name(name), text)
    return text


def _looks_like_key(token: str) -> bool:
    """An authenticator's setup key (base32, shown in groups of four): 16 or more of its letters with
    a digit among them, so long words and plain numbers stay readable."""
    plain = re.sub(r"[\s\-]", "", token)
    return len(plain) >= 16 and any(ch.isdigit() for ch in plain) and any(ch.isalpha() for ch in plain)


def _secret_like(token: str) -> bool:
    """A token after a password keyword that looks like one: a digit or a symbol in it, so "password
    reset" stays readable while "password hunter22" does not."""
    return SECRET not in token and any(not ch.isalpha() for ch in token)


def _looks_like_password(token: str) -> bool:
    plain = token.translate(str.maketrans(_ASCII))
    return (SECRET not in token and "*" not in plain and any(ch.isalpha() for ch in plain)
            and any(ch.isdigit() for ch in plain) and any(ch in _STRONG_SYMBOLS for ch in plain))


def password_candidates(text: str, limit: int = 3) -> list[tuple[str, str]]:
    """(as typed, as the keyboard meant it) for tokens that pass the product's password rules, to
    check against the person's own password."""
    found = []
    for token in _TOKEN.findall(text):
        plain = token.translate(str.maketrans(_ASCII))
        if "*" not in plain and isinstance(check_password(plain), Ok):
            found.append((token, plain))
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
