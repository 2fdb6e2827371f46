"""Charts rendered on the server as accessible SVG, the same markup on the page and in the PDF
report. No script, no external library.

Conventions (docs/accessibility.md):
- ``role="img"`` with a ``<title>`` and a ``<desc>`` that states the values; the page puts the
  numbers in a table beside the chart as well.
- Trend lines are plain lines (no marker per point); series differ by dash pattern as well as
  colour, and each line's newest value is written at its end.
- A dashed target line where the portal has a goal (the coverage target from the settings).
- No text outside the drawing: category labels wrap onto a second line and, when still too
  long, are shortened with "…" while the full text stays in a ``<title>`` tooltip. Widths are
  estimated generously (:func:`text_width`) so a label fits in any sans-serif font.
- The words and figures the drawing writes itself (the target's label, "no data", the months,
  the values) are in the ``language`` the caller passes: the reader's on a page, English in the
  organisation's PDF report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape
from itertools import count

from markupsafe import Markup

from audit_portal.i18n import Wording

# Dash patterns per series: readable in greyscale and without colour. Colours are presentation
# attributes so that the same SVG looks right in the PDF report, where no stylesheet reaches it.
_STYLES = (
    ("series-a", "", "#1f4e79"),
    ("series-b", "7 4", "#8a4b00"),
    ("series-c", "2 3", "#3b6e22"),
)
FONT_SIZE = 11
LINE_HEIGHT = 13
_TEXT = f'fill="#333" font-size="{FONT_SIZE}" font-family="sans-serif"'
TARGET_COLOUR = "#6b2d8c"
ELLIPSIS = "…"

_ids = count(1)

# Advance widths in ems, rounded up from the widest common sans-serif (DejaVu Sans).
_NARROW = set("ijlI.,:;'!|()[] ")
_WIDE = set("MWmw@%")


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """A generous estimate of the drawn width of ``text`` in user units."""
    ems = 0.0
    for char in text:
        if char in _NARROW:
            ems += 0.36
        elif char in _WIDE:
            ems += 1.0
        elif char.isupper() or char.isdigit():
            ems += 0.72
        else:
            ems += 0.64
    return ems * size


def fit_label(text: str, width: float, *, lines: int = 2) -> list[str]:
    """``text`` broken at spaces into at most ``lines`` lines no wider than ``width``; the last
    line ends in "…" when the rest does not fit."""
    words = text.split()
    result: list[str] = []
    current = ""
    index = 0
    while index < len(words):
        candidate = f"{current} {words[index]}".strip()
        if text_width(candidate) <= width:
            current, index = candidate, index + 1
        elif current and len(result) < lines - 1:
            result.append(current)
            current = ""
        else:  # the last line, or a single word wider than a line: cut what is left
            return [*result, _shorten(" ".join([current, *words[index:]]).strip(), width)]
    return [*result, current] if current else result


def _shorten(text: str, width: float) -> str:
    while text and text_width(text + ELLIPSIS) > width:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS


@dataclass(frozen=True)
class Series:
    name: str
    points: list[tuple[date, float]]  # (day, percent), oldest first


@dataclass(frozen=True)
class Box:
    width: int = 720
    height: int = 250
    left: int = 48
    right: int = 64  # the newest value of each line, and the target's label (line_chart widens it)
    top: int = 12
    bottom: int = 26

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> int:
        return self.height - self.top - self.bottom


def _x(box: Box, day: date, first: date, last: date) -> float:
    span = max((last - first).days, 1)
    return box.left + box.plot_width * (day - first).days / span


def _y(box: Box, percent: float) -> float:
    return box.top + box.plot_height * (1 - max(0.0, min(percent, 100.0)) / 100)


def _axes(box: Box, first: date, last: date, say: Wording) -> list[str]:
    parts = []
    for percent in (0, 25, 50, 75, 100):
        y = _y(box, percent)
        parts.append(
            f'<line class="grid" stroke="#ddd" x1="{box.left}" y1="{y:.1f}" x2="{box.left + box.plot_width}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" {_TEXT} x="{box.left - 6}" y="{y + 4:.1f}" text-anchor="end">{say.percent(percent, 0)}</text>'
        )
    months = []
    cursor = date(first.year, first.month, 1)
    while cursor <= last:
        if cursor >= first:
            months.append(cursor)
        cursor = date(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1)
    # every month when they fit, else every second or third one
    spacing = box.plot_width / max(len(months), 1)
    step = next((n for n in (1, 2, 3, 4, 6) if spacing * n >= text_width("Mmm 00") + 6), 12)
    for month in months[::step]:
        x = _x(box, month, first, last)
        parts.append(
            f'<text class="axis" {_TEXT} x="{x:.1f}" y="{box.height - 8}" text-anchor="middle">{escape(say.month(month))}</text>'
        )
    return parts


def target_text(target: float, say: Wording) -> str:
    """The label of the target line, "target 80%"; the description of a chart names it the same way."""
    return say.gettext("target %(percent)s", percent=say.percent(target, None))


def _spread(positions: list[float], gap: float, low: float, high: float) -> list[float]:
    """Move label positions apart so that no two are closer than ``gap``, keeping their order."""
    order = sorted(range(len(positions)), key=lambda i: positions[i])
    placed = [0.0] * len(positions)
    previous = low - gap
    for i in order:
        placed[i] = max(positions[i], previous + gap)
        previous = placed[i]
    overflow = previous - high
    if overflow > 0:
        placed = [p - overflow for p in placed]
    return placed


def _legend(series: list[Series], box: Box, say: Wording) -> tuple[list[str], int]:
    """A legend above the plot: a short stroke in each series' style and its name."""
    parts, x, y = [], box.left, 14
    for index, line in enumerate(series):
        css, dash, colour = _STYLES[index % len(_STYLES)]
        label = line.name if line.points else say.gettext("%(series)s (no data)", series=line.name)
        needed = 34 + text_width(label) + 18
        if x + needed > box.width and x > box.left:
            x, y = box.left, y + LINE_HEIGHT + 4
        dash_attribute = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<g class="legend {css}"><line stroke="{colour}" stroke-width="2.5" x1="{x}" y1="{y - 4}" x2="{x + 28}" y2="{y - 4}"{dash_attribute}/>'
            f'<text class="legend" {_TEXT} x="{x + 34}" y="{y}">{escape(label)}</text></g>'
        )
        x += int(needed)
    return parts, y + 8


