from __future__ import annotations

import pytest

from audit_portal import migrate
from audit_portal.audit import keys
from audit_portal.db import make_engine
from tests.conftest import TEST_SECRET_KEY
from tests.support import fresh_database


@pytest.fixture
def committed_database(database_url, tmp_path):
    """A database of its own whose writes really commit (the CLI opens its own connection). Its
    engine writes the audit log with the key TEST_SECRET_KEY derives, as the CLI will when the
    test sets AUDIT_PORTAL_SECRET_KEY."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        keys.bind(engine, keys.derive_from_secret(TEST_SECRET_KEY))
        migrate.upgrade(engine)
        try:
            yield url, engine
        finally:
            engine.dispose()
