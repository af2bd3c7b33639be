from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from pypdf import PasswordType, PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph

from backend.credit_data import Person, load_sandbox
from backend.errors import BackendError
from backend.identity_rules import mask_id, mask_name, mask_phone
from backend.reports import (
    ACCOUNT_COLUMNS,
    CELL_PADDING,
    CHINA_TZ,
    CONTENT_LEFT,
    FRAME_WIDTH,
    MARGIN_X,
    NO_LINE_START,
    PAGE_SIZE,
    REMARKS_PREFIX,
    SMOKE_TEXT,
    WATERMARK,
    CjkParagraph,
    ReportFontError,
    ReportFonts,
    ReportGlyphError,
    break_cjk_lines,
    build_report_data,
    build_styles,
    render_report,
    render_report_async,
    render_text_sample,
    report_password,
)

REPO = Path(__file__).resolve().parents[2]
PERSONAS = REPO / "data" / "fixtures" / "personas.json"
QUERY_TIME = datetime(2026, 12, 4, 10, 0, tzinfo=CHINA_TZ)
NUMBER = "2026120410000012345678"
P1, P2, P4 = "110105199003071239", "11010519691231007X", "650102199506012464"
SECTIONS = ("个人基本信息", "信息概要", "信贷交易信息明细", "公共记录", "查询记录")
PAGE_RE = re.compile(r"第 (\d+) 页 共 (\d+) 页")
PLAIN_TEXT = "个人信用信息基础数据库依法采集保存整理个人的信用信息并为个人和金融机构提供信用报告查询服务"


@pytest.fixture(scope="module")
def fonts():
    return ReportFonts.default()


@pytest.fixture(scope="module")
def sandbox():
    return load_sandbox(PERSONAS)


def make_data(sandbox, id_number, product="report", **kw):
    persona = sandbox.personas[f"resident_id:{id_number}"]
    person = kw.pop("person", persona.person)
    kw.setdefault("query_time", QUERY_TIME)
    return build_report_data(person, persona.file, product=product, report_number=NUMBER, **kw)


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def body_text(pages: list[str]) -> str:
    """Page text without running header, watermark and footer, so paragraphs read across pages."""
    furniture = re.compile(rf"^(.*报告编号：.*|{WATERMARK}|第 \d+ 页 共 \d+ 页)$")
    return "".join(line for page in pages for line in page.splitlines() if not furniture.match(line.strip()))


def text_lines(pdf: bytes, fonts: ReportFonts) -> list[tuple[int, float, float, str]]:
    """(page, left x, right x, text) for every drawn text line except the rotated watermark."""
    lines: list[tuple[int, float, float, str]] = []
    for number, page in enumerate(PdfReader(io.BytesIO(pdf)).pages, 1):
        pieces: list[list] = []

        def visit(text, cm, tm, _font, size, pieces=pieces):
            if cm[1] or not text:
                return
            key = (round(cm[4] + tm[4], 2), round(cm[5] + tm[5], 2), size)
            if pieces and pieces[-1][0] == key and not pieces[-1][1].endswith("\n"):
                pieces[-1][1] += text
            else:
                pieces.append([key, text])

        page.extract_text(visitor_text=visit)
        for (x, _y, size), text in pieces:
            content = text.strip()
            if content:
                lines.append((number, x, x + stringWidth(content, fonts.name, size), content))
    return lines


# --- content ------------------------------------------------------------------------------------


def test_report_has_title_number_masked_identity_and_sections(sandbox, fonts):
    pages = pages_text(render_report(make_data(sandbox, P1), fonts=fonts))
    text = "\n".join(pages)
    for expected in ("个人信用报告", NUMBER, "王*明", "110105********1239", "155****0101", *SECTIONS):
        assert expected in text
    assert "王小明" not in text and P1 not in text
    assert PAGE_RE.search(pages[0]).groups() == ("1", str(len(pages)))


@pytest.mark.parametrize(("product", "title", "present", "absent"), [
    ("report", "个人信用报告", SECTIONS, ()),
    ("summary", "个人信用信息概要", ("个人基本信息", "信息概要", "公共记录：共"), ("信贷交易信息明细", "查询机构")),
    ("hint", "个人信用信息提示", ("个人基本信息", "信息提示", "您在过去五年内没有逾期记录"), ("信息概要", "查询记录")),
])
def test_each_product_has_its_title_and_sections(sandbox, fonts, product, title, present, absent):
    text = "\n".join(pages_text(render_report(make_data(sandbox, P1, product), fonts=fonts)))
    assert title in text
    assert all(p in text for p in present)
    assert not any(a in text for a in absent)


