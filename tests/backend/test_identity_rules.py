"""Tables for the identity input rules, named after the field cases in CASES.md."""

from __future__ import annotations

import inspect
import random
import re
from collections.abc import Callable
from datetime import date

import pytest

from backend import identity_rules
from backend.identity_rules import (
    ID_TYPES,
    INVISIBLE,
    MOBILE_PREFIXES,
    REASONS,
    Bad,
    Ok,
    Result,
    birth_date_of,
    check_char,
    check_password,
    clean_display_name,
    clean_text,
    is_id_type,
    login_name_key,
    make_test_id,
    mask_card,
    mask_id,
    mask_name,
    mask_phone,
    normalize_card,
    normalize_code,
    normalize_document_number,
    normalize_id_number,
    normalize_login_name,
    normalize_name,
    normalize_phone,
)

TODAY = date(2025, 6, 1)
P1_ID = "110105199003071239"
P2_ID = "11010519691231007X"
P3_ID = "510107198712030010"
P4_ID = "650102199506012464"
P4_NAME = "阿依古丽·买买提"
CARD_19 = "6200000000000000018"
CARD_16 = "6200000000000120"
CHECK_CHARS = "0123456789X"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id(raw: str) -> Result:
    return normalize_id_number(raw, today=TODAY)


# ---- B20: lower-case x -------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "11010519691231007x",
    "11010519691231007X",
    " 11010519691231007x ",
    "110105 19691231 007x",
    "110105-19691231-007x",
])
def test_b20_lowercase_x_check_digit(raw: str) -> None:
    # Both spellings normalise to one stored value, so a unique index sees one account.
    assert _id(raw) == Ok(P2_ID)


@pytest.mark.parametrize("raw", [P1_ID, P2_ID, P3_ID, P4_ID])
def test_fixture_ids_are_valid(raw: str) -> None:
    assert _id(raw) == Ok(raw)


def test_p1_with_changed_last_digit_is_rejected() -> None:
    assert _id("110105199003071238") == Bad("id_number.check_digit")


# ---- B22: remainder-to-check-character table ---------------------------------------------

B22_NUMBERS = [
    (0, "110101198001010061"), (1, "110101198001010010"), (2, "11010119800101007X"),
    (3, "110101198001010029"), (4, "110101198001010088"), (5, "110101198001010037"),
    (6, "110101198001010096"), (7, "110101198001010045"), (8, "110101198001010184"),
    (9, "110101198001010053"), (10, "110101198001010192"),
]


@pytest.mark.parametrize(("remainder", "number"), B22_NUMBERS)
def test_b22_each_remainder_is_accepted(remainder: int, number: str) -> None:
    assert sum(int(d) * w for d, w in zip(number[:17], WEIGHTS)) % 11 == remainder
    assert check_char(number[:17]) == number[17]
    assert _id(number) == Ok(number)


@pytest.mark.parametrize(("remainder", "number"), B22_NUMBERS)
def test_b22_raw_remainder_variant_rejected_unless_identical(remainder: int, number: str) -> None:
    variant = number[:17] + CHECK_CHARS[remainder]
    expected = Ok(number) if variant == number else Bad("id_number.check_digit")
    assert _id(variant) == expected


@pytest.mark.parametrize("variant", [
    number[:17] + last for _, number in B22_NUMBERS for last in CHECK_CHARS if last != number[17]
])
def test_b22_every_other_last_char_rejected(variant: str) -> None:
    assert _id(variant) == Bad("id_number.check_digit")


@pytest.mark.parametrize("seed", range(300))
def test_b22_make_test_id_always_validates(seed: int) -> None:
    rng = random.Random(seed)
    region = str(rng.randint(1, 8)) + f"{rng.randrange(100000):05d}"
    born = date.fromordinal(rng.randint(date(1900, 1, 1).toordinal(), TODAY.toordinal()))
    number = make_test_id(region, born.strftime("%Y%m%d"), f"{rng.randrange(1000):03d}")
    assert _id(number) == Ok(number)
    assert birth_date_of(number) == born


def test_make_test_id_defaults() -> None:
    assert make_test_id() == "11010119800101001" + check_char("11010119800101001")


@pytest.mark.parametrize("args", [("11010", "19800101", "001"), ("110101", "1980011", "001")])
def test_make_test_id_rejects_wrong_part_lengths(args: tuple[str, str, str]) -> None:
    with pytest.raises(ValueError):
        make_test_id(*args)


