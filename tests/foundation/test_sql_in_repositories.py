"""SQL lives in repositories: a module outside them that builds or runs a statement fails here.

A repository is a module named ``repository.py`` or ``*_repository.py``. Services, routes, views,
jobs and the CLI call repository functions; they may still add, change and delete ORM objects
(the unit of work), but they never write a query. The few modules below are the connection
layer or build SQL expressions for repositories, and say why."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from sqlmodel import SQLModel

PACKAGE = Path(__file__).resolve().parents[2] / "audit_portal"

# Calls that build a statement, and session or connection methods that run one.
STATEMENT_BUILDERS = {"select", "insert", "update", "delete", "text", "union_all", "union", "exists"}
STATEMENT_RUNNERS = {"execute", "scalars", "scalar", "exec", "exec_driver_sql", "query"}

NOT_REPOSITORIES_BUT_ALLOWED = {
    "db.py": "the connection layer: SQLite pragmas and the planner statistics on connect",
    "sqlite_writes.py": "the connection layer: the cursor that queues SQLite writers",
    "search.py": "SQL expression elements (full-text matching per dialect) that repositories use",
}


def is_repository(path: Path) -> bool:
    return path.name == "repository.py" or path.name.endswith("_repository.py")


def sql_in(source: str) -> list[str]:
    """Line and call of every statement built or run in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if isinstance(function, ast.Name) and function.id in STATEMENT_BUILDERS:
            found.append(f"{node.lineno}: {function.id}(...)")
        elif isinstance(function, ast.Attribute) and function.attr in STATEMENT_RUNNERS:
            found.append(f"{node.lineno}: .{function.attr}(...)")
        elif isinstance(function, ast.Attribute) and function.attr == "get" and _is_a_session(function.value):
            found.append(f"{node.lineno}: session.get(...)")
    return found


def _is_a_session(node: ast.expr) -> bool:
    """``session``, ``connection`` or ``<anything>.session``: the names the code gives them."""
    if isinstance(node, ast.Name):
        return node.id in {"session", "connection"}
    return isinstance(node, ast.Attribute) and node.attr == "session"


def modules_outside_repositories() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.parts
        and not is_repository(path)
        and path.relative_to(PACKAGE).as_posix() not in NOT_REPOSITORIES_BUT_ALLOWED
    ]


