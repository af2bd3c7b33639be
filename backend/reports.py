"""Renders the credit products (个人信用报告, 个人信用信息概要, 个人信用信息提示) as PDF with reportlab.

Rendering is pure: ``build_sections`` turns a ``ReportData`` into plain content (paragraph text and
tables of strings), and ``render_report`` lays that content out. Two rules from past failures:

* B31: Chinese text wraps inside its frame or table cell. ``CjkParagraph`` breaks lines itself,
  so no line starts with closing punctuation (such as ，or 。) and nothing hangs into the margin.
* B33: the CJK fonts are embedded (as subsets) and checked. ``ReportFonts.load`` raises
  ``ReportFontError`` (a ``BackendError``) when a file is missing, unreadable or the main font
  cannot show ``SMOKE_TEXT``. Rare characters in names (CJK Extension A and B, compatibility
  ideographs) that the main font lacks are drawn with the fallback fonts: ``FallbackFont`` is one
  reportlab font name that picks, per run of characters, the first font that has them, so
  paragraphs, table cells and canvas strings all switch font without markup.
  ``render_report`` raises ``ReportGlyphError`` before it draws a character no font has.

The report mirrors the real Chinese document, so its labels are Chinese and sit at the top.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import copy
import io
import itertools
import lzma
import re
import secrets
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal
from weakref import WeakKeyDictionary
from xml.sax.saxutils import escape

from reportlab.lib import colors, pdfencrypt
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import SUBSETN, TTFError, TTFont, makeToUnicodeCMap
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import CondPageBreak, Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from backend.credit_data import (
    AccountTotals,
    CardAccount,
    CreditFile,
    CreditHint,
    CreditSummary,
    LoanAccount,
    Person,
    build_account_state,
    build_hint,
    build_summary,
    canonical_id_type,
)
from backend.identity_rules import mask_id, mask_name, mask_phone
from backend.errors import BackendError

Product = Literal["hint", "summary", "report"]

# --- labels ----------------------------------------------------------------------------------
TITLES: Mapping[Product, str] = {"report": "个人信用报告", "summary": "个人信用信息概要", "hint": "个人信用信息提示"}
SECTION_BASIC = "个人基本信息"
SECTION_SUMMARY = "信息概要"
SECTION_HINT = "信息提示"
SECTION_DETAIL = "信贷交易信息明细"
SECTION_PUBLIC = "公共记录"
SECTION_QUERIES = "查询记录"
SECTION_NOTES = "报告说明"
SUB_CARDS = "（一）信用卡账户"
SUB_LOANS = "（二）贷款账户"
WATERMARK = "仅供本人查询使用"
PAGE_LABEL = "第 {page} 页 共 {total} 页"
RUNNING_HEADER = "{title}    报告编号：{number}"
META_LABELS = ("报告编号", "查询时间", "被查询者姓名", "被查询者证件类型", "被查询者证件号码", "查询原因")
QUERY_REASON_SELF = "本人查询（互联网个人信用信息服务平台）"
BASIC_HEADER = ("姓名", "证件类型", "证件号码", "手机号码")
SUMMARY_HEADER = ("账户类型", "账户数", "未结清/未销户账户数", "发生过逾期的账户数",
                  "发生过90天以上逾期的账户数", "授信总额/借款总额", "已用额度/余额", "当前逾期总额")
SUMMARY_ROWS = ("信用卡", "个人住房贷款", "其他贷款")
SUMMARY_TAIL = "公共记录：共 {records} 条。最近2年内查询记录：共 {queries} 次。"
# The table's amounts are in yuan; foreign-currency cards are counted there but summed here, per currency.
SUMMARY_FOREIGN = ("其中外币信用卡账户（金额未计入上表）：{currency} 授信总额 {limit}，已用额度 {used}，"
                   "当前逾期总额 {overdue}。")
CARD_HEADER = ("编号", "发卡机构", "开立日期", "币种", "授信额度", "已用额度", "当前逾期金额", "账户状态",
               "最近24个月还款状态")
LOAN_HEADER = ("编号", "贷款机构", "贷款种类", "发放日期", "借款金额", "余额", "当前逾期金额", "账户状态",
               "最近24个月还款状态")
PUBLIC_HEADER = ("编号", "类型", "机构", "日期", "涉及金额", "内容")
QUERY_HEADER = ("编号", "查询日期", "查询机构", "查询原因")
STATUS_LEGEND = ("还款状态时间范围：{start}至{end}，左起为最早月份。N＝正常还款；1～7＝逾期月数（7表示逾期180天以上）；"
                 "*＝当月无还款义务；C＝结清或销户。")
NO_CARDS = "无信用卡账户记录。"
NO_LOANS = "无贷款账户记录。"
NO_PUBLIC = "无公共记录。"
NO_QUERIES = "无查询记录。"
HINT_OVERDUE = ("您在过去五年内没有逾期记录。", "您在过去五年内有逾期记录，发生过逾期的账户数为 {n} 个。")
HINT_ADVERSE = ("您在过去五年内没有不良记录。", "您在过去五年内有不良记录（90天以上逾期或公共记录）。")
HINT_PUBLIC = "您在过去五年内的公共记录：{n} 条。"
NOTES = (
    "一、本报告由互联网个人信用信息服务平台根据您的查询申请生成，仅供本人了解自己的信用状况使用，请妥善保管。",
    "二、报告中的信息由相关机构报送，如您对信息有异议，可向报送机构或征信中心提出异议申请。",
    "三、为保护您的个人信息，报告中的姓名、证件号码和手机号码已部分隐藏。",
)
REMARKS_PREFIX = "四、备注："
VERIFY_NOTE = ("{order}、本报告编号为 {number}。如需核验真伪，可运行 creditbot verify-report {number}，"
               "或访问 /reports/verify/{number}。")
ID_TYPE_LABELS: Mapping[str, str] = {
    "resident_id": "居民身份证", "household_register": "户口簿", "passport": "护照", "officer_card": "军官证",
    "soldier_card": "士兵证", "hk_macao_permit": "港澳居民来往内地通行证", "taiwan_permit": "台湾同胞来往内地通行证",
    "temporary_id": "临时身份证", "foreigner_residence": "外国人居留证", "police_card": "警官证",
    "hk_id": "香港身份证", "macao_id": "澳门身份证", "taiwan_id": "台湾身份证", "other": "其他证件"}
CURRENCY_LABELS: Mapping[str, str] = {"CNY": "人民币", "USD": "美元", "EUR": "欧元", "HKD": "港元"}
LOAN_KIND_LABELS: Mapping[str, str] = {"mortgage": "个人住房贷款", "other": "其他贷款"}
PUBLIC_KIND_LABELS: Mapping[str, str] = {"court_judgment": "民事判决", "tax_arrears": "欠税",
                                         "enforcement": "强制执行"}
CARD_STATE_LABELS: Mapping[str, str] = {"normal": "正常", "overdue": "逾期", "closed": "销户", "bad_debt": "呆账"}
LOAN_STATE_LABELS: Mapping[str, str] = {**CARD_STATE_LABELS, "closed": "结清"}

# --- layout ------------------------------------------------------------------------------------
REPO_ROOT = Path(__file__).resolve().parents[1]
ASSETS = REPO_ROOT / "data" / "report_assets"
DEFAULT_FONT_PATH = ASSETS / "wqy-microhei.ttc"
# Hanazono Mincho subsets (see data/report_assets/README.md): A has Extension A, compatibility
# ideographs, radicals and the URO characters WQY lacks; B has Extension B. Shipped xz-compressed.
DEFAULT_FALLBACK_PATHS = (ASSETS / "HanaMinA-subset.ttf.xz", ASSETS / "HanaMinB-subset.ttf.xz")
SMOKE_TEXT = "个人信用报告 王小明"
# China has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact for report
# dates and needs no tz database in the container.
CHINA_TZ = timezone(timedelta(hours=8), "CST")
PAGE_SIZE = A4
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 15 * mm, 22 * mm, 18 * mm
FRAME_PADDING = 6  # reportlab's default Frame padding, inside the margins
CONTENT_LEFT = MARGIN_X + FRAME_PADDING
FRAME_WIDTH = PAGE_SIZE[0] - 2 * CONTENT_LEFT  # what a paragraph or table may use
CELL_PADDING = 3
KEEP_WITH_NEXT = 70  # points a heading needs below it (itself, a table header and a row)
ACCOUNT_COLUMNS = (0.05, 0.22, 0.09, 0.09, 0.09, 0.09, 0.08, 0.09, 0.20)  # shares of FRAME_WIDTH
HEADER_GREY = colors.HexColor("#e4eaf2")
GRID_GREY = colors.HexColor("#9aa5b1")
WATERMARK_GREY = colors.Color(0.55, 0.55, 0.55, alpha=0.16)

# Characters that may not start a line (closing punctuation) or end one (opening punctuation),
# after GB/T 15834. reportlab's own list lacks ，；：？！》 and others.
NO_LINE_START = frozenset("，。、；：？！）］｝〕〉》」』】〗〙”’…‥·・％‰℃°′″,.;:?!)]}%")
NO_LINE_END = frozenset("（［｛〔〈《「『【〖〘“‘([{￥$£")
_UNITS = re.compile(r"[!-~]+| +|.", re.S)  # a Latin word or number stays whole; else one char
_FUZZ = 1e-6
PDF_KEY_BITS = 128  # RC4-128; see _encryption for why not AES-256
PASSWORD_LENGTH = 6


class ReportFontError(BackendError):
    """The report font cannot be used; report jobs must stop until it is fixed."""

    reason = "report.font"

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"report font {path}: {problem}", path=str(path), problem=problem)
        self.path, self.problem = path, problem


# Where a character that no font has comes from, for the error message: the block tells an
# operator which font to add without the message quoting (part of) a person's name.
_BLOCKS = ((0x3400, 0x4DBF, "CJK Extension A"), (0x4E00, 0x9FFF, "CJK Unified Ideographs"),
           (0xE000, 0xF8FF, "Private Use Area"), (0xF900, 0xFAFF, "CJK Compatibility Ideographs"),
           (0x20000, 0x2A6DF, "CJK Extension B"), (0x2A700, 0x2EE5F, "CJK Extensions C-F, I"),
           (0x2F800, 0x2FA1F, "CJK Compatibility Supplement"), (0x30000, 0x323AF, "CJK Extensions G-H"),
           (0xF0000, 0x10FFFF, "Supplementary Private Use Area"))


def _unicode_block(char: str) -> str:
    code = ord(char)
    return next((name for low, high, name in _BLOCKS if low <= code <= high), "other")


class ReportGlyphError(ReportFontError):
    """The report text contains characters that no report font can draw.

    The message says how many and from which Unicode blocks, never which characters: they may
    come from a name. ``missing`` holds them for the caller's checks; do not log it.
    """

    reason = "report.glyph_missing"

    def __init__(self, path: Path, missing: str) -> None:
        blocks = ", ".join(sorted({_unicode_block(c) for c in missing}))
        super().__init__(path, f"no glyphs for {len(missing)} character(s) in {blocks}")
        self.missing = missing


class EmbeddedFont(TTFont):
    """A ``TTFont`` whose ToUnicode map is valid for characters beyond the BMP.

    reportlab writes ``<20BB7>`` for U+20BB7; a PDF ToUnicode map needs UTF-16BE (``<D842DFB7>``),
    or readers cannot extract (copy, search) such characters.
    """

    def addObjects(self, doc: Any) -> None:  # noqa: N802 - reportlab's name
        state = self.state.get(doc)
        subsets = [list(subset) for subset in state.subsets] if state is not None else []
        super().addObjects(doc)
        for number, subset in enumerate(subsets):
            if max(subset, default=0) > 0xFFFF:
                base = b"".join((SUBSETN(number), b"+", self.face.name, self.face.subfontNameX)).decode("pdfdoc")
                doc.idToObject["toUnicodeCMap:" + base].content = to_unicode_cmap(base, subset)


_BFCHAR = re.compile(r"^<([0-9A-F]{2})> <([0-9A-F]{5,6})>$", re.M)


def to_unicode_cmap(font_name: str, subset: Sequence[int]) -> str:
    """reportlab's ToUnicode CMap with astral code points written as UTF-16BE surrogate pairs."""
    def utf16(match: re.Match[str]) -> str:
        return f"<{match[1]}> <{chr(int(match[2], 16)).encode('utf-16-be').hex().upper()}>"

    return _BFCHAR.sub(utf16, makeToUnicodeCMap(font_name, subset))


