"""The test plugin, installed for the duration of a test as a distribution on sys.path (a
``*.dist-info`` folder with its entry points), so nothing is left in the virtualenv."""

from __future__ import annotations

import shutil
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

PLUGIN_SOURCE = Path(__file__).parent / "plugin_pkg"


def install_plugin(target: Path) -> Path:
    project = tomllib.loads((PLUGIN_SOURCE / "pyproject.toml").read_text())["project"]
    shutil.copytree(PLUGIN_SOURCE / "audit_portal_test_plugin", target / "audit_portal_test_plugin")
    dist_info = target / f"audit_portal_test_plugin-{project['version']}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = ["[audit_portal.collectors]"]
    lines += [f"{name} = {target_}" for name, target_ in project["entry-points"]["audit_portal.collectors"].items()]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return target


@pytest.fixture
def plugin_path(tmp_path: Path) -> Iterator[Path]:
    site = install_plugin(tmp_path / "site")
    sys.path.insert(0, str(site))
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        for module in [m for m in sys.modules if m.startswith("audit_portal_test_plugin")]:
            del sys.modules[module]


@pytest.fixture
def scope(session):  # type: ignore[no-untyped-def]
    """The unit-of-work factory the runner takes, bound to the test's rolled-back session."""
    from contextlib import contextmanager

    @contextmanager
    def same_session():  # type: ignore[no-untyped-def]
        yield session
        session.flush()

    return same_session


@pytest.fixture
def own_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of the current backend, for code that commits (the scheduler,
    the CLI in subprocesses): nothing it writes reaches the shared test database."""
    from audit_portal import migrate
    from audit_portal.db import make_engine
    from tests.support import fresh_database

    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
        yield url


@pytest.fixture
def own_engine(own_database: str):  # type: ignore[no-untyped-def]
    from audit_portal.db import make_engine

    engine = make_engine(own_database)
    yield engine
    engine.dispose()