@pytest.mark.parametrize("first17", [
    "1101011980010100", "11010119800101001X", "１１０１０１１９８００１０１００１",
])
def test_check_char_needs_17_ascii_digits(first17: str) -> None:
    with pytest.raises(ValueError):
        check_char(first17)


# ---- resident ID shape and birth date ----------------------------------------------------


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "id_number.format"),
    ("11010519900307123", "id_number.format"),  # 17 chars
    ("1101051990030712390", "id_number.format"),  # 19 chars
    ("110105900307123", "id_number.format"),  # old 15-digit form
    ("11010519900307123Y", "id_number.format"),
    ("1101051990030X1239", "id_number.format"),
    (make_test_id(region="010101"), "id_number.format"),  # region must start 1-8
    (make_test_id(region="910101"), "id_number.format"),
    (make_test_id(birth="19900230"), "id_number.birth_date"),
    (make_test_id(birth="19901301"), "id_number.birth_date"),
    (make_test_id(birth="18991231"), "id_number.birth_date"),
    (make_test_id(birth="20250602"), "id_number.birth_date"),  # day after TODAY
    ("١١٠١٠٥١٩٩٠٠٣٠٧١٢٣٩", "id_number.format"),  # Arabic-Indic digits are not ASCII
])
def test_invalid_id_numbers(raw: str, reason: str) -> None:
    assert _id(raw) == Bad(reason)


@pytest.mark.parametrize("birth", ["19000101", "20250601", "20000229"])
def test_birth_date_bounds_are_inclusive(birth: str) -> None:
    number = make_test_id(birth=birth)
    assert _id(number) == Ok(number)


def test_birth_date_of() -> None:
    assert birth_date_of(P1_ID) == date(1990, 3, 7)


def test_id_without_today_uses_current_date() -> None:
    assert normalize_id_number(P1_ID) == Ok(P1_ID)
    assert normalize_id_number(make_test_id(birth="29990101")) == Bad("id_number.birth_date")


# ---- B23: full-width input from an IME ---------------------------------------------------


@pytest.mark.parametrize(("normalize", "raw", "expected"), [
    (normalize_phone, "１５５－００００－０１０１", "15500000101"),
    (_id, "１１０１０５１９９００３０７１２３９", P1_ID),
    (_id, "１１０１０５１９６９１２３１００７Ｘ", P2_ID),
    (_id, "１１０１０５１９６９１２３１００７ｘ", P2_ID),
    (normalize_card, "６２００　００００　００００　００００　０１８", CARD_19),
    (normalize_code, "１２３４５６", "123456"),
])
def test_b23_full_width_digits(normalize: Callable[[str], Result], raw: str, expected: str) -> None:
    result = normalize(raw)
    assert result == Ok(expected)
    assert isinstance(result, Ok) and result.value.isascii()


# ---- B25: zero-width characters ----------------------------------------------------------


@pytest.mark.parametrize(("normalize", "raw", "expected"), [
    (normalize_phone, "155\u200b0000\u200b0101", "15500000101"),
    (normalize_phone, "\u2060155\u200c0000\u200d0101\ufeff", "15500000101"),
    (_id, "\ufeff110105199003071239", P1_ID),
    (_id, "110105\u200b199003071239", P1_ID),
    (normalize_card, "6200\u200b0000 0000 0000 018", CARD_19),
    (normalize_code, "123\u200b456", "123456"),
    (normalize_login_name, "wang\u200dxm", "wangxm"),
    (normalize_name, "王\u200b小明", "王小明"),
])
def test_b25_zero_width_characters_removed(
    normalize: Callable[[str], Result], raw: str, expected: str
) -> None:
    result = normalize(raw)
    assert result == Ok(expected)
    assert isinstance(result, Ok) and not any(ch in result.value for ch in INVISIBLE)