class FallbackFont(TTFont):
    """One reportlab font name over several TrueType fonts: each run of characters is drawn with
    the first font that has them (the main font first), each font embedded as its own subsets.

    Widths come from a merged width table, so measuring (line breaking) costs what it did with one
    font; ascent and descent are the main font's. Only drawing looks at which font owns a character.
    """

    def __init__(self, name: str, members: Sequence[TTFont]) -> None:  # no file of its own
        self.fontName, self.members = name, tuple(members)
        main = self.members[0]
        self._owner: dict[int, int] = {}
        for index in range(len(self.members) - 1, 0, -1):  # earlier fonts win
            self._owner.update(dict.fromkeys(self.members[index].face.charToGlyph, index))
        for code in main.face.charToGlyph:
            self._owner.pop(code, None)
        face = copy.copy(main.face)
        # A face name of its own: registerFont would otherwise alias this font to the main one.
        face.name = name.encode("ascii")
        face.charWidths = {code: self.members[index].face.getCharWidth(code) for code, index in self._owner.items()}
        face.charWidths.update(main.face.charWidths)
        self.face, self.encoding, self.state = face, main.encoding, WeakKeyDictionary()
        self._asciiReadable, self.shapable = main._asciiReadable, False

    def charmap(self) -> frozenset[int]:
        return frozenset(self.members[0].face.charToGlyph).union(self._owner)

    def runs(self, text: str) -> list[tuple[int, str]]:
        """``(member index, text)`` for each run of characters drawn with the same font."""
        owner = self._owner
        if not owner or text.isascii():
            return [(0, text)]
        return [(index, "".join(chars)) for index, chars in itertools.groupby(text, lambda c: owner.get(ord(c), 0))]

    def splitString(self, text: Any, doc: Any, encoding: str = "utf-8") -> list[tuple[Any, bytes]]:  # noqa: N802
        if isinstance(text, bytes):
            text = text.decode(encoding)
        return [((index, subset), chunk) for index, run in self.runs(text)
                for subset, chunk in self.members[index].splitString(run, doc)]

    def getSubsetInternalName(self, subset: Any, doc: Any) -> str:  # noqa: N802 - reportlab's name
        index, number = subset
        return self.members[index].getSubsetInternalName(number, doc)

    def addObjects(self, doc: Any) -> None:  # noqa: N802 - the members add their own subsets
        return None


