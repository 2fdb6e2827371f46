"""The catalogue search on both backends: Dutch and English words with or without accents, ids,
requirement keys and texts, ranking, and highlighting that never trusts the catalogue's text."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session

from audit_portal.catalogue import presenters, repository
from audit_portal.catalogue.models import Control
from audit_portal.search import Search
from tests import factories

FRAGMENT = {"HX-Request": "true"}


@pytest.fixture
def catalogue(session: Session) -> Session:
    return factories.load_catalogue(session, soa_defaults=True)


def refs(results: presenters.SearchResults) -> list[str]:
    return [f"{hit.control.framework_key}:{hit.control.ref}" for hit in results.hits]


def add_measure(session: Session, ref: str, *, title: str, text_nl: str = "") -> Control:
    measure = Control(
        framework_key="annex2", ref=ref, group_key="assets", title=title, text_nl=text_nl or None, position=999
    )
    session.add(measure)
    session.flush()
    return measure


@pytest.mark.parametrize("typed", ["geinventariseerd", "GEÏNVENTARISEERD", "geïnventariseerd", "Geinventaris"])
def test_dutch_words_with_or_without_accents_find_the_dutch_measure(session, catalogue, typed):
    add_measure(
        session,
        "AST-9",
        title="Inventory of information assets",
        text_nl="Alle bedrijfsmiddelen zijn geïnventariseerd en hebben een eigenaar.",
    )
    assert "annex2:AST-9" in refs(presenters.search(session, typed))


def test_a_word_finds_the_compound_it_begins(session, catalogue):
    # "beveiligingsmaatregelen" (security measures) is one Dutch word; its first part finds it.
    found = refs(presenters.search(session, "Beveiliging"))
    assert "annex2:AST-1" in found
    assert "annex2:AST-1" in refs(presenters.search(session, "beveiligingsmaatregelen"))


def test_the_shipped_dutch_texts_are_found_without_their_accents(session, catalogue):
    # ACC-1's Dutch text: "... maatregelen geïmplementeerd tegen misbruik en aanvallen."
    assert "annex2:ACC-1" in refs(presenters.search(session, "geimplementeerd misbruik"))


def test_english_words_find_english_texts_in_any_case(session, catalogue):
    found = refs(presenters.search(session, "THREAT intelligence"))
    assert found[0] == "iso27001-2022:5.7"
    # A word of the control's text (not its title): "portable and desktop computers".
    assert "annex2:AST-1" in refs(presenters.search(session, "portable desktop"))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("8.20", "iso27001-2022:8.20"),
        ("5.15", "iso27001-2022:5.15"),
        ("A.5.15", "iso27001-2022:5.15"),  # how people cite the 2022 Annex A, whose refs lack the "A."
        ("a.9.2.1", "iso27001-2013:A.9.2.1"),
        ("ACC-2", "annex2:ACC-2"),
    ],
)
def test_ids_with_dots_find_their_control_first(session, catalogue, typed, expected):
    assert refs(presenters.search(session, typed))[0] == expected


def test_requirement_keys_and_texts_find_their_control_with_the_requirement(session, catalogue):
    results = presenters.search(session, "ACC-2/accounts")
    assert refs(results)[0] == "annex2:ACC-2"
    (requirement,) = [found for found in results.hits[0].requirements if found.requirement.key == "ACC-2/accounts"]
    assert "<mark>" in str(requirement.key)
    # What an auditor expects is searched too: HR-3/awareness expects "an attendance record".
    attendance = presenters.search(session, "attendance")
    assert "annex2:HR-3" in refs(attendance)
    hit = next(hit for hit in attendance.hits if hit.control.ref == "HR-3")
    assert any("<mark>attendance</mark>" in str(found.expects) for found in hit.requirements)


def test_nothing_matching_returns_nothing(session, catalogue):
    assert presenters.search(session, "zzqxv-no-such-word").hits == []
    assert presenters.search(session, "  ").hits == []
    assert repository.search_controls(session, Search.parse("zzqxv")) == []  # type: ignore[arg-type]


def test_highlighting_escapes_the_text_before_marking_it(session, catalogue, login_as):
    add_measure(session, "XSS-1", title="<script>alert('beveiliging')</script> rules")
    session.commit()
    page = login_as("it").get("/catalogue/search", params={"q": "beveiliging"}, headers=FRAGMENT).text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;<mark>beveiliging</mark>&#39;)&lt;/script&gt; rules" in page


def test_the_page_marks_matches_in_dutch_and_english_titles(session, catalogue, login_as):
    page = login_as("auditor").get("/catalogue/search", params={"q": "toegang"}, headers=FRAGMENT).text
    assert 'href="/catalogue/annex2/ACC-2"' in page
    assert re.search(r"<mark>[Tt]oegang</mark>", page)
    assert "best first" in page
