"""The SoA downloads: one row per 2022 control, read back as a spreadsheet program would."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import Session

from audit_portal.audit.models import AuditEvent
from audit_portal.principals import Actor
from audit_portal.soa import service
from audit_portal.soa.export import COLUMNS

EXPECTED_COLUMNS = [
    "Control",
    "Title",
    "Theme",
    "Applicable",
    "Justification",
    "Implementation status",
    "Owner",
    "Mapped measures",
    "Evidence requirements (key, frequency)",
    "Last updated",
    "Evidence coverage",
    "Coverage as of",
    "Contradiction",
]
BACKUP_REQUIREMENTS = (
    "8.13/backup (daily); PHY-3/backup (daily); BCM-1/backup (daily); BCM-1/restore-test (every 90 days); "
    "BCM-2/backup-report (every 30 days)"
)


def set_owner(session: Session, ref: str, owner: str) -> None:
    row = service.soa_row(session, ref)
    assert row.entry is not None
    change = service.SoaChange(row.entry.applicable, row.entry.justification, "implemented", owner)
    service.apply_change(session, row=row, change=change, actor=service.SYSTEM)


def test_the_columns_are_the_ones_an_auditor_expects() -> None:
    assert list(COLUMNS) == EXPECTED_COLUMNS


@pytest.mark.parametrize("role", ["admin", "it", "auditor", "management"])
def test_csv_download_has_one_row_per_2022_control(catalogue, login_as, role: str) -> None:
    response = login_as(role).get("/soa/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="statement-of-applicability-')
    assert response.content.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read UTF-8
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert rows[0] == EXPECTED_COLUMNS
    assert len(rows) == 94
    by_ref = {row[0]: dict(zip(EXPECTED_COLUMNS, row)) for row in rows[1:]}
    backup = by_ref["8.13"]
    assert (backup["Title"], backup["Theme"], backup["Applicable"]) == (
        "Information backup",
        "Technological controls",
        "Yes",
    )
    assert backup["Implementation status"] == "Not started"
    assert backup["Mapped measures"] == "PHY-3, BCM-1, BCM-2"
    assert backup["Evidence requirements (key, frequency)"] == BACKUP_REQUIREMENTS
    assert backup["Last updated"].endswith(" UTC")
    excluded = by_ref["5.5"]
    assert (excluded["Applicable"], excluded["Implementation status"]) == ("No", "Not applicable")
    assert excluded["Justification"] == service.UNMAPPED_JUSTIFICATION


def test_xlsx_download_reads_back_with_openpyxl(catalogue, login_as, session) -> None:
    set_owner(session, "8.13", "Head of operations (P. Bakker)")
    response = login_as("auditor").get("/soa/export.xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"] == ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert response.headers["content-disposition"].endswith('.xlsx"')
    workbook = load_workbook(io.BytesIO(response.content))
    sheet = workbook.active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == EXPECTED_COLUMNS
    assert len(rows) == 94
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:M94"
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["A"].width
    by_ref = {row[0]: dict(zip(EXPECTED_COLUMNS, row)) for row in rows[1:]}
    assert [row[0] for row in rows[1:4]] == ["5.1", "5.2", "5.3"]
    backup = by_ref["8.13"]
    assert backup["Owner"] == "Head of operations (P. Bakker)"
    assert backup["Implementation status"] == "Implemented"
    assert backup["Evidence requirements (key, frequency)"] == BACKUP_REQUIREMENTS
    assert isinstance(backup["Last updated"], datetime)


def test_text_that_looks_like_a_formula_stays_text(catalogue, login_as, session) -> None:
    set_owner(session, "8.13", '=HYPERLINK("http://evil.example","x")')
    client = login_as("admin")
    csv_text = client.get("/soa/export.csv").content.decode("utf-8-sig")
    row = next(r for r in csv.reader(io.StringIO(csv_text, newline="")) if r[0] == "8.13")
    assert row[EXPECTED_COLUMNS.index("Owner")] == '\'=HYPERLINK("http://evil.example","x")'
    sheet = load_workbook(io.BytesIO(client.get("/soa/export.xlsx").content)).active
    cell = next(r for r in sheet.iter_rows() if r[0].value == "8.13")[EXPECTED_COLUMNS.index("Owner")]
    assert cell.data_type == "s"
    assert cell.value == '=HYPERLINK("http://evil.example","x")'


def test_each_download_is_an_audit_event(catalogue, login_as, session) -> None:
    client = login_as("auditor")
    client.get("/soa/export.csv")
    client.get("/soa/export.xlsx")
    recorded = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "soa.export").order_by(AuditEvent.id)
    ).all()
    assert [json.loads(e.detail)["format"] for e in recorded] == ["csv", "xlsx"]
    assert {e.actor for e in recorded} == {client.user.username}