@dataclass(frozen=True)
class ReportFonts:
    """The registered report font (main font plus fallbacks) and the code points it can draw."""

    name: str
    path: Path  # the main font
    charmap: frozenset[int] = field(repr=False, compare=False)
    fallbacks: tuple[Path, ...] = ()

    @classmethod
    def load(cls, path: Path | str, fallbacks: Sequence[Path | str] = ()) -> ReportFonts:
        return _compose(tuple(_file_key(p) for p in (path, *fallbacks)))

    @classmethod
    def default(cls) -> ReportFonts:
        return cls.load(DEFAULT_FONT_PATH, DEFAULT_FALLBACK_PATHS)

    def missing_glyphs(self, text: str) -> str:
        return "".join(sorted({c for c in text if not c.isspace() and ord(c) not in self.charmap}))


_FileKey = tuple[Path, int, int]


def _file_key(path: Path | str) -> _FileKey:
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise ReportFontError(resolved, "file not found")
    stat = resolved.stat()
    # The stat values are part of the cache key and of the names, so a replaced file is reloaded.
    return resolved, stat.st_size, stat.st_mtime_ns


def _font_name(*keys: _FileKey) -> str:
    return "CreditReport-" + hashlib.sha256(repr(keys).encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=8)
def _load_font(key: _FileKey) -> EmbeddedFont:
    path = key[0]
    try:
        source: Any = io.BytesIO(lzma.decompress(path.read_bytes())) if path.suffix == ".xz" else str(path)
        return EmbeddedFont(_font_name(key), source, subfontIndex=0, shapable=False)
    except (TTFError, OSError, lzma.LZMAError, struct.error, ValueError, IndexError, KeyError) as exc:
        raise ReportFontError(path, f"not a usable TrueType font ({exc})") from exc