@pytest.mark.parametrize(("raw", "expected"), [
    ("\ufeff  小明 ", "小明"),
    ("Wang\u200bXM", "WangXM"),
    ("\u200dWang", "Wang"),
    ("👨\u200d👩\u200d👧 Wang", "👨\u200d👩\u200d👧 Wang"),  # family emoji stays one glyph
    ("🏳\ufe0f\u200d🌈", "🏳\ufe0f\u200d🌈"),  # rainbow flag: ZWJ after VS16
    ("👩\u200d💻\u200b", "👩\u200d💻"),
    ("A\u200d👩", "A👩"),  # ZWJ between a letter and an emoji joins nothing
    ("👩\u200b👩", "👩👩"),  # only a ZWJ can join emoji
])
def test_b25_display_name_keeps_emoji_zwj(raw: str, expected: str) -> None:
    assert clean_display_name(raw) == expected


def test_clean_text_folds_and_strips() -> None:
    assert clean_text("\u3000ＡＢＣ１２３\u200b\ufeff ") == "ABC123"


# ---- B26: middle dot in minority names ---------------------------------------------------


@pytest.mark.parametrize("raw", [
    "阿依古丽·买买提",
    "阿依古丽•买买提",  # U+2022 bullet
    "阿依古丽・买买提",  # U+30FB katakana middle dot
    "阿依古丽･买买提",  # U+FF65 half-width katakana middle dot
    "阿依古丽．买买提",  # U+FF0E full-width full stop
    "阿依古丽.买买提",
    "阿依古丽‧买买提",  # U+2027 hyphenation point
    "阿依古丽ˑ买买提",  # U+02D1
    "阿依古丽 · 买买提",
    "阿依古丽 . 买买提",
    "阿依古丽　•　买买提",  # ideographic spaces
])
def test_b26_middle_dot_lookalikes_normalised(raw: str) -> None:
    assert normalize_name(raw) == Ok(P4_NAME)


def test_b26_p4_name_and_id_accepted_together() -> None:
    assert normalize_name(P4_NAME) == Ok(P4_NAME)
    assert _id(P4_ID) == Ok(P4_ID)


@pytest.mark.parametrize(("raw", "reason"), [
    ("阿依古丽··买买提", "name.separator"),
    ("阿依古丽.•买买提", "name.separator"),
    ("·阿依古丽", "name.separator"),
    ("阿依古丽·", "name.separator"),
    ("阿依古丽 买买提", "name.separator"),
    ("王小明1", "name.format"),
    ("王小明😀", "name.format"),
    ("王xiaoming", "name.format"),
    ("王", "name.format"),
    ("王" * 31, "name.format"),
    ("", "name.format"),
    ("John3", "name.format"),
    ("J", "name.format"),
    ("John  -Smith", "name.format"),
    ("John F. Kennedy", "name.format"),
    ("😀😀", "name.format"),
])
def test_invalid_names(raw: str, reason: str) -> None:
    assert normalize_name(raw) == Bad(reason)


@pytest.mark.parametrize(("raw", "expected"), [
    ("王小明", "王小明"),
    (" 欧阳娜娜 ", "欧阳娜娜"),
    ("𠮷野家", "𠮷野家"),  # CJK extension B
    ("John Smith", "John Smith"),
    ("Jean-Luc  O\u2019Neil", "Jean-Luc O'Neil"),
    ("José Müller", "José Müller"),
    ("王" * 30, "王" * 30),
])
def test_valid_names(raw: str, expected: str) -> None:
    assert normalize_name(raw) == Ok(expected)


@pytest.mark.parametrize("name", [
    "王\u3400",  # CJK Extension A, first
    "\u4db5小明",  # CJK Extension A, last of Unicode 3.0
    "\U00020bb7田",  # CJK Extension B
    "王\U0002a6a5",  # CJK Extension B, late
    "\u4dae·\U00020bb7",  # Extension A and B around the minority-name middle dot
    "阿依古丽·\U00020bb7买提",
])
def test_rare_name_characters_are_accepted_unchanged(name: str) -> None:
    """The PDF draws them with the fallback fonts, so registration must keep them exactly."""
    assert normalize_name(name) == Ok(name)
    assert normalize_name(name.replace("·", "•")) == Ok(name)


@pytest.mark.parametrize(("raw", "expected"), [
    ("王\uf900", "王\u8c48"),  # compatibility ideograph: NFKC folds it to the unified one
    ("王\U0002f800", "王\u4e3d"),
    ("王\u2f00", "王\u4e00"),  # Kangxi radical typed for 一
])
def test_compatibility_ideographs_fold_to_unified(raw: str, expected: str) -> None:
    assert normalize_name(raw) == Ok(expected)