def test_hint_reports_overdue_accounts(sandbox, fonts):
    text = flat("".join(pages_text(render_report(make_data(sandbox, P2, "hint"), fonts=fonts))))
    assert "您在过去五年内有逾期记录，发生过逾期的账户数为3个。" in text
    assert "您在过去五年内有不良记录" in text


@pytest.mark.parametrize(("mask", "value", "expected"), [
    (mask_id, "110105199003071239", "110105********1239"),
    (mask_phone, "15500000101", "155****0101"),
    (mask_name, "王小明", "王*明"),
    (mask_name, "阿依古丽·买买提", "阿***·**提"),
])
def test_masks(mask, value, expected):
    assert mask(value) == expected


def test_query_time_is_shown_in_china_time(sandbox, fonts):
    data = make_data(sandbox, P1, query_time=datetime(2026, 12, 4, 2, 0, tzinfo=UTC))
    assert "2026.12.04 10:00:00" in pages_text(render_report(data, fonts=fonts))[0]


def test_naive_query_time_is_rejected(sandbox):
    with pytest.raises(ValueError, match="timezone-aware"):
        make_data(sandbox, P1, query_time=datetime(2026, 12, 4, 10, 0))  # noqa: DTZ001


def test_b20_pdf_shows_upper_case_x(sandbox, fonts):
    person = Person("李建国", "resident_id", P2.lower(), "16600000202")
    text = pages_text(render_report(make_data(sandbox, P2, person=person), fonts=fonts))[0]
    assert "110105********007X" in text


def test_platform_id_type_code_gets_its_label(sandbox, fonts):
    person = Person("王小明", "0", P1, "15500000101")
    assert "居民身份证" in pages_text(render_report(make_data(sandbox, P1, "hint", person=person), fonts=fonts))[0]


def test_b26_middle_dot_name_is_drawn(sandbox, fonts):
    text = pages_text(render_report(make_data(sandbox, P4, "hint"), fonts=fonts))[0]
    assert "阿***·**提" in text  # the U+00B7 dot survives masking and rendering


# --- long reports -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def p4_pdf(sandbox, fonts):
    return render_report(make_data(sandbox, P4), fonts=fonts)


def test_p4_report_spans_several_numbered_pages(p4_pdf):
    pages = pages_text(p4_pdf)
    assert len(pages) >= 3
    for number, text in enumerate(pages, 1):
        assert PAGE_RE.findall(text) == [(str(number), str(len(pages)))]


def test_p4_account_tables_repeat_their_header_on_every_page(p4_pdf):
    pages = pages_text(p4_pdf)
    with_rows = [text for text in pages if re.search(r"[N*1C]{12}", text)]
    assert len(with_rows) >= 3
    assert all("最近24个月还款状态" in text for text in with_rows)


def test_p4_every_account_is_listed(sandbox, p4_pdf):
    text = flat("".join(pages_text(p4_pdf)))
    file = sandbox.personas[f"resident_id:{P4}"].file
    assert all(flat(a.institution) in text for a in (*file.cards, *file.loans))


# --- B31: Chinese wrapping ----------------------------------------------------------------------


def stock_line_starts(text: str, fonts: ReportFonts) -> list[int]:
    """Where reportlab's own CJK breaker would start each line of a remarks paragraph."""
    para = Paragraph(escape(text), build_styles(fonts.name).note)
    para.wrap(FRAME_WIDTH, 10_000)
    lengths = [len("".join(words)) for _extra, words in para.blPara.lines]
    return [sum(lengths[:i]) for i in range(1, len(lengths))]


def remarks_with_commas_at_stock_breaks(fonts: ReportFonts) -> str:
    base = (PLAIN_TEXT * 10)[:400]
    offset = len(REMARKS_PREFIX)
    starts = {s - offset for s in stock_line_starts(REMARKS_PREFIX + base, fonts)}
    return "".join("，" if i in starts else c for i, c in enumerate(base))


