"""Pure normalisation and validation rules for identity data typed into chat."""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone


@dataclass(frozen=True)
class Ok:
    value: str


@dataclass(frozen=True)
class Bad:
    reason: str


Result = Ok | Bad

# Every reason key this module can return, so callers can check their message catalogs cover them.
REASONS = frozenset({
    "id_number.format", "id_number.check_digit", "id_number.birth_date",
    "id_type.unknown", "document_number.format",
    "phone.format", "card.format", "card.luhn",
    "name.format", "name.separator",
    "login_name.format", "login_name.length",
    "password.length", "password.classes", "password.spaces", "password.charset",
    "code.format",
})

# Characters users paste along with text without seeing them (B25).
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_INVISIBLE_TABLE = dict.fromkeys(map(ord, INVISIBLE))
_ZWJ = "\u200d"
# Hyphen-like characters NFKC leaves alone (en/em dashes, minus sign) plus the ASCII ones.
_DASHES = r"\-\u2010-\u2015\u2212"
_SEPARATORS = re.compile(rf"[\s{_DASHES}]")
_PHONE_NOISE = re.compile(rf"[\s{_DASHES}.()]")

# Birth dates on ID cards are Beijing dates; "today" must not lag a day behind on a UTC server.
_CST = timezone(timedelta(hours=8))
EARLIEST_BIRTH = date(1900, 1, 1)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Indexed by the weighted-sum remainder; the remainder itself is NOT the check digit (B22).
_ID_CHECK_CHARS = "10X98765432"
# First digit of the region code is 1-8 (no region table: codes are re-issued over time).
_ID_SHAPE = re.compile(r"[1-8][0-9]{16}[0-9X]")
_DOCUMENT_SHAPE = re.compile(r"[A-Z0-9()\-]{5,20}")

RESIDENT_ID = "0"
ID_TYPES: tuple[tuple[str, str], ...] = (
    ("0", "resident_id"), ("1", "household_register"), ("2", "passport"),
    ("3", "officer_card"), ("4", "soldier_card"), ("5", "hk_macao_permit"),
    ("6", "taiwan_permit"), ("7", "temporary_id"), ("8", "foreigner_residence"),
    ("9", "police_card"), ("A", "hk_id"), ("B", "macao_id"), ("C", "taiwan_id"),
    ("X", "other"),
)
_ID_TYPE_CODES = frozenset(code for code, _ in ID_TYPES)


def _ranges(*spans: tuple[int, int]) -> tuple[str, ...]:
    return tuple(str(n) for low, high in spans for n in range(low, high + 1))


# Voice/SMS-capable 11-digit mobile ranges (MIIT allocations, cross-checked with libphonenumber's
# CN mobile pattern). Left out on purpose: 140/141/144/146/148 are 13-digit IoT numbers, 174 is
# satellite (1740x), 154/160/161/163/164/168/169/179/194 are unallocated. Callers may pass
# their own table from configuration when ranges are issued (B28).
MOBILE_PREFIXES: tuple[str, ...] = _ranges(
    (130, 139), (145, 145), (147, 147), (149, 149), (150, 153), (155, 159),
    (162, 162), (165, 167), (170, 173), (175, 178), (180, 189), (190, 193), (195, 199),
)
_COUNTRY_CODES = ("+86", "0086", "86")

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af"
_NAME_DOT = "\u00b7"
# Separators people type instead of U+00B7, the one on the ID card and in bank records (B26).
_LOOKALIKE_DOTS = re.compile(r"\s*[\u00b7\u2022\u30fb\uff0e.\u2027\u02d1\u2219\u22c5]\s*")
_HAN_NAME_CHARS = re.compile(rf"[{_HAN}{_NAME_DOT}\s]+")
_LATIN_LETTER = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_LATIN_NAME = re.compile(rf"[{_LATIN_LETTER}]+(?:[ '\-][{_LATIN_LETTER}]+)*")
_MASK_KEEP = "\u00b7 -'"

_LOGIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")
_PICTOGRAPHIC_RANGES = (
    (0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x2049), (0x2122, 0x2139),
    (0x2190, 0x21FF), (0x2300, 0x23FF), (0x25A0, 0x27BF), (0x2900, 0x297F),
    (0x2B00, 0x2BFF), (0x3030, 0x303D), (0x3297, 0x3299), (0x1F000, 0x1FAFF),
)


