"""Rare characters in names: fallback fonts for CJK Extension A/B and compatibility ideographs (B33)."""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path

import pytest
from pypdf import PasswordType, PdfReader

from backend.credit_data import Person, load_sandbox
from backend.reports import (
    CHINA_TZ,
    DEFAULT_FALLBACK_PATHS,
    DEFAULT_FONT_PATH,
    REMARKS_PREFIX,
    FallbackFont,
    ReportFontError,
    ReportFonts,
    build_report_data,
    render_report,
    render_text_sample,
    report_password,
    to_unicode_cmap,
)

REPO = Path(__file__).resolve().parents[2]
PERSONAS = REPO / "data" / "fixtures" / "personas.json"
P1 = "110105199003071239"
EXT_A, EXT_A_LAST = "\u3400", "\u4db5"  # 㐀 䶵
EXT_B, EXT_B_LATE = "\U00020bb7", "\U0002a6a5"  # 𠮷 𪚥
COMPAT = "\uf900\U0002f800"  # compatibility ideographs (BMP and supplement)
SUBSET_NAME = re.compile(r"^/[A-Z]{6}\+(.+?)(?:-\d+)?$")  # WQY is face 0 of a collection: "-0"


@pytest.fixture(scope="module")
def fonts() -> ReportFonts:
    return ReportFonts.default()


@pytest.fixture(scope="module")
def sandbox():
    return load_sandbox(PERSONAS)


def render(sandbox, fonts: ReportFonts, name: str, product: str = "report", **kw) -> bytes:
    persona = sandbox.personas[f"resident_id:{P1}"]
    person = Person(name, "resident_id", P1, "15500000101")
    data = build_report_data(person, persona.file, product=product, report_number="2026120410000012345678",
                             query_time=datetime(2026, 12, 4, 10, 0, tzinfo=CHINA_TZ), **kw)
    return render_report(data, password=report_password(P1), fonts=fonts)


def open_pdf(pdf: bytes) -> PdfReader:
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.is_encrypted and reader.decrypt(report_password(P1)) != PasswordType.NOT_DECRYPTED
    return reader


def embedded_fonts(reader: PdfReader) -> dict[str, bool]:
    """Base font name without subset prefix -> every subset of it has a FontFile2 (TrueType outlines)."""
    found: dict[str, bool] = {}
    for page in reader.pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            match = SUBSET_NAME.match(font["/BaseFont"])
            assert match, f"not a subset: {font['/BaseFont']}"
            has_outlines = "/FontFile2" in font["/FontDescriptor"].get_object()
            found[match[1]] = found.get(match[1], True) and has_outlines
    return found


def test_fallback_fonts_cover_extension_a_b_and_compatibility_ideographs(fonts):
    for char in (EXT_A, EXT_A_LAST, EXT_B, EXT_B_LATE, *COMPAT, "\u9fa6"):
        assert ord(char) in fonts.charmap, f"U+{ord(char):04X}"
    assert fonts.fallbacks == tuple(p.resolve() for p in DEFAULT_FALLBACK_PATHS)


@pytest.mark.parametrize(("name", "masked"), [
    (EXT_A + "小" + EXT_B, EXT_A + "*" + EXT_B),  # Extension A first, Extension B last
    (EXT_B_LATE + "·" + "\u4dae", EXT_B_LATE + "·" + "\u4dae"),  # 䶮, with the minority-name middle dot
])
def test_name_with_extension_a_and_b_renders_and_extracts(sandbox, fonts, name, masked):
    reader = open_pdf(render(sandbox, fonts, name, "hint"))
    text = reader.pages[0].extract_text()
    assert masked in text
    assert set(embedded_fonts(reader)) == {"WenQuanYiMicroHei", "HanaMinA", "HanaMinB"}
    assert all(embedded_fonts(reader).values())


def test_common_characters_stay_in_the_main_font(sandbox, fonts):
    reader = open_pdf(render(sandbox, fonts, "王小明", "hint"))
    assert set(embedded_fonts(reader)) == {"WenQuanYiMicroHei"}  # the fallbacks are embedded only when used


def test_rare_characters_in_remarks_and_cells_wrap_and_keep_their_order(sandbox, fonts):
    """Free text (remarks paragraph across lines) mixing both fonts still wraps with the B31 breaker."""
    remarks = ("个人信用" + EXT_A + EXT_B + COMPAT + "，报告说明") * 30
    reader = open_pdf(render(sandbox, fonts, EXT_B + "小明", "hint", remarks=remarks))
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))
    assert remarks in text and (REMARKS_PREFIX + remarks[:10]) in text
    assert EXT_B + "*明" in text
    lines = [line.strip() for page in reader.pages for line in page.extract_text().splitlines()]
    assert not [line for line in lines if line.startswith("，")]


def test_text_sample_round_trips_rare_characters(fonts):
    sample = f"个人信用报告 {EXT_A}{EXT_A_LAST}{EXT_B}{EXT_B_LATE}"
    assert PdfReader(io.BytesIO(render_text_sample(sample, fonts))).pages[0].extract_text().strip() == sample


def test_to_unicode_cmap_writes_astral_characters_as_utf16_pairs():
    cmap = to_unicode_cmap("AAAAAA+HanaMinB", [0, 0x20BB7, 0x3400])
    assert "<01> <D842DFB7>" in cmap and "<02> <3400>" in cmap and "<20BB7>" not in cmap


def test_fallback_font_splits_runs_by_font(fonts):
    from reportlab.pdfbase import pdfmetrics

    font = pdfmetrics.getFont(fonts.name)
    assert isinstance(font, FallbackFont)
    assert font.runs(f"王{EXT_A}\u3401明{EXT_B}") == [(0, "王"), (1, EXT_A + "\u3401"), (0, "明"), (2, EXT_B)]
    assert font.runs("abc 123") == [(0, "abc 123")]
    assert font.stringWidth(EXT_B, 10) > 5  # measured with the fallback's width, not a default


def test_missing_fallback_file_fails_loudly(tmp_path):
    missing = tmp_path / "no-such-fallback.ttf.xz"
    with pytest.raises(ReportFontError, match="file not found"):
        ReportFonts.load(DEFAULT_FONT_PATH, [missing])


def test_damaged_compressed_fallback_fails_loudly(tmp_path):
    junk = tmp_path / "junk.ttf.xz"
    junk.write_bytes(b"\xfd7zXZ\x00 not really xz")
    with pytest.raises(ReportFontError, match="not a usable TrueType font"):
        ReportFonts.load(DEFAULT_FONT_PATH, [junk])


def test_shipped_fallback_fonts_stay_small():
    total = sum(path.stat().st_size for path in DEFAULT_FALLBACK_PATHS)
    assert total < 15 * 1024 * 1024
    assert (DEFAULT_FONT_PATH.parent / "HanaMin-LICENSE.txt").is_file()
