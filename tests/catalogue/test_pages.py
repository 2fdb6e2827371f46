"""The catalogue browser: framework pages, control and measure pages, and the search as you type."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from markupsafe import escape
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from audit_portal.catalogue import repository
from audit_portal.catalogue.schema import builtin_catalogue_paths, read_catalogue_file
from tests import factories

ROLES = ["admin", "it", "auditor", "management"]
FRAGMENT = {"HX-Request": "true"}


@pytest.fixture
def catalogue(session: Session) -> Session:
    return factories.load_catalogue(session, soa_defaults=True)


def escaped(text: str) -> str:
    """``text`` as the templates write it."""
    return str(escape(text))


@contextmanager
def counting_queries(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_can_browse_the_catalogue(catalogue, login_as, role: str) -> None:
    client = login_as(role)
    home = client.get("/catalogue")
    assert home.status_code == 303
    assert home.headers["location"] == "/catalogue/iso27001-2022"
    for url in (
        "/catalogue/iso27001-2022",
        "/catalogue/iso27001-2013",
        "/catalogue/annex2",
        "/catalogue/iso27001-2022/8.13",
        "/catalogue/iso27001-2013/A.12.3.1",
        "/catalogue/annex2/BCM-1",
        "/catalogue/search?q=backup",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "<html" in response.text
        assert 'href="/catalogue"' in response.text  # the section is in the main navigation


def test_the_2022_page_groups_controls_by_theme_with_their_control_type(catalogue, login_as) -> None:
    page = login_as("it").get("/catalogue/iso27001-2022").text
    for theme in ("Organizational controls", "People controls", "Physical controls", "Technological controls"):
        assert theme in page
    assert page.count('<tr id="control-') == 93 + 25  # Annex A and the clauses 4.1 to 10.2
    # 5.7 Threat intelligence is preventive, detective and corrective (27002 Table A.1).
    row = page[page.index('id="control-5.7"') : page.index('id="control-5.8"')]
    assert [chip in row for chip in (">preventive<", ">detective<", ">corrective<")] == [True] * 3
    # 8.13 names the 2013 control it replaces and the measures mapped to it.
    row = page[page.index('id="control-8.13"') : page.index('id="control-8.14"')]
    assert 'href="/catalogue/iso27001-2013/A.12.3.1"' in row
    assert 'href="/catalogue/annex2/BCM-1"' in row


def test_the_annex2_page_keeps_both_languages(catalogue, login_as) -> None:
    annex2 = next(read_catalogue_file(p) for p in builtin_catalogue_paths() if p.name == "annex2.yaml")
    page = login_as("management").get("/catalogue/annex2").text
    assert page.count('<tr id="control-') == 34
    for measure in annex2.controls:
        assert escaped(measure.title) in page
        assert measure.text_nl and escaped(measure.text_nl) in page
        assert measure.text and escaped(measure.text) in page
    assert escaped(annex2.framework.scope_nl or "") in page


def test_a_2022_control_shows_measures_predecessors_requirements_and_soa(catalogue, login_as, session) -> None:
    page = login_as("auditor").get("/catalogue/iso27001-2022/8.13").text
    assert escaped("8.13 requires backup copies to be tested regularly.") in page  # BCM-1's rationale
    assert 'href="/catalogue/iso27001-2013/A.12.3.1"' in page
    bcm1 = repository.control_by_ref(session, "annex2", "BCM-1")
    for requirement in repository.requirements_of_controls(session, [bcm1.id]):
        assert requirement.key in page
        assert escaped(requirement.auditor_expects) in page
    assert "every 90 days" in page and "manual upload" in page and "collector <span" in page
    assert 'id="soa"' in page and ">applicable<" in page
    assert 'href="/soa/8.13"' not in page  # only admins get the edit link


def test_a_control_new_in_2022_says_it_has_no_predecessor(catalogue, login_as) -> None:
    page = login_as("it").get("/catalogue/iso27001-2022/5.23").text
    assert "New in the 2022 edition" in page


def test_a_2013_control_names_its_2022_successors(catalogue, login_as) -> None:
    page = login_as("it").get("/catalogue/iso27001-2013/A.18.2.3").text
    assert "Replaced by" in page
    assert 'href="/catalogue/iso27001-2022/5.36"' in page
    assert 'href="/catalogue/iso27001-2022/8.8"' in page


def test_a_measure_shows_the_controls_it_implements_in_both_editions(catalogue, login_as) -> None:
    page = login_as("it").get("/catalogue/annex2/BCM-1").text
    assert "Controls it implements" in page
    assert 'href="/catalogue/iso27001-2022/8.13"' in page
    assert 'href="/catalogue/iso27001-2013/A.12.3.1"' in page
    assert "BCM-1/restore-test" in page


def test_the_admin_gets_a_link_to_edit_the_soa_entry(catalogue, login_as) -> None:
    assert 'href="/soa/8.13"' in login_as("admin").get("/catalogue/iso27001-2022/8.13").text


@pytest.mark.parametrize("url", ["/catalogue/iso27001-2023", "/catalogue/iso27001-2022/9.1", "/catalogue/annex2/5.1"])
def test_unknown_frameworks_and_controls_are_not_found(catalogue, login_as, url: str) -> None:
    assert login_as("it").get(url).status_code == 404


def test_search_for_htmx_returns_only_the_fragment(catalogue, login_as) -> None:
    response = login_as("auditor").get("/catalogue/search", params={"q": "backup"}, headers=FRAGMENT)
    assert response.status_code == 200
    assert "<html" not in response.text and "<nav" not in response.text
    assert 'href="/catalogue/iso27001-2022/8.13"' in response.text
    assert 'href="/catalogue/annex2/BCM-1"' in response.text
    assert 'href="/catalogue/iso27001-2022/5.1"' not in response.text
    assert "HX-Request" in response.headers["vary"]


def test_search_finds_ids_with_dots_and_titles_in_any_case(catalogue, login_as) -> None:
    client = login_as("it")
    by_id = client.get("/catalogue/search", params={"q": "A.12.3"}, headers=FRAGMENT).text
    assert 'href="/catalogue/iso27001-2013/A.12.3.1"' in by_id
    assert 'href="/catalogue/iso27001-2022/' not in by_id
    by_title = client.get("/catalogue/search", params={"q": "THREAT INTELLIGENCE"}, headers=FRAGMENT).text
    assert 'href="/catalogue/iso27001-2022/5.7"' in by_title


def test_search_without_htmx_is_a_full_page(catalogue, login_as) -> None:
    response = login_as("management").get("/catalogue/search", params={"q": "8.13"})
    assert "<html" in response.text
    assert 'href="/catalogue/iso27001-2022/8.13"' in response.text
    assert 'hx-trigger="input changed delay:250ms, search"' in response.text


def test_an_empty_search_is_an_empty_fragment_and_no_match_says_so(catalogue, login_as) -> None:
    client = login_as("it")
    assert client.get("/catalogue/search", params={"q": "  "}, headers=FRAGMENT).text.strip() == ""
    nothing = client.get("/catalogue/search", params={"q": "zzzz-no-such"}, headers=FRAGMENT).text
    assert "Nothing matches" in nothing


def test_framework_pages_take_the_same_number_of_queries_whatever_their_size(
    catalogue, login_as, engine: Engine
) -> None:
    client = login_as("it")
    client.get("/catalogue/annex2")  # the first request of a session also refreshes the session
    counts = {}
    for framework in ("iso27001-2022", "iso27001-2013", "annex2"):
        with counting_queries(engine) as statements:
            assert client.get(f"/catalogue/{framework}").status_code == 200
        counts[framework] = len(statements)
    assert len(set(counts.values())) == 1, counts


@pytest.mark.parametrize(
    "url", ["/catalogue/iso27001-2022", "/catalogue/iso27001-2022/8.13", "/catalogue/annex2/BCM-1"]
)
def test_htmx_requests_for_pages_get_the_content_block(catalogue, login_as, url: str) -> None:
    response = login_as("it").get(url, headers=FRAGMENT)
    assert response.status_code == 200
    assert "<html" not in response.text and 'href="/catalogue/' in response.text