@functools.lru_cache(maxsize=8)
def _compose(keys: tuple[_FileKey, ...]) -> ReportFonts:
    members = [_load_font(key) for key in keys]
    missing = "".join(sorted({c for c in SMOKE_TEXT if not c.isspace() and ord(c) not in members[0].face.charToGlyph}))
    if missing:
        raise ReportGlyphError(keys[0][0], missing)
    font = FallbackFont(_font_name(*keys), members)
    pdfmetrics.registerFont(font)
    return ReportFonts(name=font.fontName, path=keys[0][0], charmap=font.charmap(),
                       fallbacks=tuple(key[0] for key in keys[1:]))


# --- report data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportData:
    report_number: str
    query_time: datetime
    person_name_masked: str
    id_type_label: str
    id_number_masked: str
    phone_masked: str
    product: Product
    file: CreditFile
    summary: CreditSummary
    hint: CreditHint
    remarks: str = ""

    def __post_init__(self) -> None:
        if self.query_time.tzinfo is None or self.query_time.utcoffset() is None:
            msg = "ReportData.query_time must be timezone-aware"
            raise ValueError(msg)


def build_report_data(person: Person, file: CreditFile, *, product: Product, report_number: str,
                      query_time: datetime, remarks: str = "") -> ReportData:
    today = query_time.astimezone(CHINA_TZ).date()
    return ReportData(
        report_number=report_number, query_time=query_time, person_name_masked=mask_name(person.name),
        id_type_label=ID_TYPE_LABELS.get(canonical_id_type(person.id_type), ID_TYPE_LABELS["other"]),
        id_number_masked=mask_id(person.id_number.upper()), phone_masked=mask_phone(person.phone),
        product=product, file=file, summary=build_summary(file, today), hint=build_hint(file, today),
        remarks=remarks)


