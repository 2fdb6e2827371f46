"""The downloads' headers in the reader's language: a script with no Accept-Language and no Dutch
preference gets the English headers it always got, byte for byte; a Dutch reader gets Dutch
ones, and the values stay as they are."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from tests.soa.conftest import catalogue  # noqa: F401 - a fixture

DUTCH = {"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"}
GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}  # no supported language: English

SOA_CSV_HEADER = (
    b"\xef\xbb\xbfControl,Title,Theme,Applicable,Justification,Implementation status,Owner,Mapped measures,"
    b'"Evidence requirements (key, frequency)",Last updated,Evidence coverage,Coverage as of,Contradiction\r\n'
)
SOA_DUTCH_HEADER = [
    "Beheersmaatregel",
    "Titel",
    "Thema",
    "Van toepassing",
    "Rechtvaardiging",
    "Implementatiestatus",
    "Eigenaar",
    "Gekoppelde maatregelen",
    "Bewijseisen (sleutel, frequentie)",
    "Laatst bijgewerkt",
    "Dekking met bewijs",
    "Dekking per",
    "Tegenstrijdigheid",
]
AUDIT_CSV_HEADER = b"id,at,actor,role,address,action,object_type,object_id,outcome,detail,hash\r\n"
AUDIT_DUTCH_HEADER = [
    "id",
    "tijdstip",
    "gebruiker",
    "rol",
    "adres",
    "actie",
    "objecttype",
    "object-id",
    "uitkomst",
    "detail",
    "hash",
]


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize("headers", [{}, GERMAN], ids=["no-accept-language", "german"])
def test_a_script_gets_the_english_soa_csv_byte_for_byte(catalogue, login_as, make_user, headers):
    script = login_as(make_user("auditor"))
    content = script.get("/soa/export.csv", headers=headers).content
    assert content.startswith(SOA_CSV_HEADER)


def test_a_dutch_reader_gets_dutch_soa_headers_and_the_same_values(catalogue, login_as, make_user):
    english = csv_rows(login_as(make_user("auditor")).get("/soa/export.csv").content)
    by_browser = csv_rows(login_as(make_user("auditor")).get("/soa/export.csv", headers=DUTCH).content)
    by_preference = csv_rows(login_as(make_user("auditor", language="nl")).get("/soa/export.csv").content)
    assert by_browser[0] == by_preference[0] == SOA_DUTCH_HEADER
    assert by_browser[1:] == by_preference[1:] and len(by_browser) == len(english)
    english_rows = {row[0]: dict(zip(SOA_DUTCH_HEADER, row, strict=True)) for row in english[1:]}
    dutch_rows = {row[0]: dict(zip(SOA_DUTCH_HEADER, row, strict=True)) for row in by_browser[1:]}
    for ref, row in dutch_rows.items():  # identifiers, titles and what people typed stay as they are
        for column in ("Titel", "Thema", "Rechtvaardiging", "Eigenaar", "Gekoppelde maatregelen", "Dekking per"):
            assert row[column] == english_rows[ref][column], (ref, column)
    # the words are the reader's: yes or no, the statuses, the frequencies
    assert {row["Van toepassing"] for row in dutch_rows.values()} <= {"Ja", "Nee"}
    assert {row["Van toepassing"] for row in english_rows.values()} <= {"Yes", "No"}
    assert english_rows["8.13"]["Bewijseisen (sleutel, frequentie)"].startswith("8.13/backup (daily)")
    assert dutch_rows["8.13"]["Bewijseisen (sleutel, frequentie)"].startswith("8.13/backup (dagelijks)")
    assert "(elke 90 dagen)" in dutch_rows["8.13"]["Bewijseisen (sleutel, frequentie)"]


def test_the_soa_workbook_follows_the_reader(catalogue, login_as, make_user):
    english = load_workbook(io.BytesIO(login_as(make_user("auditor")).get("/soa/export.xlsx").content)).active
    assert english.title == "Statement of Applicability"
    assert [cell.value for cell in english[1]] == csv_rows(SOA_CSV_HEADER)[0]
    dutch = load_workbook(
        io.BytesIO(login_as(make_user("auditor", language="nl")).get("/soa/export.xlsx").content)
    ).active
    assert dutch.title == "Verklaring van toepasselijkheid"
    assert [cell.value for cell in dutch[1]] == SOA_DUTCH_HEADER
    assert english.max_row == dutch.max_row and english["A2"].value == dutch["A2"].value
    assert english["D2"].value in {"Yes", "No"} and dutch["D2"].value in {"Ja", "Nee"}


@pytest.mark.parametrize("headers", [{}, GERMAN], ids=["no-accept-language", "german"])
def test_a_script_gets_the_english_audit_log_csv_byte_for_byte(login_as, make_user, headers):
    content = login_as(make_user("admin")).get("/admin/audit-log/export.csv", headers=headers).content
    assert content.startswith(AUDIT_CSV_HEADER)


def test_a_dutch_reader_gets_dutch_audit_log_headers(login_as, make_user):
    by_browser = csv_rows(login_as(make_user("admin")).get("/admin/audit-log/export.csv", headers=DUTCH).content)
    assert by_browser[0] == AUDIT_DUTCH_HEADER
    # the values are the record as written: the action stays an identifier
    assert any(row[5] == "audit.export" for row in by_browser[1:])
    dutch_admin = login_as(make_user("admin", language="nl"))
    assert csv_rows(dutch_admin.get("/admin/audit-log/export.csv").content)[0] == AUDIT_DUTCH_HEADER
