"""The report's languages: the PDF in the organisation's report language (English unless
AUDIT_PORTAL_REPORT_LANGUAGE says otherwise), the workbook's headers in its reader's."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlmodel import Session, select

from audit_portal.config import SettingsError, load_settings
from audit_portal.evidence.models import Evidence
from audit_portal.reports import service
from audit_portal.reports.models import ComplianceReport
from audit_portal.trends import jobs
from audit_portal.trends import service as trends
from evidence_store import MemoryStore
from tests.trends.test_jobs import own_engine  # noqa: F401 - a fixture

ENGLISH_SHEETS = ["Summary", "Coverage", "Findings", "Trend"]
ENGLISH_HEADERS = {
    "Summary": ("Figure", "Value"),
    "Coverage": ("Framework", "Control", "Title", "Group", "Status", "Why"),
    "Findings": ("Id", "Finding", "Severity", "Status", "Source", "Collector", "Owner", "Corrective action", "Due"),
    "Trend": ("Day", "ISO/IEC 27001:2022 Annex A", "Annex 2 measures"),
}
ENGLISH_SUMMARY_LABELS = [
    "Report month",
    "Period",
    "Figures as of",
    "ISO/IEC 27001:2022 Annex A: coverage %",
    "ISO/IEC 27001:2022 Annex A: covered controls",
    "ISO/IEC 27001:2022 Annex A: applicable controls",
    "ISO/IEC 27001:2022 Annex A: change since a month ago (points)",
    "Annex 2 measures: coverage %",
    "Annex 2 measures: covered controls",
    "Annex 2 measures: applicable controls",
    "Annex 2 measures: change since a month ago (points)",
    "Failing controls",
    "Stale controls",
    "Evidence expiring in 30 days",
    "Collectors",
    "Failed collector runs (7 days)",
    "Collectors not run on schedule",
]


def pdf_text(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def stored(session, store, evidence_id: int) -> bytes:  # type: ignore[no-untyped-def]
    evidence = session.get(Evidence, evidence_id)
    with store.open(evidence.store_key) as stream:
        return stream.read()


@pytest.fixture
def data(session, seeded):
    trends.backfill(session, seeded.today - timedelta(days=2), seeded.today)
    return service.collect_report_data(session, seeded.today.replace(day=1), target=90.0)


def test_the_pdf_is_english_by_default_and_dutch_when_asked(data, seeded):
    english = pdf_text(service.render_pdf(data))
    assert f"Compliance report {seeded.today:%Y-%m}" in english
    assert "Figures" in english and "Open findings" in english and "Coverage table:" in english
    assert "Nalevingsrapportage" not in english and "Cijfers" not in english
    dutch = pdf_text(service.render_pdf(data, "nl"))
    assert f"Nalevingsrapportage {seeded.today:%Y-%m}" in dutch
    assert "Cijfers" in dutch and "Open bevindingen" in dutch and "Dekkingstabel:" in dutch
    assert "Maatregelen van Bijlage 2" in dutch  # the charts speak it too
    assert "Compliance report" not in dutch and "Coverage table:" not in dutch
    assert "nieuwste bewijs" in dutch and "newest evidence" not in dutch  # the reasons beside the statuses


def test_the_workbook_keeps_its_english_headers_cell_for_cell(data):
    workbook = load_workbook(io.BytesIO(service.render_xlsx(data)))
    assert workbook.sheetnames == ENGLISH_SHEETS
    for title, header in ENGLISH_HEADERS.items():
        assert next(workbook[title].iter_rows(max_row=1, values_only=True)) == header
    labels = [row[0] for row in workbook["Summary"].iter_rows(min_row=2, values_only=True)]
    assert labels[: len(ENGLISH_SUMMARY_LABELS)] == ENGLISH_SUMMARY_LABELS
    assert labels[-4:] == [
        "Implemented in the SoA but not proven",
        "Open evidence requests",
        "Answered evidence requests awaiting review",
        "Overdue evidence requests",
    ]


def test_a_dutch_workbook_has_dutch_sheets_headers_and_labels_and_the_same_values(data):
    english = load_workbook(io.BytesIO(service.render_xlsx(data)))
    dutch = load_workbook(io.BytesIO(service.render_xlsx(data, "nl")))
    assert dutch.sheetnames == ["Samenvatting", "Dekking", "Bevindingen", "Trend"]
    assert next(dutch["Dekking"].iter_rows(max_row=1, values_only=True)) == (
        "Normenkader",
        "Beheersmaatregel",
        "Titel",
        "Groep",
        "Status",
        "Waarom",
    )
    assert next(dutch["Trend"].iter_rows(max_row=1, values_only=True)) == (
        "Dag",
        "ISO/IEC 27001:2022 Annex A",
        "Maatregelen van Bijlage 2",
    )
    summary = {row[0]: row[1] for row in dutch["Samenvatting"].iter_rows(min_row=2, values_only=True)}
    assert summary["Rapportagemaand"] == f"{data.month:%Y-%m}"  # the values as they are
    assert "Maatregelen van Bijlage 2: gedekte beheersmaatregelen" in summary
    assert "Open bevindingen: hoog" in summary
    # the values stay as they are; the words among them (statuses, severities) are the reader's
    kept = {"Summary": (1,), "Coverage": (1, 2, 3), "Findings": (0, 1, 4, 5, 6, 7, 8), "Trend": (0, 1, 2)}
    for (title, columns), dutch_sheet in zip(kept.items(), dutch.worksheets, strict=True):
        english_rows = list(english[title].iter_rows(min_row=2, values_only=True))
        dutch_rows = list(dutch_sheet.iter_rows(min_row=2, values_only=True))
        said = {"no snapshot": "geen momentopname"}  # the summary's one word among its figures
        assert [[said.get(row[c], row[c]) for c in columns] for row in english_rows] == [
            [row[c] for c in columns] for row in dutch_rows
        ]
    coverage = {(row[1], row[4]) for row in dutch["Dekking"].iter_rows(min_row=2, values_only=True)}
    assert ("PHY-3", "Faalt") in coverage
    # the reason beside each status is the reader's too: its words translated, keys kept
    reasons = [row[5] for row in dutch["Dekking"].iter_rows(min_row=2, values_only=True)]
    english_reasons = [row[5] for row in english["Coverage"].iter_rows(min_row=2, values_only=True)]
    assert any(reason.startswith("eis ") for reason in reasons)
    assert not any("requirement " in reason or "newest evidence" in reason for reason in reasons)
    assert any(reason.startswith("requirement ") for reason in english_reasons)
    severities = {row[2] for row in dutch["Bevindingen"].iter_rows(min_row=2, values_only=True)}
    assert "Hoog" in severities and severities <= {"Kritiek", "Hoog", "Middel", "Laag", "Info"}


def test_the_report_language_is_a_checked_setting(tmp_path):
    assert load_settings(data_dir=tmp_path).report_language == "en"
    assert load_settings(data_dir=tmp_path, report_language="nl").report_language == "nl"
    with pytest.raises(SettingsError, match="^AUDIT_PORTAL_REPORT_LANGUAGE: 'de' is not a language"):
        load_settings(data_dir=tmp_path, report_language="de")


def test_the_environment_sets_the_report_language(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIT_PORTAL_REPORT_LANGUAGE", "nl")
    assert load_settings(data_dir=tmp_path).report_language == "nl"


def test_the_scheduler_writes_the_report_in_the_report_language(own_engine, settings):  # noqa: F811
    store = MemoryStore()
    now = (datetime.now(UTC) - timedelta(days=40)).replace(day=10, hour=9, minute=0)
    dutch = settings.model_copy(update={"report_language": "nl"})
    assert "monthly-report" in jobs.run_due_jobs(own_engine, store, dutch, now)
    with Session(own_engine) as session:
        report = session.exec(select(ComplianceReport)).one()
        pdf, xlsx = (
            stored(session, store, evidence_id) for evidence_id in (report.pdf_evidence_id, report.xlsx_evidence_id)
        )
    text = pdf_text(pdf)
    assert "Nalevingsrapportage" in text and "Cijfers" in text and "Compliance report" not in text
    assert load_workbook(io.BytesIO(xlsx)).sheetnames == ["Samenvatting", "Dekking", "Bevindingen", "Trend"]


def test_generating_on_the_reports_page_gives_the_reader_the_workbook(login_as, make_user, session, store, seeded):
    reader = login_as(make_user("management", language="nl"))
    response = reader.post("/reports/generate", data={"month": f"{seeded.today:%Y-%m}"})
    assert response.status_code == 303
    report = session.exec(select(ComplianceReport)).one()
    assert load_workbook(io.BytesIO(stored(session, store, report.xlsx_evidence_id))).sheetnames[0] == "Samenvatting"
    # the PDF speaks the organisation's language, English by default
    assert "Compliance report" in pdf_text(stored(session, store, report.pdf_evidence_id))