# --- content (pure) ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Text:
    text: str
    style: Literal["body", "subheading", "note"] = "body"


@dataclass(frozen=True)
class TableBlock:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]  # fractions of the frame width
    aligns: str  # one of L, C, R per column


Block = Text | TableBlock


@dataclass(frozen=True)
class Section:
    heading: str
    blocks: tuple[Block, ...]


def _money(amount: int) -> str:
    return f"{amount:,}"


def _day(day: date) -> str:
    return day.strftime("%Y.%m.%d")


def _status(status_24m: str) -> str:
    # Two groups of 12 months; the column is too narrow for both, so each group gets a line.
    return f"{status_24m[:12]} {status_24m[12:]}"


def build_header(data: ReportData) -> TableBlock:
    local = data.query_time.astimezone(CHINA_TZ).strftime("%Y.%m.%d %H:%M:%S")
    values = (data.report_number, local, data.person_name_masked, data.id_type_label,
              data.id_number_masked, QUERY_REASON_SELF)
    pairs = list(zip(META_LABELS, values, strict=True))
    rows = tuple((*pairs[i], *pairs[i + 1]) for i in range(0, len(pairs), 2))
    return TableBlock(header=(), rows=rows, widths=(0.16, 0.30, 0.18, 0.36), aligns="LLLL")


def _basic_section(data: ReportData) -> Section:
    row = (data.person_name_masked, data.id_type_label, data.id_number_masked, data.phone_masked)
    return Section(SECTION_BASIC, (TableBlock(BASIC_HEADER, (row,), (0.2, 0.2, 0.35, 0.25), "CCCC"),))


def _summary_section(data: ReportData) -> Section:
    s = data.summary
    rows = tuple(
        (label, str(t.accounts), str(t.active_accounts), str(t.overdue_accounts), str(t.overdue_90d_accounts),
         _money(t.total_amount), _money(t.total_balance), _money(t.total_overdue))
        for label, t in zip(SUMMARY_ROWS, (s.cards, s.mortgages, s.other_loans), strict=True))
    table = TableBlock(SUMMARY_HEADER, rows, (0.14, 0.08, 0.12, 0.12, 0.14, 0.14, 0.13, 0.13), "CCCCCRRR")
    tail = Text(SUMMARY_TAIL.format(records=s.public_records, queries=s.queries_2y))
    return Section(SECTION_SUMMARY, (table, *_foreign_card_lines(s.cards), tail))


def _foreign_card_lines(cards: AccountTotals) -> tuple[Text, ...]:
    # Only cards carry a currency; loans are always in yuan, so they have nothing to list here.
    return tuple(Text(SUMMARY_FOREIGN.format(currency=CURRENCY_LABELS.get(f.currency, f.currency),
                                             limit=_money(f.total_amount), used=_money(f.total_balance),
                                             overdue=_money(f.total_overdue)))
                 for f in cards.foreign)


def _hint_section(hint: CreditHint) -> Section:
    lines = [HINT_OVERDUE[hint.has_overdue_5y].format(n=hint.overdue_accounts),
             HINT_ADVERSE[hint.has_adverse_5y], HINT_PUBLIC.format(n=hint.public_records)]
    return Section(SECTION_HINT, tuple(Text(line) for line in lines))


def _card_row(i: int, a: CardAccount) -> tuple[str, ...]:
    return (str(i), a.institution, _day(a.opened), CURRENCY_LABELS.get(a.currency, a.currency),
            _money(a.credit_limit), _money(a.balance), _money(a.overdue_amount),
            CARD_STATE_LABELS[build_account_state(a)], _status(a.status_24m))


def _loan_row(i: int, a: LoanAccount) -> tuple[str, ...]:
    return (str(i), a.institution, LOAN_KIND_LABELS[a.kind], _day(a.opened), _money(a.amount),
            _money(a.balance), _money(a.overdue_amount), LOAN_STATE_LABELS[build_account_state(a)],
            _status(a.status_24m))


def _status_range(query_time: datetime) -> tuple[str, str]:
    local = query_time.astimezone(CHINA_TZ)
    months = local.year * 12 + local.month - 1  # the window ends with the month before the query
    first, last = months - 24, months - 1
    return f"{first // 12}年{first % 12 + 1}月", f"{last // 12}年{last % 12 + 1}月"


