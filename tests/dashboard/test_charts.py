"""The SVG charts carry their values as text, not only as colour and position."""
from __future__ import annotations

from datetime import date, timedelta

from audit_portal.dashboard import charts


def test_line_chart_states_values_in_text():
    first = date(2026, 1, 1)
    points = [(first + timedelta(days=n), 40.0 + n) for n in range(100)]
    svg = str(charts.line_chart([charts.Series("Annex 2 measures", points), charts.Series("ISO", [])],
                                title="Coverage", description="two series", first=first, last=first + timedelta(days=99)))
    assert svg.startswith('<svg class="chart line-chart" role="img"')
    assert "<title id=" in svg and "<desc id=" in svg and ">two series</desc>" in svg
    assert "Annex 2 measures: 139.0%" in svg  # the newest value beside the line
    assert "Annex 2 measures 2026-04-10: 139.0%" in svg  # the newest point's tooltip is always kept
    assert svg.count('class="marker"') <= 62  # markers are sampled, the line keeps every point
    assert "ISO: no data" in svg
    assert 'stroke-dasharray' not in svg.split("ISO")[0].split("series-a")[1].split("</g>")[0]


def test_series_differ_by_dash_and_marker_shape():
    day = date(2026, 1, 1)
    svg = str(charts.line_chart([charts.Series("a", [(day, 1.0)]), charts.Series("b", [(day, 2.0)])],
                                title="t", description="d", first=day, last=day))
    a, b = svg.split('class="series series-a"')[1].split("</g>")[0], svg.split('class="series series-b"')[1].split("</g>")[0]
    assert "<circle" in a and "<rect" not in a
    assert "<rect" in b


def test_bar_chart_writes_each_value_and_escapes_labels():
    svg = str(charts.bar_chart([("People <HR>", 50.0, "50.0% (1/2)")], title="Groups", description="one bar"))
    assert "People &lt;HR&gt;" in svg and ">50.0% (1/2)</text>" in svg and "<title>People &lt;HR&gt;: 50.0% (1/2)</title>" in svg
