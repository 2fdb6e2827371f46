"""The SVG charts: values as text, lines without markers, a target line, and no label that runs
outside the drawing."""

from __future__ import annotations

import re
from datetime import date, timedelta

from audit_portal.dashboard import charts

LONG = "Controls for the secure development and maintenance of information systems and applications"


def texts(svg: str) -> list[tuple[float, float, str, str]]:
    """(x, y, anchor, text) of every line of text in the SVG, tspans included."""
    found = []
    for element in re.finditer(r"<text([^>]*)>(.*?)</text>", svg):
        attributes, body = element.groups()
        anchor = re.search(r'text-anchor="(\w+)"', attributes)
        body = re.sub(r"<title>.*?</title>", "", body)
        spans = re.findall(r'<tspan x="([\d.]+)" y="([\d.]+)">(.*?)</tspan>', body) or [
            (re.search(r' x="([\d.]+)"', attributes)[1], re.search(r' y="([\d.]+)"', attributes)[1], body)
        ]
        found += [(float(x), float(y), anchor[1] if anchor else "start", text) for x, y, text in spans]
    return found


def assert_inside_viewbox(svg: str) -> None:
    width, height = (float(n) for n in re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())
    for x, y, anchor, text in texts(svg):
        drawn = charts.text_width(text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
        left = {"start": x, "middle": x - drawn / 2, "end": x - drawn}[anchor]
        assert 0 <= left and left + drawn <= width, (text, left, left + drawn, width)
        assert charts.FONT_SIZE <= y <= height, (text, y, height)


def test_line_chart_draws_lines_without_markers_and_states_values_in_text():
    first = date(2026, 1, 1)
    points = [(first + timedelta(days=n), 40.0 + n / 10) for n in range(365)]
    svg = str(
        charts.line_chart(
            [charts.Series("ISO/IEC 27001:2022 Annex A", points), charts.Series("Annex 2 measures", [])],
            title="Coverage",
            language="en",
            description="two series",
            first=first,
            last=first + timedelta(days=364),
        )
    )
    assert svg.startswith('<svg class="chart line-chart" role="img"')
    assert "<title id=" in svg and "<desc id=" in svg and ">two series</desc>" in svg
    assert "<circle" not in svg and "<polygon" not in svg and 'class="marker"' not in svg
    assert svg.count("<polyline") == 1  # the empty series draws nothing
    assert f">{points[-1][1]:.1f}%</text>" in svg  # the newest value at the line's end
    assert "Annex 2 measures (no data)" in svg
    assert_inside_viewbox(svg)


def test_series_differ_by_dash_pattern_as_well_as_colour():
    day = date(2026, 1, 1)
    svg = str(
        charts.line_chart(
            [charts.Series("a", [(day, 1.0)]), charts.Series("b", [(day, 2.0)])],
            title="t",
            language="en",
            description="d",
            first=day,
            last=day,
        )
    )
    lines = re.findall(r"<polyline [^>]*>", svg)
    assert "stroke-dasharray" not in lines[0] and 'stroke-dasharray="7 4"' in lines[1]
    legend_strokes = re.findall(r'<g class="legend [^"]*"><line [^>]*>', svg)
    assert "stroke-dasharray" not in legend_strokes[0] and "stroke-dasharray" in legend_strokes[1]


def test_the_target_is_a_dashed_line_with_its_value_written():
    day = date(2026, 1, 1)
    line = str(
        charts.line_chart(
            [charts.Series("a", [(day, 89.6)])],
            title="t",
            language="en",
            description="d",
            first=day,
            last=day,
            target=90,
        )
    )
    assert re.search(r'<line class="target"[^>]*stroke-dasharray', line) and ">target 90%</text>" in line
    assert_inside_viewbox(line)  # 89.6% and the target's label are moved apart, both inside
    bars = str(
        charts.bar_chart([("People", 50.0, "50.0% (1/2)")], title="t", language="en", description="d", target=90)
    )
    assert '<line class="target"' in bars and ">target 90%</text>" in bars
    assert '<line class="target"' not in str(
        charts.bar_chart([("People", 50.0, "x")], title="t", language="en", description="d")
    )


def test_bar_chart_writes_each_value_and_escapes_labels():
    svg = str(
        charts.bar_chart([("People <HR>", 50.0, "50.0% (1/2)")], title="Groups", language="en", description="one bar")
    )
    assert (
        "People &lt;HR&gt;" in svg
        and ">50.0% (1/2)</text>" in svg
        and "<title>People &lt;HR&gt;: 50.0% (1/2)</title>" in svg
    )


def test_long_category_names_wrap_and_the_longest_are_shortened_with_their_full_title():
    svg = str(
        charts.bar_chart(
            [(LONG, 40.0, "40.0% (2/5)"), ("Organisational controls", 80.0, "80.0% (4/5)")],
            title="Groups",
            language="en",
            description="d",
            target=75,
        )
    )
    first_label = re.search(r'<text class="axis"[^>]*>(.*?)</text>', svg)[1]
    spans = re.findall(r"<tspan[^>]*>(.*?)</tspan>", first_label)
    assert len(spans) == 2 and spans[1].endswith("…")
    assert f"<title>{LONG}</title>" in first_label  # the whole name stays readable as a tooltip
    assert "Organisational controls</tspan>" in svg and "<title>Organisational controls</title>" not in svg
    assert_inside_viewbox(svg)


def test_fit_label_keeps_short_text_whole_and_wraps_at_spaces():
    assert charts.fit_label("People", 100) == ["People"]
    assert charts.fit_label("Human resource security", 110) == ["Human resource", "security"]
    one_word = charts.fit_label("Informatiebeveiligingsincidentbeheersprocedures", 100)
    assert len(one_word) == 1 and one_word[0].endswith("…") and charts.text_width(one_word[0]) <= 100


def test_the_charts_write_their_own_words_and_figures_in_the_callers_language():
    first = date(2026, 1, 1)
    line = str(
        charts.line_chart(
            [charts.Series("Maatregelen van Bijlage 2", []), charts.Series("a", [(first, 87.5)])],
            title="t",
            language="nl",
            description="d",
            first=first,
            last=first + timedelta(days=90),
            target=82.5,
        )
    )
    assert "Maatregelen van Bijlage 2 (geen gegevens)" in line and ">doel 82,5%</text>" in line
    assert ">87,5%</text>" in line and ">jan 26</text>" in line and ">apr 26</text>" in line
    assert_inside_viewbox(line)
    bars = str(
        charts.bar_chart([("People", 50.0, "50,0% (1/2)")], title="t", language="nl", description="d", target=90)
    )
    assert ">doel 90%</text>" in bars