def clean_text(raw: str) -> str:
    """Remove invisible characters, fold full-width forms to ASCII (NFKC) and trim."""
    return unicodedata.normalize("NFKC", raw.translate(_INVISIBLE_TABLE)).strip()


def clean_display_name(raw: str) -> str:
    """Trim and drop invisible characters, except a ZWJ gluing two emoji into one glyph."""
    kept = (ch for i, ch in enumerate(raw) if ch not in INVISIBLE or _joins_emoji(raw, i))
    return "".join(kept).strip()


def _joins_emoji(text: str, i: int) -> bool:
    if text[i] != _ZWJ or i == 0 or i + 1 == len(text):
        return False
    # The left side may end in VS16 (U+FE0F), as in the rainbow flag 🏳️‍🌈.
    left = text[i - 1]
    return (left == "\ufe0f" or _is_pictographic(left)) and _is_pictographic(text[i + 1])


def _is_pictographic(ch: str) -> bool:
    code = ord(ch)
    return any(low <= code <= high for low, high in _PICTOGRAPHIC_RANGES)


def check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits of a resident ID."""
    if not re.fullmatch(r"[0-9]{17}", first17):
        raise ValueError("check_char needs exactly 17 ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK_CHARS[total % 11]


def birth_date_of(id_number: str) -> date:
    """Birth date encoded in a normalised 18-character ID number; ValueError if not a date."""
    digits = id_number[6:14]
    return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))


def normalize_id_number(raw: str, today: date | None = None) -> Result:
    """Resident ID: 18 chars, upper-case X, real birth date, correct check character."""
    value = _SEPARATORS.sub("", clean_text(raw)).upper()
    if not _ID_SHAPE.fullmatch(value):
        return Bad("id_number.format")
    if not _plausible_birth(value, today or datetime.now(_CST).date()):
        return Bad("id_number.birth_date")
    if check_char(value[:17]) != value[17]:
        return Bad("id_number.check_digit")
    return Ok(value)


def _plausible_birth(id_number: str, today: date) -> bool:
    try:
        born = birth_date_of(id_number)
    except ValueError:
        return False
    return EARLIEST_BIRTH <= born <= today


def is_id_type(code: str) -> bool:
    return code in _ID_TYPE_CODES


def normalize_document_number(id_type: str, raw: str, today: date | None = None) -> Result:
    """Validate a document number by its platform ID-type code (see ID_TYPES)."""
    if id_type == RESIDENT_ID:
        return normalize_id_number(raw, today)
    if not is_id_type(id_type):
        return Bad("id_type.unknown")
    value = re.sub(r"\s", "", clean_text(raw)).upper()
    return Ok(value) if _DOCUMENT_SHAPE.fullmatch(value) else Bad("document_number.format")


def normalize_phone(raw: str, prefixes: tuple[str, ...] = MOBILE_PREFIXES) -> Result:
    """Mainland mobile number as 11 ASCII digits, without country code or punctuation."""
    number = _strip_country_code(_PHONE_NOISE.sub("", clean_text(raw)))
    if re.fullmatch(r"1[0-9]{10}", number) and number[:3] in prefixes:
        return Ok(number)
    return Bad("phone.format")


def _strip_country_code(number: str) -> str:
    # Only strip when exactly 11 digits remain, so a bare 86... number is never truncated.
    for code in _COUNTRY_CODES:
        if number.startswith(code) and len(number) - len(code) == 11:
            return number[len(code):]
    return number


def normalize_card(raw: str) -> Result:
    """Bank card number: 16-19 digits after dropping spaces and dashes, Luhn-valid."""
    digits = _SEPARATORS.sub("", clean_text(raw))
    if not re.fullmatch(r"[0-9]{16,19}", digits):
        return Bad("card.format")
    return Ok(digits) if luhn_valid(digits) else Bad("card.luhn")


def luhn_valid(digits: str) -> bool:
    # Positions are counted on the bare digit string, from the right, so separators typed
    # between groups can never shift which digits get doubled (B30).
    total = 0
    for position, ch in enumerate(reversed(digits)):
        doubled = int(ch) * (2 if position % 2 else 1)
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def normalize_name(raw: str) -> Result:
    """Chinese name with U+00B7 between parts, or a Latin-letter name for foreign documents."""
    text = clean_text(raw)
    return _han_name(text) if re.search(f"[{_HAN}]", text) else _latin_name(text)


def _han_name(text: str) -> Result:
    name = _LOOKALIKE_DOTS.sub(_NAME_DOT, text)
    if not _HAN_NAME_CHARS.fullmatch(name):
        return Bad("name.format")
    # A space left between Han parts almost always stands for the missing middle dot.
    if re.search(r"\s", name) or _misplaced_dot(name):
        return Bad("name.separator")
    return Ok(name) if 2 <= len(name) <= 30 else Bad("name.format")


def _misplaced_dot(name: str) -> bool:
    return name.startswith(_NAME_DOT) or name.endswith(_NAME_DOT) or _NAME_DOT * 2 in name


def _latin_name(text: str) -> Result:
    name = re.sub(r"\s+", " ", text).replace("\u2019", "'")
    if 2 <= len(name) <= 60 and _LATIN_NAME.fullmatch(name):
        return Ok(name)
    return Bad("name.format")


def normalize_login_name(raw: str) -> Result:
    """6-16 chars of [A-Za-z0-9_-] starting with a letter; case is kept for display."""
    name = clean_text(raw)
    if not _LOGIN_NAME.fullmatch(name):
        return Bad("login_name.format")
    return Ok(name) if 6 <= len(name) <= 16 else Bad("login_name.length")


def login_name_key(name: str) -> str:
    """Uniqueness key: WangXM and wangxm are the same account."""
    return clean_text(name).lower()


def check_password(raw: str) -> Result:
    """8-20 printable ASCII chars, no spaces, at least two of letters/digits/symbols.

    The password is returned unchanged: normalising it would make a typed password differ
    from the one hashed at registration on clients that do not normalise the same way.
    """
    if any(ch.isspace() for ch in raw):
        return Bad("password.spaces")
    if not (raw.isascii() and raw.isprintable()):
        return Bad("password.charset")
    if not 8 <= len(raw) <= 20:
        return Bad("password.length")
    return Ok(raw) if _character_classes(raw) >= 2 else Bad("password.classes")


def _character_classes(password: str) -> int:
    kinds = (str.isalpha, str.isdigit, lambda ch: ch in string.punctuation)
    return sum(any(kind(ch) for ch in password) for kind in kinds)


def normalize_code(raw: str, length: int = 6) -> Result:
    """SMS/OTP code of exactly `length` ASCII digits; inner spaces and full-width digits allowed."""
    code = re.sub(r"\s", "", clean_text(raw))
    if len(code) == length and code.isascii() and code.isdigit():
        return Ok(code)
    return Bad("code.format")


def make_test_id(region: str = "110101", birth: str = "19800101", seq: str = "001") -> str:
    """Synthetic resident ID for tests, with the real check character so it validates (B22)."""
    if (len(region), len(birth), len(seq)) != (6, 8, 3):
        raise ValueError("region, birth and seq need 6, 8 and 3 digits")
    first17 = region + birth + seq
    return first17 + check_char(first17)


def _mask_middle(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def mask_id(value: str) -> str:
    """110105********1239; short document numbers keep two characters at each end."""
    return _mask_middle(value, 6, 4) if len(value) > 10 else _mask_middle(value, 2, 2)


def mask_card(value: str) -> str:
    """6200 **** **** 0018: a fixed shape, so the mask does not reveal the card's length."""
    digits = re.sub(r"[^0-9]", "", value)
    if len(digits) < 12:
        return "*" * len(digits)
    return f"{digits[:4]} **** **** {digits[-4:]}"


def mask_phone(value: str) -> str:
    return _mask_middle(value, 3, 4)


def mask_name(value: str) -> str:
    """王*明, *明, 阿***·**提: first and last character and separators stay visible."""
    if len(value) < 2:
        return "*" * len(value)
    if len(value) == 2:
        return "*" + value[1]
    inner = "".join(ch if ch in _MASK_KEEP else "*" for ch in value[1:-1])
    return value[0] + inner + value[-1]