# ---- B28: mobile prefixes ----------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("166-0000-0202", "16600000202"),
    ("173-0000-0303", "17300000303"),
    ("192-0000-0404", "19200000404"),
    ("199-0000-0505", "19900000505"),
    ("155-0000-0101", "15500000101"),
    ("15500000101", "15500000101"),
    ("155 0000 0101", "15500000101"),
    ("155.0000.0101", "15500000101"),
    ("(155) 0000-0101", "15500000101"),
    ("+86 155 0000 0101", "15500000101"),
    ("+86-155-0000-0101", "15500000101"),
    ("(+86)15500000101", "15500000101"),
    ("0086 15500000101", "15500000101"),
    ("8615500000101", "15500000101"),
])
def test_b28_current_mobile_prefixes_accepted(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == Ok(expected)


@pytest.mark.parametrize("raw", [
    "120-0000-0606",
    "155-0000-010",
    "155-0000-01011",
    "110-0000-0101",
    "174-0000-0101",  # satellite range
    "+1 155 0000 0101",
    "+85 15500000101",
    "86155000001",  # 11 digits: not a country code in front
    "155O0000101",
    "",
])
def test_b28_invalid_phones_rejected(raw: str) -> None:
    assert normalize_phone(raw) == Bad("phone.format")


@pytest.mark.parametrize("prefix", ["130", "145", "162", "166", "173", "192", "199"])
def test_b28_prefix_table_covers_new_ranges(prefix: str) -> None:
    assert prefix in MOBILE_PREFIXES


def test_b28_prefix_table_is_configurable() -> None:
    assert normalize_phone("120-0000-0606", prefixes=("120",)) == Ok("12000000606")
    assert normalize_phone("155-0000-0101", prefixes=("120",)) == Bad("phone.format")


# ---- B30: separators in card numbers -----------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("6200 0000 0000 0000 018", CARD_19),
    ("6200-0000-0000-0000-018", CARD_19),
    ("6200000000000000018", CARD_19),
    ("62000 00000000000018", CARD_19),  # one space: an odd count must not shift Luhn parity
    ("6 200000000000000018", CARD_19),
    ("620 0 0 000000000000 18", CARD_19),
    ("6200 0000 0000 0120", CARD_16),
    ("6200-0000 0000\u20140120", CARD_16),
])
def test_b30_card_separators_accepted(raw: str, expected: str) -> None:
    assert normalize_card(raw) == Ok(expected)


@pytest.mark.parametrize(("raw", "reason"), [
    ("6200 0000 0000 0000 019", "card.luhn"),
    ("62000 00000000000019", "card.luhn"),
    ("6200 0000 0000 012", "card.format"),  # 15 digits
    ("6200 0000 0000 0000 0180", "card.format"),  # 20 digits
    ("6200 0000 0000 O120", "card.format"),
    ("", "card.format"),
])
def test_b30_invalid_cards_rejected(raw: str, reason: str) -> None:
    assert normalize_card(raw) == Bad(reason)


# ---- other document types ----------------------------------------------------------------


def test_id_types_table() -> None:
    codes = [code for code, _ in ID_TYPES]
    assert len(ID_TYPES) == 14
    assert ID_TYPES[0] == ("0", "resident_id")
    assert codes == ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "X"]
    assert len({key for _, key in ID_TYPES}) == 14


@pytest.mark.parametrize(("code", "expected"), [
    ("0", True), ("A", True), ("X", True), ("Z", False), ("", False), ("a", False),
])
def test_is_id_type(code: str, expected: bool) -> None:
    assert is_id_type(code) is expected


@pytest.mark.parametrize(("id_type", "raw", "expected"), [
    ("0", "11010519691231007x", Ok(P2_ID)),
    ("0", "110105199003071238", Bad("id_number.check_digit")),
    ("2", "e12345678", Ok("E12345678")),
    ("2", " Ｅ１２３４５６７８ ", Ok("E12345678")),
    ("A", "A123456 (7)", Ok("A123456(7)")),
    ("A", "A123456（7）", Ok("A123456(7)")),
    ("5", "H1234567-01", Ok("H1234567-01")),
    ("2", "E123", Bad("document_number.format")),
    ("2", "E" * 21, Bad("document_number.format")),
    ("2", "护照12345", Bad("document_number.format")),
    ("Z", "E12345678", Bad("id_type.unknown")),
])
def test_document_numbers(id_type: str, raw: str, expected: Result) -> None:
    assert normalize_document_number(id_type, raw, today=TODAY) == expected