def test_no_module_outside_a_repository_builds_or_runs_sql() -> None:
    offenders = {
        path.relative_to(PACKAGE.parent).as_posix(): hits
        for path in modules_outside_repositories()
        if (hits := sql_in(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "move these queries into the owning domain's repository"


def test_the_allowed_modules_exist_and_the_walk_sees_the_package() -> None:
    for name in NOT_REPOSITORIES_BUT_ALLOWED:
        assert (PACKAGE / name).is_file(), name
    walked = {path.relative_to(PACKAGE).as_posix() for path in modules_outside_repositories()}
    assert {"evidence/service.py", "evidence/retention.py", "health/service.py", "demo.py"} <= walked


@pytest.mark.parametrize(
    "source",
    [
        "rows = session.execute(select(Evidence).where(Evidence.id == 1)).all()",
        "session.scalars(query)",
        "run = session.get(CollectorRun, run_id)",
        "entry = self.session.get(SoaEntry, control_id)",
        "connection.exec_driver_sql('DELETE FROM evidence')",
        "statement = delete(Evidence)",
        "clause = text('SELECT 1')",
    ],
)
def test_the_scan_sees_a_query(source: str) -> None:
    assert sql_in(source)


@pytest.mark.parametrize(
    "source",
    [
        "session.add(row)",
        "session.flush()",
        "settings.get('key')",
        "selected = choose(items)",
        "repository.expired_evidence(session, today)",
    ],
)
def test_the_scan_leaves_the_unit_of_work_and_plain_calls_alone(source: str) -> None:
    assert sql_in(source) == []


# The read models of the composite views (docs/architecture.md, "Table ownership") read these
# tables of other domains in their joins. Any other crossing fails the test below: a new query on
# another domain's table goes to the owner's repository.
CROSSINGS = {
    "coverage/repository.py": {
        "control",
        "control_mapping",
        "evidence",
        "evidence_requirement",
        "evidence_review",
        "evidence_signoff",
        "finding",
        "requirement",
        "requirement_switch_off",
        "soa_entry",
    },
    "dashboard/repository.py": {
        "collector_instance",
        "collector_run",
        "control_group",
        "engagement",
        "evidence",
        "evidence_request",
        "finding",
    },
    "engagements/occurrence_repository.py": {"collector_run", "evidence", "evidence_requirement"},
    "export/repository.py": {
        "control",
        "control_mapping",
        "evidence",
        "evidence_control",
        "evidence_requirement",
        "evidence_review",
        "finding",
        "finding_control",
        "soa_entry",
        "user_account",
    },
}


def foreign_tables(path: Path) -> set[str]:
    """The tables of other domains whose models a repository imports (and so queries)."""
    return set(models_of_other_domains(path).values())


def test_repositories_read_other_domains_tables_only_where_recorded() -> None:
    repositories = [path for path in sorted(PACKAGE.rglob("*.py")) if is_repository(path)]
    crossings = {
        path.relative_to(PACKAGE).as_posix(): tables for path in repositories if (tables := foreign_tables(path))
    }
    assert crossings == CROSSINGS, "query the owner's repository instead (or take a crossing you removed off the list)"


def test_every_table_has_one_owner_in_the_architecture_document() -> None:
    import audit_portal.model_registry  # noqa: F401  (every table in the metadata)

    document = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = document.split("## Table ownership", 1)[1].split("\n## ", 1)[0]
    owners: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] not in ("domain", "---"):
            for table in cells[1].split(","):
                owners.setdefault(table.strip(), []).append(cells[0])
    defined_by = {
        mapper.local_table.name: mapper.class_.__module__.split(".")[1] for mapper in SQLModel._sa_registry.mappers
    }
    assert {table: owners.get(table) for table in defined_by if owners.get(table) != [defined_by[table]]} == {}
    assert set(owners) - set(defined_by) == set(), "the document names a table that does not exist"


def written_models(source: str) -> set[str]:
    """Names of the models a module writes: ``insert``/``update``/``delete`` targets and the
    rows it adds (``session.add(Model(...))``, ``session.add_all(Model(...) for ...)``)."""
    written = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if isinstance(function, ast.Name) and function.id in {"insert", "update", "delete"} and node.args:
            if isinstance(node.args[0], ast.Name):
                written.add(node.args[0].id)
        elif isinstance(function, ast.Attribute) and function.attr in {"add", "add_all"} and node.args:
            written |= {
                inner.func.id
                for inner in ast.walk(node.args[0])
                if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id[:1].isupper()
            }
    return written


def models_of_other_domains(path: Path) -> dict[str, str]:
    """Imported name -> table, for the models of other domains a module imports."""
    domain = path.relative_to(PACKAGE).parts[0]
    found = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("audit_portal.")):
            continue
        parts = node.module.split(".")
        if len(parts) < 3 or parts[1] == domain or not (parts[2] == "models" or parts[2].endswith("_models")):
            continue
        module = importlib.import_module(node.module)
        for alias in node.names:
            table = getattr(getattr(module, alias.name), "__table__", None)
            if table is not None:
                found[alias.asname or alias.name] = table.name
    return found


def test_a_repository_writes_only_its_own_domains_tables() -> None:
    """The crossings above are reads: the owner alone inserts, changes and deletes its rows.
    (The retention purge in ``evidence/repository.py`` clears references to purged evidence in
    whatever table holds one, found from the foreign keys in the metadata, not by model.)"""
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if not is_repository(path):
            continue
        foreign = models_of_other_domains(path)
        if written := sorted(
            foreign[name] for name in written_models(path.read_text(encoding="utf-8")) if name in foreign
        ):
            offenders[path.relative_to(PACKAGE).as_posix()] = written
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "session.execute(delete(Finding).where(Finding.id == 1))",
        "connection.execute(insert(Evidence), rows)",
        "session.add(Finding(title='x'))",
        "session.add_all(FindingControl(finding_id=1, control_id=c) for c in ids)",
        "statement = update(Evidence).values(title='x')",
    ],
)
def test_the_write_scan_sees_a_write(source: str) -> None:
    assert written_models(source) & {"Finding", "Evidence", "FindingControl"}
