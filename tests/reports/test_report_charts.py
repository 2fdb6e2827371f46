"""The charts of the PDF report: their labels are real text inside the page, nothing is clipped.

The report is rendered by WeasyPrint; pypdf's text visitor reads back every line of text (each
chart label must be one whole line, wrapped or shortened, never cut), and the glyph boxes PDFium
reports for it must lie inside the page's text area, which the charts span. The
pages are also rendered to PNG with pypdfium2 and kept in tmp/artifacts/report/ for a person to
look at.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pypdfium2
from pypdf import PdfReader

from audit_portal.dashboard import charts
from audit_portal.reports import service
from audit_portal.trends import service as trends

ARTIFACTS = Path(__file__).resolve().parents[2] / "tmp" / "artifacts" / "report"
MARGIN_X = 15 / 25.4 * 72  # the report's page margins (15 mm left and right, 18 mm top and bottom), in points
MARGIN_Y = 18 / 25.4 * 72
LONG_TITLE = "Controls for the secure development, maintenance and decommissioning of information systems"
TARGET = 90.0


def text_runs(pdf: bytes) -> list[str]:
    """Every run of text pypdf's visitor meets on every page (a label line is one run)."""
    runs: list[str] = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(
            visitor_text=lambda text, cm, tm, font, size: runs.append(text.strip()) if text.strip() else None
        )
    return runs


@dataclass(frozen=True)
class Placed:
    left: float
    right: float
    bottom: float
    top: float
    page_width: float
    page_height: float


def placements(pdf: bytes, label: str) -> list[Placed]:
    """Where ``label`` is drawn, as PDFium sees the page: the union of its glyph boxes, in page
    coordinates. pypdf's visitor reports text inside form XObjects (WeasyPrint draws
    right-aligned SVG text that way) without the transformation that places it, so the boxes
    come from PDFium; spaces are not glyphs there and are ignored."""
    wanted = "".join(label.split())
    found = []
    document = pypdfium2.PdfDocument(pdf)
    try:
        for page in document:
            width, height = page.get_size()
            textpage = page.get_textpage()
            glyphs = [(textpage.get_text_range(i, 1), textpage.get_charbox(i)) for i in range(textpage.count_chars())]
            glyphs = [(char, box) for char, box in glyphs if char.strip()]
            text = "".join(char for char, _ in glyphs)
            start = text.find(wanted)
            while start >= 0:
                boxes = [box for _, box in glyphs[start : start + len(wanted)]]
                found.append(
                    Placed(
                        min(b[0] for b in boxes),
                        max(b[2] for b in boxes),
                        min(b[1] for b in boxes),
                        max(b[3] for b in boxes),
                        width,
                        height,
                    )
                )
                start = text.find(wanted, start + 1)
    finally:
        document.close()
    return found


def report_with_long_category(session, seeded):  # type: ignore[no-untyped-def]
    trends.backfill(session, seeded.today - timedelta(days=45), seeded.today)
    data = service.collect_report_data(session, seeded.today.replace(day=1), target=TARGET)
    # a category name longer than any in the catalogues must wrap or shorten, never run off
    annex2 = data.board.frameworks["annex2"]
    groups = [replace(annex2.groups[0], title=LONG_TITLE), *annex2.groups[1:]]
    frameworks = {**data.board.frameworks, "annex2": replace(annex2, groups=groups)}
    return replace(data, board=replace(data.board, frameworks=frameworks))


def test_chart_labels_are_text_within_the_page(session, seeded):
    data = report_with_long_category(session, seeded)
    pdf = service.render_pdf(data)
    runs = text_runs(pdf)

    wanted = [
        "ISO/IEC 27001:2022 Annex A",
        "Annex 2 measures",  # the trend's legend
        f"target {TARGET:g}%",  # the target line's label
        *[g.title for g in data.board.frameworks["iso27001-2022"].groups if g.applicable],  # bar labels
        *[
            f"{g.percent:.1f}% ({g.covered}/{g.applicable})"
            for g in data.board.frameworks["annex2"].groups
            if g.applicable
        ],
    ]
    # the long category is wrapped onto two lines, the second shortened with "…"
    first_line, second_line = charts.fit_label(LONG_TITLE, 222)
    assert second_line.endswith("…") and LONG_TITLE not in runs
    for label in [*wanted, first_line, second_line]:
        assert label in runs, f"{label!r} is not a line of text in the PDF"
        places = placements(pdf, label)
        assert places, f"{label!r} is not drawn"
        for place in places:  # inside the page's text area, which the charts span
            assert MARGIN_X - 1 <= place.left and place.right <= place.page_width - MARGIN_X + 1, (label, place)
            assert MARGIN_Y - 1 <= place.bottom and place.top <= place.page_height - MARGIN_Y + 1, (label, place)


def test_pdf_pages_render_to_png(session, seeded):
    pdf = service.render_pdf(report_with_long_category(session, seeded))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    document = pypdfium2.PdfDocument(pdf)
    try:
        assert len(document) >= 2
        for number in range(len(document)):
            image = document[number].render(scale=1.5).to_pil()
            path = ARTIFACTS / f"page-{number + 1}.png"
            image.save(path)
            # a rendered page holds ink, not only the white paper
            assert image.convert("L").getextrema()[0] < 128, path
    finally:
        document.close()
