"""Evidence search on both backends: the list's search term (newest first, keyset paging intact),
the ranked candidates an answer to a request links, and safe highlighting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from audit_portal.evidence import repository
from audit_portal.evidence.models import Evidence
from audit_portal.evidence.repository import ListQuery
from audit_portal.search import Search

BASE = datetime(2026, 3, 1, tzinfo=UTC)


def add_item(
    session: Session, title: str, *, hours: int = 0, filename: str = "item.pdf", description: str | None = None
) -> Evidence:
    item = Evidence(
        title=title,
        description=description,
        source_kind="upload",
        collected_at=BASE + timedelta(hours=hours),
        original_filename=filename,
        content_type="application/pdf",
        size=100,
        sha256=f"{hours:064d}",
        store_key=f"k{hours}-{title[:20]}",
        created_at=BASE,
    )
    session.add(item)
    session.flush()
    return item


def found(session: Session, typed: str, **query: object) -> list[str]:
    search = Search.parse(typed)
    assert search is not None
    return [e.title for e in repository.list_evidence(session, ListQuery(search=search, **query))]  # type: ignore[arg-type]


@pytest.fixture
def items(session: Session) -> dict[str, Evidence]:
    return {
        "inventory": add_item(session, "Overzicht bedrijfsmiddelen, geïnventariseerd per afdeling", hours=1),
        "measures": add_item(session, "Beveiligingsmaatregelen werkplekken 2026", hours=2, filename="maatregelen.docx"),
        "firewall": add_item(
            session,
            "Firewall rule review Q1",
            hours=3,
            filename="fw-rules-q1.xlsx",
            description="Reviewed by the network team; two rules removed.",
        ),
        "policies": add_item(session, "Access policies signed", hours=4, filename="ACC-2 accounts export.csv"),
    }


@pytest.mark.parametrize("typed", ["geinventariseerd", "GEÏNVENTARISEERD", "Geinvent"])
def test_dutch_words_with_or_without_accents(session, items, typed):
    assert found(session, typed) == [items["inventory"].title]


def test_a_word_finds_the_compound_it_begins_in_any_case(session, items):
    assert found(session, "Beveiliging") == [items["measures"].title]


def test_english_words_find_titles_descriptions_and_file_names(session, items):
    assert found(session, "firewall review") == [items["firewall"].title]
    assert found(session, "removed") == [items["firewall"].title]  # in the description only
    assert found(session, "fw-rules") == [items["firewall"].title]  # in the file name only


def test_requirement_ids_and_item_numbers(session, items):
    assert found(session, "ACC-2") == [items["policies"].title]
    assert found(session, str(items["firewall"].id)) == [items["firewall"].title]
    assert found(session, f"#{items['measures'].id}") == [items["measures"].title]


def test_no_match_is_empty(session, items):
    assert found(session, "zzqxv") == []
    assert found(session, "firewall zzqxv") == []


def test_keyset_paging_walks_the_matches_only(session):
    matching = [add_item(session, f"Back-up restore test {n}", hours=n // 3) for n in range(40)]
    for n in range(40):
        add_item(session, f"Patch report {n}", hours=n // 3)
    search = Search.parse("restore")
    seen: list[int] = []
    after = None
    while True:
        page = repository.list_evidence(session, ListQuery(search=search, after=after, limit=7))
        if not page:
            break
        seen.extend(e.id for e in page)  # type: ignore[misc]
        after = (page[-1].collected_at, page[-1].id)
    newest_first = sorted(matching, key=lambda e: (e.collected_at, e.id), reverse=True)
    assert seen == [e.id for e in newest_first]


def test_candidates_are_ranked_the_named_item_first(session, items):
    older_title_match = add_item(session, "Firewall", hours=0)
    ranked = repository.search_evidence(session, Search.parse("firewall"))  # type: ignore[arg-type]
    assert {e.id for e in ranked} == {items["firewall"].id, older_title_match.id}
    by_number = repository.search_evidence(session, Search.parse(str(items["policies"].id)))  # type: ignore[arg-type]
    assert by_number[0].id == items["policies"].id


def test_superseded_items_are_no_candidates(session, items):
    items["firewall"].superseded_at = BASE
    session.flush()
    assert repository.search_evidence(session, Search.parse("firewall")) == []  # type: ignore[arg-type]


def test_a_changed_title_is_searched_by_its_new_words(session, items):
    # The SQLite triggers keep the FTS table in step with updates, as PostgreSQL's index does.
    items["firewall"].title = "Perimeter rule review Q1"
    session.flush()
    assert found(session, "perimeter") == [items["firewall"].title]
    assert found(session, "firewall") == []
    session.delete(items["measures"])
    session.flush()
    assert found(session, "beveiliging") == []


def test_the_list_page_marks_matches_and_escapes_titles(session, catalogue, login_as):
    add_item(session, "<script>alert('firewall')</script> export", hours=5)
    add_item(session, "Awareness attendance", hours=6)
    session.commit()
    page = login_as("it").get("/evidence", params={"q": "firewall"})
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#39;<mark>firewall</mark>&#39;)&lt;/script&gt; export" in page.text
    assert "Awareness attendance" not in page.text
    assert 'name="q" value="firewall"' in page.text
