"""Times render_report against bare reportlab (the same font, tables and text in a plain SimpleDocTemplate).

Run from the repository root: ``.venv/bin/python bench/bench_pdf.py [--repeat N]``.
The bare version has no watermark, page numbers, glyph check or custom line breaker, so the
ratio is what those cost. Target: ratio <= 1.1.
"""

from __future__ import annotations

import argparse
import io
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

from pypdf import PdfReader
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from backend.credit_data import load_sandbox
from backend.reports import (
    CELL_PADDING,
    CHINA_TZ,
    FRAME_WIDTH,
    GRID_GREY,
    HEADER_GREY,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    MARGIN_X,
    PAGE_SIZE,
    TITLES,
    ReportData,
    ReportFonts,
    ReportStyles,
    TableBlock,
    build_header,
    build_report_data,
    build_sections,
    build_styles,
    render_report,
)

PERSONAS = Path(__file__).resolve().parents[1] / "data" / "fixtures" / "personas.json"
P1, P4 = "resident_id:110105199003071239", "resident_id:650102199506012464"
QUERY_TIME = datetime(2026, 12, 4, 10, 0, tzinfo=CHINA_TZ)
FOUR_PAGE_ACCOUNTS = (40, 20)  # P4's first 40 cards and 20 loans fill four pages


def bare_table(block: TableBlock, styles: ReportStyles) -> Table:
    rows = [[Paragraph(escape(v), styles.cells[a]) for v, a in zip(r, block.aligns, strict=True)]
            for r in ((block.header,) if block.header else ()) + block.rows]
    table = Table(rows, colWidths=[w * FRAME_WIDTH for w in block.widths], repeatRows=1 if block.header else 0)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), styles.body.fontName, 7.5), ("GRID", (0, 0), (-1, -1), 0.4, GRID_GREY),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING), ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2), ("BACKGROUND", (0, 0), (-1, 0), HEADER_GREY)]))
    return table


def render_bare(data: ReportData, fonts: ReportFonts) -> bytes:
    styles = build_styles(fonts.name)
    story = [Paragraph(TITLES[data.product], styles.title), bare_table(build_header(data), styles), Spacer(1, 4)]
    for section in build_sections(data):
        story.append(Paragraph(section.heading, styles.heading))
        for block in section.blocks:
            is_table = isinstance(block, TableBlock)
            story.append(bare_table(block, styles) if is_table else Paragraph(escape(block.text), styles.body))
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=PAGE_SIZE, leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
                      bottomMargin=MARGIN_BOTTOM, initialFontName=fonts.name).build(story)
    return buffer.getvalue()


def median_ms(ours: Callable[[], bytes], bare: Callable[[], bytes], repeat: int) -> tuple[float, float]:
    """Median wall time of each, alternating runs so that machine load hits both alike."""
    ours(), bare()  # warm-up
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for render, bucket in ((ours, times[0]), (bare, times[1])):
            start = time.perf_counter()
            render()
            bucket.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def cases(fonts: ReportFonts) -> list[tuple[str, ReportData]]:
    sandbox = load_sandbox(PERSONAS)
    p1, p4 = sandbox.personas[P1], sandbox.personas[P4]
    cards, loans = FOUR_PAGE_ACCOUNTS
    p4_short = replace(p4.file, cards=p4.file.cards[:cards], loans=p4.file.loans[:loans])
    found = [(f"P1 {product}", build_report_data(p1.person, p1.file, product=product, report_number="B1",
                                                  query_time=QUERY_TIME))
             for product in ("hint", "summary", "report")]
    found.append(("P4 report, 4 pages", build_report_data(p4.person, p4_short, product="report",
                                                          report_number="B4", query_time=QUERY_TIME)))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    print("$", shlex.join([sys.executable, *sys.argv]))
    fonts = ReportFonts.default()
    print(f"{'case':<22}{'pages':>6}{'ours ms':>10}{'bare ms':>10}{'ratio':>8}")
    for label, data in cases(fonts):
        pages = len(PdfReader(io.BytesIO(render_report(data, fonts=fonts))).pages)
        ours, bare = median_ms(lambda d=data: render_report(d, fonts=fonts),
                               lambda d=data: render_bare(d, fonts), args.repeat)
        print(f"{label:<22}{pages:>6}{ours:>10.1f}{bare:>10.1f}{ours / bare:>8.2f}")


if __name__ == "__main__":
    main()