def test_b31_remarks_of_400_chars_wrap_in_full_and_in_order(sandbox, fonts):
    remarks = remarks_with_commas_at_stock_breaks(fonts)
    assert len(remarks) == 400 and remarks.count("，") >= 5  # stock reportlab would start lines with ，
    pdf = render_report(make_data(sandbox, P1, remarks=remarks), fonts=fonts)
    pages = pages_text(pdf)
    assert remarks in flat(body_text(pages))
    starts = [line.strip()[:1] for page in pages for line in page.splitlines() if line.strip()]
    assert not [s for s in starts if s in NO_LINE_START]
    right_edge = PAGE_SIZE[0] - MARGIN_X + 0.5
    assert all(MARGIN_X - 0.5 <= x0 and x1 <= right_edge for _p, x0, x1, _t in text_lines(pdf, fonts))
    assert [x1 for _p, _x0, x1, t in text_lines(pdf, fonts) if t.startswith(REMARKS_PREFIX)][0] > right_edge - 20


def test_b31_paragraph_split_over_pages_keeps_every_character(sandbox, fonts):
    remarks = (PLAIN_TEXT + "，") * 120
    pages = pages_text(render_report(make_data(sandbox, P1, "hint", remarks=remarks), fonts=fonts))
    assert len(pages) >= 2
    assert remarks in flat(body_text(pages))


def test_b31_long_institution_wraps_inside_its_cell(sandbox, fonts, p4_pdf):
    file = sandbox.personas[f"resident_id:{P4}"].file
    name = max((a.institution for a in file.cards), key=len)
    assert len(name) == 60 and name in flat(body_text(pages_text(p4_pdf)))
    left = CONTENT_LEFT + FRAME_WIDTH * ACCOUNT_COLUMNS[0] + CELL_PADDING
    right = CONTENT_LEFT + FRAME_WIDTH * (ACCOUNT_COLUMNS[0] + ACCOUNT_COLUMNS[1]) - CELL_PADDING
    cell_lines = [(x1, text) for _p, x0, x1, text in text_lines(p4_pdf, fonts) if abs(x0 - left) < 0.5]
    pieces = [text for _x1, text in cell_lines if text in name]
    assert len(pieces) >= 4
    assert all(x1 <= right + 0.5 for x1, _text in cell_lines)


def test_b31_cell_paragraph_lines_fit_the_cell(sandbox, fonts):
    name = max((a.institution for a in sandbox.personas[f"resident_id:{P4}"].file.cards), key=len)
    width = FRAME_WIDTH * ACCOUNT_COLUMNS[1] - 2 * CELL_PADDING
    para = CjkParagraph(escape(name), build_styles(fonts.name).cells["L"])
    para.wrap(width, 10_000)
    lines = [words[0] for _extra, words in para.blPara.lines]
    assert "".join(lines) == name and len(lines) > 1
    assert all(extra >= -1e-6 for extra, _words in para.blPara.lines)


def char_width(text: str) -> float:
    return 10.0 * len(text)


@pytest.mark.parametrize(("text", "width", "expected"), [
    ("甲乙丙丁戊，己庚", 50, ["甲乙丙丁", "戊，己庚"]),  # ，would start line 2: 戊 moves down with it
    ("甲乙丙丁戊」。己", 60, ["甲乙丙丁", "戊」。己"]),  # two closers in a row
    ("甲乙丙丁（戊己", 50, ["甲乙丙丁", "（戊己"]),  # （ may not end a line
    ("甲乙丙（丁戊己", 40, ["甲乙丙", "（丁戊己"]),
    ("甲乙 abc de", 50, ["甲乙", "abc", "de"]),  # Latin words are not cut
    ("abcdefghij", 40, ["abcd", "efgh", "ij"]),  # unless one is wider than the line
    ("，，，，，，", 20, ["，，", "，，", "，，"]),  # no allowed break: keep full lines, never loop
])
def test_b31_break_cjk_lines(text, width, expected):
    lines = break_cjk_lines(text, [width], char_width)
    assert [line for _extra, line in lines] == expected
    assert all(extra >= 0 for extra, _line in lines)


def test_b31_first_line_may_be_narrower():
    lines = break_cjk_lines("甲乙丙丁戊己", [20, 40], char_width)
    assert [line for _extra, line in lines] == ["甲乙", "丙丁戊己"]


# --- B33: fonts -------------------------------------------------------------------------------


def test_b33_missing_font_fails_loudly(tmp_path, sandbox):
    missing = tmp_path / "no-such-font.ttc"
    with pytest.raises(ReportFontError, match="file not found") as caught:
        render_report(make_data(sandbox, P1), fonts=ReportFonts.load(missing))
    assert caught.value.path == missing
    assert list(tmp_path.iterdir()) == []


def test_b33_font_errors_are_backend_errors():
    assert issubclass(ReportGlyphError, ReportFontError) and issubclass(ReportFontError, BackendError)