# ---- login names -------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("wangxm", Ok("wangxm")),
    ("WangXM_01", Ok("WangXM_01")),
    ("wang-xm", Ok("wang-xm")),
    ("ｗａｎｇｘｍ", Ok("wangxm")),
    ("a" * 16, Ok("a" * 16)),
    ("wangx", Bad("login_name.length")),
    ("a" * 17, Bad("login_name.length")),
    ("1wangxm", Bad("login_name.format")),
    ("_wangxm", Bad("login_name.format")),
    ("wang xm", Bad("login_name.format")),
    ("wang.xm", Bad("login_name.format")),
    ("王小明abc", Bad("login_name.format")),
    ("", Bad("login_name.format")),
])
def test_login_names(raw: str, expected: Result) -> None:
    assert normalize_login_name(raw) == expected


def test_login_name_key_ignores_case_and_invisibles() -> None:
    assert login_name_key("WangXM") == login_name_key("wangxm") == login_name_key("wang\u200dXM")


# ---- passwords ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "abcd1234", "ABCD!@#$", "12345678!", "Aa1!Aa1!Aa1!Aa1!Aa1!", "Pass_word",
])
def test_valid_passwords_are_returned_unchanged(raw: str) -> None:
    assert check_password(raw) == Ok(raw)


@pytest.mark.parametrize(("raw", "reason"), [
    ("abc123", "password.length"),
    ("a1" * 10 + "x", "password.length"),
    ("abcdefgh", "password.classes"),
    ("12345678", "password.classes"),
    ("!@#$%^&*", "password.classes"),
    (" abcd1234", "password.spaces"),
    ("abcd 1234", "password.spaces"),
    ("abcd1234\u3000", "password.spaces"),
    ("abcd1234\t", "password.spaces"),
    ("密码abcd1234", "password.charset"),
    ("ａｂｃｄ１２３４", "password.charset"),
    ("abcd\u200b1234", "password.charset"),
    ("", "password.length"),
])
def test_invalid_passwords(raw: str, reason: str) -> None:
    assert check_password(raw) == Bad(reason)


# ---- codes -------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "length", "expected"), [
    ("123456", 6, Ok("123456")),
    (" 123 456 ", 6, Ok("123456")),
    ("1234", 4, Ok("1234")),
    ("12345", 6, Bad("code.format")),
    ("1234567", 6, Bad("code.format")),
    ("12a456", 6, Bad("code.format")),
    ("١٢٣٤٥٦", 6, Bad("code.format")),
    ("", 6, Bad("code.format")),
])
def test_codes(raw: str, length: int, expected: Result) -> None:
    assert normalize_code(raw, length) == expected


# ---- masks -------------------------------------------------------------------------------


@pytest.mark.parametrize(("mask", "value", "expected"), [
    (mask_id, P1_ID, "110105********1239"),
    (mask_id, P2_ID, "110105********007X"),
    (mask_id, "E12345678", "E1*****78"),
    (mask_id, "AB12", "****"),
    (mask_card, CARD_19, "6200 **** **** 0018"),
    (mask_card, CARD_16, "6200 **** **** 0120"),
    (mask_card, "12345", "*****"),
    (mask_phone, "15500000101", "155****0101"),
    (mask_phone, "1234567", "*******"),
    (mask_name, "王小明", "王*明"),
    (mask_name, "小明", "*明"),
    (mask_name, "王", "*"),
    (mask_name, "", ""),
    (mask_name, "欧阳娜娜", "欧**娜"),
    (mask_name, P4_NAME, "阿***·**提"),
    (mask_name, "John Smith", "J*** ****h"),
])
def test_masks(mask: Callable[[str], str], value: str, expected: str) -> None:
    assert mask(value) == expected


def test_masks_never_show_the_middle_digits() -> None:
    assert "1990030712" not in mask_id(P1_ID)
    assert "0000" not in mask_phone("15500000101")


# ---- reason keys -------------------------------------------------------------------------


def test_reasons_lists_exactly_the_keys_the_module_returns() -> None:
    source = inspect.getsource(identity_rules)
    assert set(re.findall(r'Bad\("([a-z_.]+)"\)', source)) == REASONS
