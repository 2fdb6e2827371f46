"""The catalogue cache: coverage stops re-reading the catalogue on every request, and a new load
of the catalogue (a new catalogue version) is seen at once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import event

from audit_portal.catalogue.schema import builtin_catalogue_paths
from audit_portal.catalogue.service import load_catalogue
from audit_portal.coverage.service import compute_coverage

OLD_TITLE = "title: Approved information security policy\n"
NEW_TITLE = "title: Signed information security policy\n"


def builtin(name: str) -> Path:
    return next(path for path in builtin_catalogue_paths() if path.name == name)


def coverage(session):  # type: ignore[no-untyped-def]
    return compute_coverage(
        session,
        framework_key="iso27001-2022",
        period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 31),
        as_of=date(2026, 6, 1),
    )


def requirement_titles(report) -> set[str]:  # type: ignore[no-untyped-def]
    return {r.title for c in report.controls for r in c.requirements}


class StatementLog:
    def __init__(self, session) -> None:  # type: ignore[no-untyped-def]
        self.engine = session.get_bind().engine
        self.statements: list[str] = []

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self.statements

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        self.statements.append(" ".join(statement.split()).lower())


def reads_the_catalogue(statements: list[str]) -> bool:
    return any("from control " in s or "from requirement " in s or "from control_mapping" in s for s in statements)


def test_second_computation_reads_no_catalogue_rows(session):
    load_catalogue(session)
    first = coverage(session)
    with StatementLog(session) as statements:
        second = coverage(session)
    assert statements, "coverage still runs its evidence queries"
    assert not reads_the_catalogue(statements)
    assert second == first


def test_a_new_catalogue_load_is_seen_at_once(session, tmp_path):
    load_catalogue(session)
    assert "Approved information security policy" in requirement_titles(coverage(session))
    changed = tmp_path / "annex2.yaml"
    text = builtin("annex2.yaml").read_text()
    assert OLD_TITLE in text
    changed.write_text(text.replace(OLD_TITLE, NEW_TITLE))
    assert {r.key: r.status for r in load_catalogue(session, [changed])}["annex2"] == "updated"

    titles = requirement_titles(coverage(session))
    assert "Signed information security policy" in titles
    assert "Approved information security policy" not in titles


def test_a_load_by_another_process_is_seen_at_once(session):
    """Another process (the CLI) cannot warm this process's cache; the new catalogue_load row
    it commits is what makes this process rebuild."""
    from sqlalchemy import update

    from audit_portal.catalogue.models import CatalogueLoad, Requirement
    from audit_portal.clock import utcnow

    load_catalogue(session)
    assert "Approved information security policy" in requirement_titles(coverage(session))
    # What that process's load writes, without going through this process's load_catalogue.
    session.execute(
        update(Requirement)
        .where(Requirement.key == "POL-1/policy-document")
        .values(title="Signed information security policy")
    )
    session.add(
        CatalogueLoad(
            framework_key="annex2",
            version="2",
            content_sha256="f" * 64,
            source_name="annex2.yaml",
            loaded_at=utcnow(),
            summary={},
        )
    )
    session.flush()
    with StatementLog(session) as statements:
        titles = requirement_titles(coverage(session))
    assert reads_the_catalogue(statements)
    assert "Signed information security policy" in titles


def test_cached_rows_survive_the_session_that_loaded_them(session, engine):
    """Cached controls are detached copies: a commit (which expires a session's objects) or a
    closed session does not break the next request's use of them."""
    from sqlmodel import Session

    load_catalogue(session)
    session.commit()
    first = coverage(session)
    with Session(bind=session.connection(), expire_on_commit=True) as other:
        again = coverage(other)
    session.commit()
    assert again == first
    assert [c.ref for c in coverage(session).controls] == [c.ref for c in first.controls]
