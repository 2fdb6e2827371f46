"""Loading catalogue files into the database: complete, idempotent, and all-or-nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from audit_portal.catalogue.models import CatalogueLoad, Control, ControlMapping, Requirement
from audit_portal.catalogue.schema import CatalogueFormatError, builtin_catalogue_paths
from audit_portal.catalogue.service import load_catalogue


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def builtin(name: str) -> Path:
    return next(path for path in builtin_catalogue_paths() if path.name == name)


def test_builtin_catalogue_loads_completely(session):
    results = {r.key: r for r in load_catalogue(session)}
    assert {key: r.status for key, r in results.items()} == {
        "annex2": "created",
        "iso27001-2013": "created",
        "iso27001-2022": "created",
    }
    assert count(session, Control, Control.framework_key == "iso27001-2022", Control.kind == "controls") == 93
    assert count(session, Control, Control.framework_key == "iso27001-2013", Control.kind == "controls") == 114
    # clauses 4.1 to 10.2: 25 in 2022 (6.3 is new), 24 in 2013, each marked as a clause
    assert count(session, Control, Control.framework_key == "iso27001-2022", Control.kind == "clauses") == 25
    assert count(session, Control, Control.framework_key == "iso27001-2013", Control.kind == "clauses") == 24
    # the requirement library: every control and clause of both editions has a requirement of its own
    with_requirement = select(Requirement.control_id).distinct()
    for framework in ("iso27001-2022", "iso27001-2013"):
        assert count(session, Control, Control.framework_key == framework, Control.id.not_in(with_requirement)) == 0
    assert count(session, Control, Control.framework_key == "annex2") == 34
    measure_requirements = select(Requirement.control_id).distinct()
    assert count(session, Control, Control.framework_key == "annex2", Control.id.in_(measure_requirements)) == 34
    successors = count(session, ControlMapping, ControlMapping.kind == "successor")
    assert successors >= 114
    # 2013 control A.9.4.2 (secure log-on procedures) has 2022 control 8.5 as its successor.
    source = session.scalars(
        select(Control).where(Control.framework_key == "iso27001-2013", Control.ref == "A.9.4.2")
    ).one()
    target_refs = session.scalars(
        select(Control.ref)
        .join(ControlMapping, ControlMapping.target_id == Control.id)
        .where(ControlMapping.source_id == source.id)
    ).all()
    assert "8.5" in target_refs


def test_loading_twice_changes_nothing(session):
    load_catalogue(session)
    loads_before = count(session, CatalogueLoad)
    mappings_before = session.execute(
        select(ControlMapping.id, ControlMapping.source_id, ControlMapping.target_id)
    ).all()
    second = load_catalogue(session)
    assert {r.status for r in second} == {"unchanged"}
    assert count(session, CatalogueLoad) == loads_before
    assert (
        session.execute(select(ControlMapping.id, ControlMapping.source_id, ControlMapping.target_id)).all()
        == mappings_before
    )


def test_changed_file_updates_titles_and_records_the_version(session, tmp_path):
    load_catalogue(session)
    changed = tmp_path / "annex2.yaml"
    changed.write_text(
        builtin("annex2.yaml")
        .read_text()
        .replace(
            "title: An information security policy exists, in line with business and legal requirements",
            "title: An approved information security policy exists",
        )
    )
    results = {r.key: r for r in load_catalogue(session, [changed])}
    assert results["annex2"].status == "updated"
    assert results["iso27001-2022"].status == "unchanged"
    measure = session.scalars(select(Control).where(Control.framework_key == "annex2", Control.ref == "POL-1")).one()
    assert measure.title == "An approved information security policy exists"
    assert count(session, CatalogueLoad, CatalogueLoad.framework_key == "annex2") == 2
    # mappings were rebuilt, not duplicated
    assert count(session, ControlMapping, ControlMapping.source_id == measure.id) >= 2
    assert count(session, ControlMapping, ControlMapping.kind == "maps_to") == sum(
        1 for _ in builtin("annex2.yaml").read_text().splitlines() if _.strip().startswith("- framework:")
    )


def test_removed_measure_is_retired_not_deleted(session, tmp_path):
    load_catalogue(session)
    text = builtin("annex2.yaml").read_text()
    start = text.index("- id: SUP-3")
    trimmed = tmp_path / "annex2.yaml"
    trimmed.write_text(text[:start])
    load_catalogue(session, [trimmed])
    measure = session.scalars(select(Control).where(Control.framework_key == "annex2", Control.ref == "SUP-3")).one()
    assert measure.retired_at is not None
    requirement = session.scalars(select(Requirement).where(Requirement.control_id == measure.id)).first()
    assert requirement is not None and requirement.retired_at is not None


def test_broken_file_is_refused_with_its_location_and_writes_nothing(session, tmp_path):
    broken = tmp_path / "mine.yaml"
    broken.write_text(
        builtin("annex2.yaml").read_text().replace("key: annex2", "key: mine").replace("id: '5.1'", "id: '5.99'", 1)
    )
    with pytest.raises(CatalogueFormatError) as raised:
        load_catalogue(session, [broken])
    assert str(raised.value).startswith("mine.yaml:")
    assert "unknown control '5.99'" in str(raised.value)
    assert count(session, Control) == 0


def test_cli_reports_the_location_and_exits_non_zero(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("format: audit-portal-catalogue/1\nframework: [unclosed\n")
    env = {"AUDIT_PORTAL_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    cli = str(Path(sys.executable).with_name("audit-portal"))
    subprocess.run([cli, "migrate"], env=env, check=True, capture_output=True)
    result = subprocess.run([cli, "catalogue", "load", str(broken)], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error: broken.yaml:")
    loaded = subprocess.run([cli, "catalogue", "load"], env=env, capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert "iso27001-2022" in loaded.stdout and "created" in loaded.stdout
    again = subprocess.run([cli, "catalogue", "load"], env=env, capture_output=True, text=True)
    assert again.stdout.count("unchanged") == 3
