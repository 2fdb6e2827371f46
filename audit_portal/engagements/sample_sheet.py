"""The sample sheet: a sample with every item's test result as an XLSX workbook (what auditors
keep in their working papers) and as JSON (what the evidence package carries beside it)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from audit_portal import clock
from audit_portal.engagements.models import Engagement
from audit_portal.engagements.sampling import CONCLUSION_LABELS, METHOD_LABELS, RESULT_LABELS, SampleView

ITEM_COLUMNS = (
    "Item",
    "Occurrence",
    "Kind",
    "Run status",
    "Collected (UTC)",
    "Evidence items",
    "Result",
    "Note",
    "Tested by",
    "Tested (UTC)",
    "Finding",
    "Link",
)
COLUMN_WIDTHS = (6, 12, 20, 12, 18, 24, 14, 60, 16, 18, 9, 50)


def _when(moment: datetime | None) -> datetime | None:
    # Excel has no time zones: the columns say UTC.
    return clock.as_utc(moment).astimezone(UTC).replace(tzinfo=None) if moment else None


def _label(labels: dict[str, str], value: str | None) -> str:
    return labels.get(value or "", "") if value else ""


def summary(engagement: Engagement, view: SampleView) -> list[tuple[str, object]]:
    s = view.sample
    requirement = view.requirement
    return [
        ("Sample", s.id),
        ("Engagement", engagement.name),
        ("Requirement", f"{requirement.key} ({requirement.title})" if requirement else ""),
        ("Population", s.population_description),
        ("Population size", s.population_size),
        ("Method", METHOD_LABELS.get(s.method, s.method)),
        ("Seed", s.seed),
        ("Size", s.size),
        ("Size rule", s.size_rule or ""),
        ("Drawn (UTC)", _when(s.drawn_at)),
        ("Drawn by", view.drawn_by),
        ("Conclusion", _label(CONCLUSION_LABELS, s.conclusion) or "not concluded"),
        ("Conclusion note", s.conclusion_note or ""),
        ("Concluded (UTC)", _when(s.concluded_at)),
        ("Concluded by", view.concluded_by),
    ]


def item_rows(view: SampleView, base_url: str) -> list[list[object]]:
    return [
        [
            row.item.position,
            row.anchor.id,
            row.occurrence_label,
            row.run_status or "",
            _when(row.anchor.collected_at),
            ", ".join(f"#{i}" for i in row.member_ids),
            _label(RESULT_LABELS, row.item.result) or "not recorded",
            row.item.note or "",
            row.tested_by,
            _when(row.item.tested_at),
            row.item.finding_id,
            f"{base_url.rstrip('/')}/evidence/{row.anchor.id}",
        ]
        for row in view.rows
    ]


def xlsx_bytes(engagement: Engagement, view: SampleView, base_url: str) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = f"Sample {view.sample.id}"
    rows = summary(engagement, view)
    for name, value in rows:
        sheet.append([name, value])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True)
    header_row = len(rows) + 2  # one empty row between the summary and the items
    for column, title in enumerate(ITEM_COLUMNS, start=1):
        sheet.cell(header_row, column, title)
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    for values in item_rows(view, base_url):
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