def test_b33_damaged_font_fails_loudly(tmp_path):
    junk = tmp_path / "junk.ttc"
    junk.write_bytes(b"\x00\x01\x00\x00" + bytes(200))
    with pytest.raises(ReportFontError, match="not a usable TrueType font"):
        ReportFonts.load(junk)


@pytest.mark.skipif(not Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").exists(), reason="no DejaVu")
def test_b33_font_without_chinese_glyphs_is_refused():
    with pytest.raises(ReportGlyphError) as caught:
        ReportFonts.load("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    assert set(caught.value.missing) == set(SMOKE_TEXT.replace(" ", ""))


def test_b33_smoke_text_round_trips(fonts):
    assert pages_text(render_text_sample(SMOKE_TEXT, fonts))[0].strip() == SMOKE_TEXT


def test_b33_character_missing_from_every_font_refuses_the_report(sandbox, fonts):
    person = Person("王\U00030000", "resident_id", P1, "15500000101")  # CJK Extension G: in no report font
    with pytest.raises(ReportGlyphError, match="1 character\\(s\\) in CJK Extensions G-H") as caught:
        render_report(make_data(sandbox, P1, person=person), fonts=fonts)
    assert caught.value.missing == "\U00030000"
    message = f"{caught.value} {caught.value.fields}"  # what a log line would show: no part of the name
    assert "30000" not in message and "\U00030000" not in message and "王" not in message


def test_default_font_is_cached_under_one_unique_name(fonts):
    again = ReportFonts.default()
    assert again is fonts and fonts.name.startswith("CreditReport-")


def test_fonts_are_embedded_subsets_and_never_stsong(p4_pdf):
    reader = PdfReader(io.BytesIO(p4_pdf))
    seen = set()
    for page in reader.pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            seen.add(font["/BaseFont"])
            assert "/FontFile2" in font["/FontDescriptor"].get_object()
    assert seen and all("WenQuanYiMicroHei" in name for name in seen)
    assert b"STSong" not in p4_pdf


# --- encryption and async ---------------------------------------------------------------------


def test_password_protects_the_pdf(sandbox, fonts):
    pdf = render_report(make_data(sandbox, P1, "summary"), password="246810", fonts=fonts)
    wrong, right = PdfReader(io.BytesIO(pdf)), PdfReader(io.BytesIO(pdf))
    assert wrong.is_encrypted
    assert wrong.decrypt("135790") == PasswordType.NOT_DECRYPTED
    assert right.decrypt("246810") != PasswordType.NOT_DECRYPTED
    assert "个人信用信息概要" in right.pages[0].extract_text()


@pytest.mark.parametrize("product", ["summary", "report"])
def test_p4_summary_totals_are_yuan_and_the_dollar_card_is_listed_apart(sandbox, fonts, product):
    pdf = render_report(make_data(sandbox, P4, product), password=report_password(P4), fonts=fonts)
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.decrypt("012464") != PasswordType.NOT_DECRYPTED
    text = flat(body_text([page.extract_text() for page in reader.pages]))
    assert "信用卡5050401,545,000678,0000" in text  # 50 accounts (the dollar card too), yuan sums only
    assert "其中外币信用卡账户（金额未计入上表）：美元授信总额30,000，已用额度27,000，当前逾期总额0。" in text
    assert "1,575,000" not in text and "705,000" not in text


def test_a_yuan_only_summary_lists_no_foreign_currency(sandbox, fonts):
    text = flat("".join(pages_text(render_report(make_data(sandbox, P1, "summary"), fonts=fonts))))
    assert "信用卡220080,0003,2000" in text and "外币" not in text


def test_empty_password_is_refused(sandbox, fonts):
    with pytest.raises(ValueError, match="empty"):
        render_report(make_data(sandbox, P1), password="", fonts=fonts)


async def test_render_report_async_matches_sync(sandbox, fonts):
    data = make_data(sandbox, P1)
    pdf = await render_report_async(data, fonts=fonts)
    assert len(pages_text(pdf)) == len(pages_text(render_report(data, fonts=fonts)))


def test_empty_credit_file_renders_placeholders(sandbox, fonts):
    data = replace(make_data(sandbox, P1), file=replace(make_data(sandbox, P1).file, cards=(), loans=(),
                                                          public_records=(), queries=()))
    text = "".join(pages_text(render_report(data, fonts=fonts)))
    assert all(t in text for t in ("无信用卡账户记录。", "无贷款账户记录。", "无公共记录。", "无查询记录。"))