def _detail_section(data: ReportData) -> Section:
    start, end = _status_range(data.query_time)
    cards = tuple(_card_row(i, a) for i, a in enumerate(data.file.cards, 1))
    loans = tuple(_loan_row(i, a) for i, a in enumerate(data.file.loans, 1))
    return Section(SECTION_DETAIL, (
        Text(STATUS_LEGEND.format(start=start, end=end), "note"),
        Text(SUB_CARDS, "subheading"),
        TableBlock(CARD_HEADER, cards, ACCOUNT_COLUMNS, "CLCCRRRCC") if cards else Text(NO_CARDS),
        Text(SUB_LOANS, "subheading"),
        TableBlock(LOAN_HEADER, loans, ACCOUNT_COLUMNS, "CLCCRRRCC") if loans else Text(NO_LOANS),
    ))


def _public_section(data: ReportData) -> Section:
    rows = tuple((str(i), PUBLIC_KIND_LABELS[r.kind], r.authority, _day(r.date), _money(r.amount), r.detail)
                 for i, r in enumerate(data.file.public_records, 1))
    table = TableBlock(PUBLIC_HEADER, rows, (0.06, 0.10, 0.20, 0.11, 0.11, 0.42), "CCLCRL")
    return Section(SECTION_PUBLIC, (table if rows else Text(NO_PUBLIC),))


def _query_section(data: ReportData) -> Section:
    queries = sorted(data.file.queries, key=lambda q: q.date, reverse=True)
    rows = tuple((str(i), _day(q.date), q.institution, q.reason) for i, q in enumerate(queries, 1))
    table = TableBlock(QUERY_HEADER, rows, (0.08, 0.16, 0.50, 0.26), "CCLC")
    return Section(SECTION_QUERIES, (table if rows else Text(NO_QUERIES),))


def _notes_section(data: ReportData) -> Section:
    remarks = (Text(REMARKS_PREFIX + data.remarks, "note"),) if data.remarks else ()
    verify = Text(VERIFY_NOTE.format(order="五" if remarks else "四", number=data.report_number), "note")
    return Section(SECTION_NOTES, (*(Text(n, "note") for n in NOTES), *remarks, verify))


def build_sections(data: ReportData) -> tuple[Section, ...]:
    """The sections of one product, in document order."""
    basic, notes = _basic_section(data), _notes_section(data)
    if data.product == "hint":
        return basic, _hint_section(data.hint), notes
    if data.product == "summary":
        return basic, _summary_section(data), notes
    return (basic, _summary_section(data), _detail_section(data), _public_section(data),
            _query_section(data), notes)


def _block_texts(block: Block) -> Iterator[str]:
    if isinstance(block, Text):
        yield block.text
    else:
        yield from block.header
        for row in block.rows:
            yield from row


def iter_texts(header: TableBlock, sections: Iterable[Section]) -> Iterator[str]:
    yield from _block_texts(header)
    for section in sections:
        yield section.heading
        for block in section.blocks:
            yield from _block_texts(block)


# --- line breaking (B31) -----------------------------------------------------------------------


def _split_units(text: str, max_width: float, measure: Callable[[str], float]) -> list[str]:
    units: list[str] = []
    for unit in _UNITS.findall(text):
        # A Latin run wider than the whole line has to be cut between its characters.
        units.extend(unit if len(unit) > 1 and measure(unit) > max_width else (unit,))
    return units


def _fit(widths: Sequence[float], start: int, max_width: float) -> int:
    used, end = 0.0, start
    while end < len(widths) and (end == start or used + widths[end] <= max_width + _FUZZ):
        used += widths[end]
        end += 1
    return end


def _forbidden_break(units: Sequence[str], at: int) -> bool:
    return 0 < at < len(units) and (units[at][0] in NO_LINE_START or units[at - 1][-1] in NO_LINE_END)


def _adjust_break(units: Sequence[str], start: int, end: int) -> int:
    """Move the break left while the next line would start with closing punctuation or this
    line would end with opening punctuation (push-down, never hanging into the margin).
    If no allowed break exists on the line, keep the full line rather than lose progress."""
    at = end
    while at > start + 1 and _forbidden_break(units, at):
        at -= 1
    return end if _forbidden_break(units, at) else at


def break_cjk_lines(text: str, max_widths: Sequence[float],
                    measure: Callable[[str], float]) -> list[tuple[float, str]]:
    """Break ``text`` into lines no wider than ``max_widths`` (one per line, the last repeats).

    Returns ``(unused width, line text)`` pairs. A line only overflows when a single character
    is wider than the line.
    """
    whole = measure(text)
    if whole <= max_widths[0] + _FUZZ:  # most table cells: one line, no per-character work
        return [(max_widths[0] - whole, text)]
    units = _split_units(text, min(max_widths), measure)
    widths = [measure(u) for u in units]
    lines: list[tuple[float, str]] = []
    start = 0
    while start < len(units):
        max_width = max_widths[min(len(lines), len(max_widths) - 1)]
        end = _adjust_break(units, start, _fit(widths, start, max_width))
        stop = end
        while stop > start + 1 and units[stop - 1].isspace():
            stop -= 1
        lines.append((max_width - sum(widths[start:stop]), "".join(units[start:stop])))
        start = end
        while start < len(units) and units[start].isspace():
            start += 1
    return lines


