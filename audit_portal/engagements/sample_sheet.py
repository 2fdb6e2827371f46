"""The sample sheet: a sample with every item's test result as an XLSX workbook (what auditors
keep in their working papers) and as JSON (what the evidence package carries beside it)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from audit_portal import clock
from audit_portal.engagements.models import Engagement
from audit_portal.engagements.sampling import CONCLUSION_LABELS, METHOD_LABELS, RESULT_LABELS, SampleView
from audit_portal.i18n import DEFAULT_LANGUAGE, N_, Wording

# The headers and labels are English by default (the evidence package's copy, scripts reading
# the sheet); the download on the sample page speaks the reader's language.
ITEM_COLUMNS = (
    N_("Item"),
    N_("Occurrence"),
    N_("Kind"),
    N_("Run status"),
    N_("Collected (UTC)"),
    N_("Evidence items"),
    N_("Result"),
    N_("Note"),
    N_("Tested by"),
    N_("Tested (UTC)"),
    N_("Finding"),
    N_("Link"),
)
COLUMN_WIDTHS = (6, 12, 20, 12, 18, 24, 14, 60, 16, 18, 9, 50)


def _when(moment: datetime | None) -> datetime | None:
    # Excel has no time zones: the columns say UTC.
    return clock.as_utc(moment).astimezone(UTC).replace(tzinfo=None) if moment else None


def _label(labels: dict[str, str], value: str | None) -> str:
    return labels.get(value or "", "") if value else ""


def summary(engagement: Engagement, view: SampleView, language: str = DEFAULT_LANGUAGE) -> list[tuple[str, object]]:
    say = Wording(language).gettext
    s = view.sample
    requirement = view.requirement
    return [
        (say(N_("Sample")), s.id),
        (say(N_("Engagement")), engagement.name),
        (say(N_("Requirement")), f"{requirement.key} ({requirement.title})" if requirement else ""),
        (say(N_("Population")), s.population_description),
        (say(N_("Population size")), s.population_size),
        (say(N_("Method")), say(METHOD_LABELS.get(s.method, s.method))),
        (say(N_("Seed")), s.seed),
        (say(N_("Size")), s.size),
        (say(N_("Size rule")), s.size_rule or ""),
        (say(N_("Drawn (UTC)")), _when(s.drawn_at)),
        (say(N_("Drawn by")), view.drawn_by),
        (say(N_("Conclusion")), say(_label(CONCLUSION_LABELS, s.conclusion) or N_("not concluded"))),
        (say(N_("Conclusion note")), s.conclusion_note or ""),
        (say(N_("Concluded (UTC)")), _when(s.concluded_at)),
        (say(N_("Concluded by")), view.concluded_by),
    ]


def item_rows(view: SampleView, base_url: str, language: str = DEFAULT_LANGUAGE) -> list[list[object]]:
    say = Wording(language).gettext
    return [
        [
            row.item.position,
            row.anchor.id,
            row.occurrence_label,
            row.run_status or "",
            _when(row.anchor.collected_at),
            ", ".join(f"#{i}" for i in row.member_ids),
            say(_label(RESULT_LABELS, row.item.result) or N_("not recorded")),
            row.item.note or "",
            row.tested_by,
            _when(row.item.tested_at),
            row.item.finding_id,
            f"{base_url.rstrip('/')}/evidence/{row.anchor.id}",
        ]
        for row in view.rows
    ]


def xlsx_bytes(engagement: Engagement, view: SampleView, base_url: str, language: str = DEFAULT_LANGUAGE) -> bytes:
    """The workbook; its sheet title, labels and headers in ``language``, the values as recorded."""
    from openpyxl import Workbook  # on demand: openpyxl takes about 18 MiB of a process
    from openpyxl.styles import Alignment, Font

    say = Wording(language).gettext
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = say(N_("Sample %(id)s"), id=view.sample.id)
    rows = summary(engagement, view, language)
    for name, value in rows:
        sheet.append([name, value])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True)
    header_row = len(rows) + 2  # one empty row between the summary and the items
    for column, title in enumerate(ITEM_COLUMNS, start=1):
        sheet.cell(header_row, column, say(title))
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    for values in item_rows(view, base_url, language):
        sheet.append(values)
    for cells in sheet.iter_rows():
        for cell in cells:
            if isinstance(cell.value, str):
                # openpyxl reads a leading "=" as a formula; these cells are always text.
                cell.data_type = "s"
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            elif isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
    for letter, width in zip("ABCDEFGHIJKL", COLUMN_WIDTHS, strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = sheet.cell(header_row + 1, 1)
    target = io.BytesIO()
    workbook.save(target)
    return target.getvalue()


def as_json(engagement: Engagement, view: SampleView, base_url: str) -> dict[str, Any]:
    s = view.sample
    return {
        "id": s.id,
        "engagement": engagement.id,
        "requirement": view.requirement.key if view.requirement else None,
        "population": s.population_description,
        "population_filter": s.population_filter,
        "population_size": s.population_size,
        "method": s.method,
        "seed": s.seed or None,
        "size": s.size,
        "size_rule": s.size_rule,
        "drawn_at": clock.as_utc(s.drawn_at).isoformat(),
        "drawn_by": view.drawn_by,
        "conclusion": s.conclusion,
        "conclusion_note": s.conclusion_note,
        "concluded_at": clock.as_utc(s.concluded_at).isoformat() if s.concluded_at else None,
        "concluded_by": view.concluded_by or None,
        "items": [
            {
                "position": row.item.position,
                "occurrence": row.anchor.id,
                "kind": row.occurrence_label,
                "run_status": row.run_status,
                "collected_at": clock.as_utc(row.anchor.collected_at).isoformat(),
                "evidence": row.member_ids,
                "result": row.item.result,
                "note": row.item.note,
                "tested_by": row.tested_by or None,
                "tested_at": clock.as_utc(row.item.tested_at).isoformat() if row.item.tested_at else None,
                "finding": row.item.finding_id,
                "link": f"{base_url.rstrip('/')}/evidence/{row.anchor.id}",
            }
            for row in view.rows
        ],
    }


def filename(view: SampleView) -> str:
    return f"sample-{view.sample.id}.xlsx"
