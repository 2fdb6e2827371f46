"""Helpers the tests share that are not fixtures."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from audit_portal.db import make_engine

POSTGRES_URL = os.environ.get("AUDIT_PORTAL_TEST_DATABASE_URL", "")


@contextmanager
def fresh_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """An empty database of ``backend``: a new SQLite file, or a new PostgreSQL schema."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / f'{uuid.uuid4().hex}.db'}"
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


RECORDINGS = Path(__file__).resolve().parent / "collectors" / "recordings"


def reading_recordings(settings):  # type: ignore[no-untyped-def]
    """The test settings with the recorded tool outputs among the folders host-managed collector
    instances may read (the operator's AUDIT_PORTAL_COLLECTOR_PATH_ROOTS)."""
    return settings.model_copy(update={"collector_path_roots": (*settings.collector_path_roots, RECORDINGS.resolve())})