class CjkParagraph(Paragraph):
    """A ``Paragraph`` (style ``wordWrap='CJK'``) that breaks plain text with ``break_cjk_lines``.

    reportlab's own CJK breaker lets the line-start-forbidden character hang into the margin and
    does not know ，；：？！ and 》. Text with markup still goes through reportlab's breaker.
    """

    def breakLinesCJK(self, maxWidths: Any) -> Any:  # noqa: N802 - reportlab's name
        frags = self.frags
        if len(frags) != 1 or hasattr(frags[0], "cbDefn") or getattr(self, "_splitpara", 0):
            return super().breakLinesCJK(maxWidths)
        frag = frags[0]
        # After a page split the second half carries the lines of the first as ``words``.
        text = frag.text if hasattr(frag, "text") else "".join(frag.words)
        widths = list(maxWidths) if isinstance(maxWidths, (list, tuple)) else [maxWidths]
        measure = functools.partial(pdfmetrics.stringWidth, fontName=frag.fontName, fontSize=frag.fontSize)
        lines = break_cjk_lines(text, widths, measure)
        return frag.clone(kind=0, lines=[(extra, [line]) for extra, line in lines],
                          ascent=frag.fontSize, descent=-0.2 * frag.fontSize)


# --- layout ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportStyles:
    title: ParagraphStyle
    heading: ParagraphStyle
    subheading: ParagraphStyle
    body: ParagraphStyle
    note: ParagraphStyle
    cells: Mapping[str, ParagraphStyle]  # by alignment letter
    header_cell: ParagraphStyle


def build_styles(font_name: str) -> ReportStyles:
    def style(name: str, size: float, **kw: Any) -> ParagraphStyle:
        return ParagraphStyle(name, fontName=font_name, fontSize=size, leading=size * 1.45, wordWrap="CJK", **kw)

    aligns = {"L": TA_LEFT, "C": TA_CENTER, "R": TA_RIGHT}
    return ReportStyles(
        title=style("title", 18, alignment=TA_CENTER, spaceAfter=8),
        heading=style("heading", 11.5, backColor=HEADER_GREY, borderPadding=(3, 4, 3, 4), spaceBefore=12,
                      spaceAfter=8),
        subheading=style("subheading", 9.5, spaceBefore=6, spaceAfter=4),
        body=style("body", 9, spaceBefore=3, spaceAfter=3),
        note=style("note", 8, textColor=colors.HexColor("#444444"), spaceAfter=3),
        cells={k: style(f"cell{k}", 7.5, alignment=v) for k, v in aligns.items()},
        header_cell=style("headercell", 7.5, alignment=TA_CENTER),
    )


def _para(text: str, style: ParagraphStyle) -> Paragraph:
    return CjkParagraph(escape(text), style)


def _table(block: TableBlock, styles: ReportStyles) -> Table:
    body = [[_para(v, styles.cells[a]) for v, a in zip(row, block.aligns, strict=True)] for row in block.rows]
    head = [[_para(h, styles.header_cell) for h in block.header]] if block.header else []
    table = Table(head + body, colWidths=[w * FRAME_WIDTH for w in block.widths], repeatRows=len(head))
    commands: list[tuple[Any, ...]] = [
        # Cells hold Paragraphs, but Table still selects its cell font (Helvetica by default).
        ("FONT", (0, 0), (-1, -1), styles.body.fontName, 7.5),
        ("GRID", (0, 0), (-1, -1), 0.4, GRID_GREY), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING), ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
    if head:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), HEADER_GREY))
    table.setStyle(TableStyle(commands))
    return table


def _block(block: Block, styles: ReportStyles) -> list[Flowable]:
    if isinstance(block, TableBlock):
        return [_table(block, styles)]
    paragraph = _para(block.text, getattr(styles, block.style))
    # A subheading must not be the last line of a page; keepWithNext would move a whole long table.
    return [CondPageBreak(KEEP_WITH_NEXT), paragraph] if block.style == "subheading" else [paragraph]


def build_story(title: str, header: TableBlock, sections: Iterable[Section],
                styles: ReportStyles) -> list[Flowable]:
    story: list[Flowable] = [_para(title, styles.title), _table(header, styles), Spacer(1, 4)]
    for section in sections:
        story += [CondPageBreak(KEEP_WITH_NEXT), _para(section.heading, styles.heading)]
        for block in section.blocks:
            story += _block(block, styles)
    return story


