"""Charts rendered on the server as accessible SVG: each has a <title> and <desc>, every data
point carries its value as text (a <title> tooltip, and the newest value written beside the
line), and series differ by dash pattern and marker shape as well as colour, so nothing depends
on seeing colour. No script, no external library."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape
from itertools import count

from markupsafe import Markup

# Dash patterns and markers per series: readable in greyscale and by screen readers alike.
# Colours are presentation attributes so that the same SVG looks right in the PDF report, where
# no stylesheet reaches it; portal.css may override them on the page.
_STYLES = (
    ("series-a", "", "circle", "#1f4e79"),
    ("series-b", "6 4", "square", "#8a4b00"),
    ("series-c", "2 3", "triangle", "#3b6e22"),
)
_TEXT = 'fill="#333" font-size="11" font-family="sans-serif"'

_ids = count(1)


@dataclass(frozen=True)
class Series:
    name: str
    points: list[tuple[date, float]]  # (day, percent), oldest first


@dataclass(frozen=True)
class Box:
    width: int = 720
    height: int = 260
    left: int = 48
    right: int = 150
    top: int = 16
    bottom: int = 36

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


def _marker(shape: str, x: float, y: float, label: str, colour: str) -> str:
    tip = f"<title>{escape(label)}</title>"
    paint = f'fill="{colour}"'
    if shape == "square":
        return f'<rect class="marker" {paint} x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6">{tip}</rect>'
    if shape == "triangle":
        return f'<polygon class="marker" {paint} points="{x:.1f},{y - 4:.1f} {x - 4:.1f},{y + 3:.1f} {x + 4:.1f},{y + 3:.1f}">{tip}</polygon>'
    return f'<circle class="marker" {paint} cx="{x:.1f}" cy="{y:.1f}" r="3">{tip}</circle>'


def _axes(box: Box, first: date, last: date) -> list[str]:
    parts = []
    for percent in (0, 25, 50, 75, 100):
        y = _y(box, percent)
        parts.append(f'<line class="grid" stroke="#ddd" x1="{box.left}" y1="{y:.1f}" x2="{box.left + box.plot_width}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" {_TEXT} x="{box.left - 6}" y="{y + 4:.1f}" text-anchor="end">{percent}%</text>')
    months = []
    cursor = date(first.year, first.month, 1)
    while cursor <= last:
        if cursor >= first:
            months.append(cursor)
        cursor = date(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1)
    for month in months:
        x = _x(box, month, first, last)
        parts.append(f'<text class="axis" {_TEXT} x="{x:.1f}" y="{box.height - 12}" text-anchor="middle">{month.strftime("%b %y")}</text>')
    return parts


def _sampled(points: list[tuple[date, float]], limit: int = 60) -> list[tuple[date, float]]:
    """Markers for at most ``limit`` points (the line keeps them all); the newest is always kept."""
    if len(points) <= limit:
        return points
    step = len(points) / limit
    chosen = [points[int(i * step)] for i in range(limit)]
    return chosen if chosen[-1] == points[-1] else [*chosen[:-1], points[-1]]


def line_chart(series: list[Series], *, title: str, description: str, first: date, last: date) -> Markup:
    """Coverage percentages over time, one line per series, 0–100 % on the y axis."""
    box = Box()
    chart_id = f"chart-{next(_ids)}"
    parts = [
        (
            f'<svg class="chart line-chart" role="img" viewBox="0 0 {box.width} {box.height}" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">'
        ),
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        *_axes(box, first, last),
    ]
    for index, line in enumerate(series):
        css, dash, shape, colour = _STYLES[index % len(_STYLES)]
        parts.append(f'<g class="series {css}" aria-label="{escape(line.name)}">')
        if line.points:
            coordinates = " ".join(f"{_x(box, d, first, last):.1f},{_y(box, p):.1f}" for d, p in line.points)
            dash_attribute = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(f'<polyline class="line" fill="none" stroke="{colour}" stroke-width="2" points="{coordinates}"{dash_attribute}/>')
            for day, percent in _sampled(line.points):
                parts.append(_marker(shape, _x(box, day, first, last), _y(box, percent), f"{line.name} {day.isoformat()}: {percent:.1f}%", colour))
            day, percent = line.points[-1]
            legend_y = _y(box, percent)
        else:
            legend_y = box.top + 14 * (index + 1)
        legend_x = box.left + box.plot_width + 10
        value = f"{line.points[-1][1]:.1f}%" if line.points else "no data"
        parts.append(_marker(shape, legend_x, legend_y + 12 * index, line.name, colour))
        parts.append(f'<text class="legend" {_TEXT} x="{legend_x + 8}" y="{legend_y + 12 * index + 4:.1f}">{escape(line.name)}: {value}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(bars: list[tuple[str, float, str]], *, title: str, description: str) -> Markup:
    """Horizontal bars of percentages: (label, percent, value text), the value written at the end
    of each bar."""
    row, label_width, bar_width = 22, 230, 360
    height = row * len(bars) + 10
    width = label_width + bar_width + 90
    chart_id = f"chart-{next(_ids)}"
    parts = [
        (
            f'<svg class="chart bar-chart" role="img" viewBox="0 0 {width} {height}" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">'
        ),
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for index, (label, percent, value) in enumerate(bars):
        y = 5 + index * row
        length = bar_width * max(0.0, min(percent, 100.0)) / 100
        parts.append(
            f'<g class="bar"><text class="axis" {_TEXT} x="{label_width - 8}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="track" fill="#e8e8e8" x="{label_width}" y="{y + 3}" width="{bar_width}" height="14"/>'
            f'<rect class="fill" fill="#1f4e79" x="{label_width}" y="{y + 3}" width="{length:.1f}" height="14"><title>{escape(label)}: {escape(value)}</title></rect>'
            f'<text class="value" {_TEXT} x="{label_width + bar_width + 8}" y="{y + 14}">{escape(value)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
