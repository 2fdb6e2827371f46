"""The reason beside a coverage status is catalogue messages with values: pages say it in the
reader's language, dates in the reader's format; the coverage API keeps the English sentence."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import select

from audit_portal.catalogue.models import Control
from audit_portal.clock import utcnow
from audit_portal.coverage.service import coverage_as_of
from audit_portal.i18n import Phrase, Phrases, Word
from audit_portal.soa.models import SoaEntry
from audit_portal.soa.service import contradiction
from tests.coverage.test_api import bearer
from tests.engagements.fixtures import add_evidence, catalogue, workspace  # noqa: F401

DUTCH = {"Accept-Language": "nl"}
ENGLISH = {"Accept-Language": "en"}


def test_a_phrase_is_english_by_str_and_dutch_in_language():
    cadence = Phrase.of("frequency %(frequency)s d, grace %(grace)s d", frequency=7, grace=2)
    stale = Phrase.of(
        "requirement %(key)s: %(evidence)s; stale since %(day)s",
        key="OPS-2/100%",
        evidence=Phrase.of(
            "newest evidence %(day)s, %(age)s days old, %(cadence)s", day=date(2026, 6, 1), age=30, cadence=cadence
        ),
        day=date(2026, 6, 11),
    )
    assert (
        str(stale)
        == stale.english
        == (
            "requirement OPS-2/100%: newest evidence 2026-06-01, 30 days old, frequency 7 d, grace 2 d; stale since 2026-06-11"
        )
    )
    assert stale.in_language("nl") == (
        "eis OPS-2/100%: nieuwste bewijs 01-06-2026, 30 dagen oud, frequentie 7 d, coulance 2 d; verouderd sinds 11-06-2026"
    )
    both = Phrases((stale, Phrase("no requirement defines how this control is proven")))
    assert both.english.endswith("2026-06-11; no requirement defines how this control is proven")
    assert both.in_language("nl").endswith("11-06-2026; geen eis legt vast hoe deze beheersmaatregel wordt aangetoond")
    said = Phrase.of(
        "marked implemented, but its evidence is %(status)s: %(reason)s", status=Word("stale"), reason=both
    )
    assert said.in_language("nl").startswith(
        "gemarkeerd als geïmplementeerd, maar de bewijsstatus is ‘verouderd’: eis "
    )
    # equal by content: what the rollup and the from-scratch computation compare
    assert stale == Phrase.of(
        "requirement %(key)s: %(evidence)s; stale since %(day)s",
        key="OPS-2/100%",
        evidence=Phrase.of(
            "newest evidence %(day)s, %(age)s days old, %(cadence)s", day=date(2026, 6, 1), age=30, cadence=cadence
        ),
        day=date(2026, 6, 11),
    )
    assert hash(stale) == hash(Phrases((stale,)).parts[0])


def _stale_patches(workspace, add_evidence):  # noqa: F811
    """OPS-2/patches (every 7 days, 2 days' grace) last proven 30 days ago: stale; 8.8 is marked
    implemented, so the SoA flags it."""
    add_evidence("OPS-2/patches", days_ago=30)
    session = workspace.session
    control = session.exec(select(Control).where(Control.framework_key == "iso27001-2022", Control.ref == "8.8")).one()
    entry = session.get(SoaEntry, control.id)
    assert entry is not None
    entry.applicable, entry.status = True, "implemented"
    session.add(entry)
    session.commit()
    newest = utcnow().date() - timedelta(days=30)
    report = coverage_as_of(session, "iso27001-2022", as_of=utcnow().date())
    coverage = next(c for c in report.controls if c.ref == "8.8")
    return coverage, newest, newest + timedelta(days=10)


def _dutch(day: date) -> str:
    return day.strftime("%d-%m-%Y")


def test_the_dashboard_list_says_the_reason_in_dutch(workspace, add_evidence, login_as):  # noqa: F811
    coverage, newest, since = _stale_patches(workspace, add_evidence)
    assert coverage.status in ("stale", "partial")
    admin = login_as("admin")
    page = admin.get(f"/dashboard/controls?status={coverage.status}", headers=DUTCH).text
    assert f"eis OPS-2/patches: nieuwste bewijs {_dutch(newest)}, 30 dagen oud, frequentie 7 d, coulance 2 d" in page
    assert f"verouderd sinds {_dutch(since)}" in page
    assert "newest evidence" not in page and "stale since" not in page
    english = admin.get(f"/dashboard/controls?status={coverage.status}", headers=ENGLISH).text
    assert f"requirement OPS-2/patches: newest evidence {newest.isoformat()}, 30 days old" in english
    assert f"stale since {since.isoformat()}" in english


def test_the_engagement_controls_table_says_the_reason_in_dutch(workspace, add_evidence, login_as):  # noqa: F811
    _, newest, since = _stale_patches(workspace, add_evidence)
    auditor = login_as(workspace.auditor)
    page = auditor.get(f"/engagements/{workspace.engagement_id}/controls", headers=DUTCH).text
    assert f"eis OPS-2/patches: nieuwste bewijs {_dutch(newest)}, 30 dagen oud" in page
    assert f"verouderd sinds {_dutch(since)}" in page
    assert "no evidence in the period" not in page and "newest evidence" not in page
    assert "geen bewijs in de periode" in page
    control = auditor.get(f"/engagements/{workspace.engagement_id}/controls/8.8", headers=DUTCH).text
    assert f"verouderd sinds {_dutch(since)}" in control and "stale since" not in control


def test_the_soa_page_says_the_contradiction_and_the_reason_in_dutch(workspace, add_evidence, login_as):  # noqa: F811
    coverage, newest, since = _stale_patches(workspace, add_evidence)
    page = login_as("auditor").get("/soa", headers=DUTCH).text
    assert "gemarkeerd als geïmplementeerd, maar de bewijsstatus is ‘" in page
    assert f"eis OPS-2/patches: nieuwste bewijs {_dutch(newest)}, 30 dagen oud" in page
    assert "marked implemented" not in page and "newest evidence" not in page
    # the copy kept as evidence and scripts get the English sentence
    entry = workspace.session.get(SoaEntry, coverage.control_id)
    said = contradiction(entry, coverage)
    assert said is not None and said.english.startswith(f"marked implemented, but its evidence is {coverage.status}: ")


def test_the_coverage_api_stays_english_for_a_dutch_client(workspace, add_evidence, client):  # noqa: F811
    coverage, newest, since = _stale_patches(workspace, add_evidence)
    headers = bearer(workspace.session, ["coverage:read"]) | DUTCH
    body = client.get("/api/v1/coverage/iso27001-2022", headers=headers).json()
    control = {c["ref"]: c for c in body["controls"]}["8.8"]
    assert control["reason"] == coverage.reason.english
    patches = next(r for r in control["requirements"] if r["key"] == "OPS-2/patches")
    assert patches["reason"] == (
        f"requirement OPS-2/patches: newest evidence {newest.isoformat()}, 30 days old, frequency 7 d, grace 2 d; "
        f"stale since {since.isoformat()}"
    )
