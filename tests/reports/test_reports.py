"""The monthly report: generated, read back (PDF text, XLSX cells) and kept as CMP-1 evidence."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from audit_portal.catalogue.models import Control, Requirement
from audit_portal.errors import InvalidInput
from audit_portal.evidence.models import Evidence, EvidenceRequirement
from audit_portal.principals import Actor
from audit_portal.reports import service
from audit_portal.trends import service as trends
from tests.dashboard.conftest import covered_by_hand

MAX_BYTES = 50 * 1024 * 1024


def hand_figures(session, seeded, framework):
    expected = covered_by_hand(session, seeded, framework, start=seeded.today - timedelta(days=364), as_of=seeded.today)
    return sum(1 for *_, c in expected.values() if c), sum(1 for _, a, _ in expected.values() if a)


@pytest.fixture
def report(session, store, seeded):
    trends.backfill(session, seeded.today - timedelta(days=2), seeded.today)
    return service.generate_monthly_report(
        session, store, month=seeded.today.replace(day=1), max_bytes=MAX_BYTES, actor=Actor.system("test")
    )


def stored_bytes(session, store, evidence_id: int) -> bytes:
    evidence = session.get(Evidence, evidence_id)
    with store.open(evidence.store_key) as stream:
        return stream.read()


def test_both_files_are_cmp1_evidence(session, report):
    key = select(Requirement.key).join(EvidenceRequirement, EvidenceRequirement.requirement_id == Requirement.id)
    for evidence_id in (report.pdf_evidence_id, report.xlsx_evidence_id):
        assert session.scalars(key.where(EvidenceRequirement.evidence_id == evidence_id)).all() == [
            "CMP-1/compliance-review"
        ]
    pdf, xlsx = session.get(Evidence, report.pdf_evidence_id), session.get(Evidence, report.xlsx_evidence_id)
    assert pdf.content_type == "application/pdf"
    assert xlsx.content_type == service.XLSX_MEDIA_TYPE
    assert pdf.collector_instance == service.REPORT_SOURCE


def test_pdf_text_holds_the_figures_and_findings(session, store, seeded, report):
    text = " ".join(
        page.extract_text()
        for page in PdfReader(io.BytesIO(stored_bytes(session, store, report.pdf_evidence_id))).pages
    )
    text = re.sub(r"\s+", " ", text)
    assert f"Compliance report {seeded.today:%Y-%m}" in text
    for framework in ("iso27001-2022", "annex2"):
        covered, applicable = hand_figures(session, seeded, framework)
        assert (
            f"{round(100 * covered / applicable, 1):.1f}% coverage: {covered} covered of {applicable} applicable"
            in text
        )
    assert "Backup check failed" in text and "Awareness records incomplete" in text
    assert "Old observation" not in text  # closed
    workbook = load_workbook(io.BytesIO(stored_bytes(session, store, report.xlsx_evidence_id)))
    statuses = [row[4] for row in workbook["Coverage"].iter_rows(min_row=2, values_only=True)]
    assert f"Controls {statuses.count('Failing')} failing, {statuses.count('Stale')} stale" in text


def test_xlsx_cells(session, store, seeded, report):
    workbook = load_workbook(io.BytesIO(stored_bytes(session, store, report.xlsx_evidence_id)))
    assert workbook.sheetnames == ["Summary", "Coverage", "Findings", "Trend"]
    summary = {row[0]: row[1] for row in workbook["Summary"].iter_rows(min_row=2, values_only=True)}
    covered, applicable = hand_figures(session, seeded, "annex2")
    assert summary["Annex 2 measures: covered controls"] == covered
    assert summary["Annex 2 measures: applicable controls"] == applicable
    assert summary["Open findings: high"] == 1
    assert summary["Overdue corrective actions"] == 1
    coverage = list(workbook["Coverage"].iter_rows(min_row=2, values_only=True))
    assert (
        summary["Failing controls"] == sum(1 for row in coverage if row[4] == "Failing") >= 2
    )  # PHY-3 and its 2022 controls
    controls = session.scalars(
        select(Control).where(
            Control.framework_key.in_(["iso27001-2022", "annex2"]),
            Control.retired_at.is_(None),
            Control.kind == "controls",
        )
    ).all()
    assert len(coverage) == len(controls)
    by_ref = {(row[0], row[1]): row[4] for row in coverage}
    assert by_ref[("Annex 2 measures", "PHY-3")] == "Failing"  # the labels the pages show
    assert by_ref[("Annex 2 measures", "OPS-2")] == "Stale"

    findings = [row[1] for row in workbook["Findings"].iter_rows(min_row=2, values_only=True)]
    assert sorted(findings) == ["Awareness records incomplete", "Backup check failed", "Policy wording"]
    trend = list(workbook["Trend"].iter_rows(min_row=2, values_only=True))
    assert trend[0][0] == seeded.today.isoformat()


def test_formulas_typed_by_people_stay_text(session, store, seeded):
    from audit_portal.clock import utcnow
    from audit_portal.findings.models import Finding

    session.add(
        Finding(source="auditor", title='=HYPERLINK("http://x")', severity="low", status="open", created_at=utcnow())
    )
    session.flush()
    report = service.generate_monthly_report(
        session, store, month=seeded.today.replace(day=1), max_bytes=MAX_BYTES, actor=Actor.system("test")
    )
    workbook = load_workbook(io.BytesIO(stored_bytes(session, store, report.xlsx_evidence_id)))
    titles = [row[1] for row in workbook["Findings"].iter_rows(min_row=2, values_only=True)]
    assert '\'=HYPERLINK("http://x")' in titles


def test_a_month_not_begun_is_refused(session, store, seeded):
    next_month = (seeded.today.replace(day=28) + timedelta(days=5)).replace(day=1)
    with pytest.raises(InvalidInput, match="has not begun"):
        service.generate_monthly_report(
            session, store, month=next_month, max_bytes=MAX_BYTES, actor=Actor.system("test")
        )


def test_the_due_report_is_made_once(session, store, seeded):
    first = service.generate_due_report(
        session, store, max_bytes=MAX_BYTES, today=seeded.today, actor=Actor.system("test")
    )
    assert first is not None and first.month == service.previous_month(seeded.today)
    assert (
        service.generate_due_report(session, store, max_bytes=MAX_BYTES, today=seeded.today, actor=Actor.system("test"))
        is None
    )


@pytest.mark.parametrize("text", ["2026-13", "October", ""])
def test_parse_month_refuses_nonsense(text):
    with pytest.raises(InvalidInput):
        service.parse_month(text)


class TestPages:
    def test_management_generates_and_sees_the_report(self, session, seeded, login_as):
        client = login_as("management")
        month = f"{seeded.today:%Y-%m}"
        done = client.post("/reports/generate", data={"month": month})
        assert done.status_code == 303
        page = client.get(done.headers["location"])
        assert page.status_code == 200
        assert month in page.text and 'data-report="pdf"' in page.text and 'data-report="xlsx"' in page.text

    def test_it_may_read_but_not_generate(self, seeded, login_as):
        client = login_as("it")
        assert client.get("/reports").status_code == 200
        assert client.post("/reports/generate", data={"month": "2026-01"}).status_code == 403

    def test_a_bad_month_is_a_clear_error(self, seeded, login_as):
        response = login_as("admin").post("/reports/generate", data={"month": "soon"})
        assert response.status_code == 422
        assert "YYYY-MM" in response.text