def _draw_page(canvas: Canvas, _doc: Any, *, font_name: str, running: str) -> None:
    """Runs before each page's content: the running header, then the watermark underneath."""
    width, height = PAGE_SIZE
    canvas.saveState()
    canvas.setFont(font_name, 8)
    canvas.setFillColor(colors.HexColor("#555555"))
    canvas.drawString(MARGIN_X, height - 14 * mm, running)
    canvas.setStrokeColor(GRID_GREY)
    canvas.line(MARGIN_X, height - 15.5 * mm, width - MARGIN_X, height - 15.5 * mm)
    canvas.setFont(font_name, 44)
    canvas.setFillColor(WATERMARK_GREY)
    canvas.translate(width / 2, height / 2)
    canvas.rotate(40)
    canvas.drawCentredString(0, 0, WATERMARK)
    canvas.restoreState()


class NumberedCanvas(Canvas):
    """Keeps every page until ``save`` so each footer can say how many pages there are."""

    def __init__(self, *args: Any, font_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._font_name = font_name
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for page in self._pages:
            self.__dict__.update(page)
            self._draw_footer(total)
            super().showPage()
        super().save()

    def _draw_footer(self, total: int) -> None:
        self.saveState()
        self.setFont(self._font_name, 8)
        label = PAGE_LABEL.format(page=self.getPageNumber(), total=total)
        self.drawCentredString(PAGE_SIZE[0] / 2, 10 * mm, label)
        self.restoreState()


def _encryption(password: str | None) -> pdfencrypt.StandardEncryption | None:
    if password is None:
        return None
    if not password:
        msg = "an empty PDF password would not protect anything"
        raise ValueError(msg)
    # RC4-128 on purpose, even if pyaes happens to be importable: reportlab's AES-256 (strength=256,
    # needs pyaes, last released 2017) writes an R6 handler that pypdf 7 cannot open with the right
    # password ("Invalid key size (384) for AES"), so the person might be left with a file no reader
    # opens. With a six-character password the password, not the cipher, is the weak part anyway.
    return pdfencrypt.StandardEncryption(password, ownerPassword=secrets.token_hex(16), canPrint=1,
                                         canModify=0, canCopy=1, canAnnotate=0, strength=PDF_KEY_BITS)


def report_password(id_number: str) -> str:
    """The PDF's open password: the last six characters of the ID number, letters upper-case.

    The person knows it without being told it; the message only says where it comes from.
    """
    password = "".join(id_number.split()).upper()[-PASSWORD_LENGTH:]
    if not password:
        msg = "no ID number to derive the PDF password from"
        raise ValueError(msg)
    return password


def _check_glyphs(texts: Iterable[str], fonts: ReportFonts) -> None:
    missing = fonts.missing_glyphs("".join(texts))
    if missing:
        raise ReportGlyphError(fonts.path, missing)


def render_report(data: ReportData, *, password: str | None = None, fonts: ReportFonts) -> bytes:
    """Render one product as PDF bytes; with ``password`` the PDF is encrypted for that user password.

    Raises:
        ReportGlyphError: some text cannot be drawn with ``fonts`` (no PDF is produced).
    """
    title, header, sections = TITLES[data.product], build_header(data), build_sections(data)
    running = RUNNING_HEADER.format(title=title, number=data.report_number)
    _check_glyphs([title, running, WATERMARK, PAGE_LABEL, *iter_texts(header, sections)], fonts)
    story = build_story(title, header, sections, build_styles(fonts.name))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=PAGE_SIZE, leftMargin=MARGIN_X, rightMargin=MARGIN_X,
                            topMargin=MARGIN_TOP, bottomMargin=MARGIN_BOTTOM, title=title,
                            encrypt=_encryption(password), initialFontName=fonts.name)
    decorate = functools.partial(_draw_page, font_name=fonts.name, running=running)
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate,
              canvasmaker=functools.partial(NumberedCanvas, font_name=fonts.name))
    return buffer.getvalue()


async def render_report_async(data: ReportData, **kwargs: Any) -> bytes:
    """``render_report`` in a worker thread, so a long report does not stall the event loop."""
    return await asyncio.to_thread(render_report, data, **kwargs)


def render_text_sample(text: str, fonts: ReportFonts) -> bytes:
    """A one-paragraph PDF, for start-up health checks that extract ``SMOKE_TEXT`` back out."""
    _check_glyphs([text], fonts)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=PAGE_SIZE, initialFontName=fonts.name)
    doc.build([_para(text, build_styles(fonts.name).body)])
    return buffer.getvalue()