def line_chart(
    series: list[Series],
    *,
    title: str,
    description: str,
    first: date,
    last: date,
    language: str,
    target: float | None = None,
) -> Markup:
    """Coverage percentages over time, one line per series, 0–100 % on the y axis, and the target
    as a dashed line when there is one."""
    say = Wording(language)
    target_label = target_text(target, say) if target else ""
    legend, legend_height = _legend(series, Box(), say)
    # room on the right for the newest values and the target's label, whichever is wider
    right = int(max(text_width("100.0%"), text_width(target_label)) + 10)
    box = Box(height=Box.height + legend_height, top=Box.top + legend_height, right=right)
    chart_id = f"chart-{next(_ids)}"
    parts = [
        (
            f'<svg class="chart line-chart" role="img" viewBox="0 0 {box.width} {box.height}" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">'
        ),
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        *legend,
        *_axes(box, first, last, say),
    ]
    end_labels: list[tuple[float, str, str]] = []  # (y, value, colour) at the right of the plot
    if target:
        y = _y(box, target)
        parts.append(
            f'<line class="target" stroke="{TARGET_COLOUR}" stroke-width="1.5" stroke-dasharray="3 3" '
            f'x1="{box.left}" y1="{y:.1f}" x2="{box.left + box.plot_width}" y2="{y:.1f}"/>'
        )
        end_labels.append((y, target_label, TARGET_COLOUR))
    for index, line in enumerate(series):
        css, dash, colour = _STYLES[index % len(_STYLES)]
        if not line.points:
            continue
        coordinates = " ".join(f"{_x(box, d, first, last):.1f},{_y(box, p):.1f}" for d, p in line.points)
        dash_attribute = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline class="line {css}" fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round" '
            f'points="{coordinates}"{dash_attribute}/>'
        )
        end_labels.append((_y(box, line.points[-1][1]), say.percent(line.points[-1][1]), colour))
    placed = _spread([y for y, _, _ in end_labels], LINE_HEIGHT, box.top, box.top + box.plot_height + 4)
    for (_, text, colour), y in zip(end_labels, placed, strict=True):
        parts.append(
            f'<text class="value" fill="{colour}" font-size="{FONT_SIZE}" font-family="sans-serif" '
            f'x="{box.left + box.plot_width + 4}" y="{y + 4:.1f}">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    bars: list[tuple[str, float, str]], *, title: str, description: str, language: str, target: float | None = None
) -> Markup:
    """Horizontal bars of percentages: (label, percent, value text), the value written at the end
    of each bar; long labels wrap onto two lines, longer ones end in "…" with the full label as a
    tooltip; the target, when there is one, is a dashed vertical line."""
    label_width, bar_width, value_width, gap = 230, 360, 110, 8
    width = label_width + bar_width + value_width
    top = 18 if target else 4
    rows = [(fit_label(label, label_width - gap), label, percent, value) for label, percent, value in bars]
    chart_id = f"chart-{next(_ids)}"
    parts: list[str] = []
    y = top
    for lines, label, percent, value in rows:
        row = max(22, LINE_HEIGHT * len(lines) + 9)
        length = bar_width * max(0.0, min(percent, 100.0)) / 100
        bar_y = y + (row - 14) / 2
        first_baseline = y + row / 2 + 4 - (len(lines) - 1) * LINE_HEIGHT / 2
        label_text = "".join(
            f'<tspan x="{label_width - gap}" y="{first_baseline + n * LINE_HEIGHT:.1f}">{escape(text)}</tspan>'
            for n, text in enumerate(lines)
        )
        shortened = " ".join(lines) != " ".join(label.split())
        tooltip = f"<title>{escape(label)}</title>" if shortened else ""
        parts.append(
            f'<g class="bar"><text class="axis" {_TEXT} text-anchor="end">{tooltip}{label_text}</text>'
            f'<rect class="track" fill="#e8e8e8" x="{label_width}" y="{bar_y:.1f}" width="{bar_width}" height="14"/>'
            f'<rect class="fill" fill="#1f4e79" x="{label_width}" y="{bar_y:.1f}" width="{length:.1f}" height="14"><title>{escape(label)}: {escape(value)}</title></rect>'
            f'<text class="value" {_TEXT} x="{label_width + bar_width + gap}" y="{bar_y + 11:.1f}">{escape(value)}</text></g>'
        )
        y += row
    height = int(y + 6)
    if target:
        x = label_width + bar_width * max(0.0, min(target, 100.0)) / 100
        anchor = "end" if target > 50 else "start"
        parts.append(
            f'<line class="target" stroke="{TARGET_COLOUR}" stroke-width="1.5" stroke-dasharray="3 3" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 2}"/>'
            f'<text class="value" fill="{TARGET_COLOUR}" font-size="{FONT_SIZE}" font-family="sans-serif" x="{x:.1f}" y="{top - 7}" text-anchor="{anchor}">{escape(target_text(target, Wording(language)))}</text>'
        )
    head = [
        (
            f'<svg class="chart bar-chart" role="img" viewBox="0 0 {width} {height}" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">'
        ),
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    return Markup("".join([*head, *parts, "</svg>"]))
