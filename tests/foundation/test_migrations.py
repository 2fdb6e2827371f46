from __future__ import annotations

from sqlalchemy import inspect
from sqlmodel import SQLModel

import audit_portal.model_registry  # noqa: F401
from audit_portal import migrate, search
from audit_portal.db import make_engine
from tests.support import fresh_database


def test_upgrade_from_empty_to_head_and_back_down(database_url, tmp_path):
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            assert migrate.is_up_to_date(engine)
            tables = set(inspect(engine).get_table_names())
            assert {table.name for table in SQLModel.metadata.sorted_tables} <= tables

            migrate.downgrade(engine, "base")
            assert migrate.current_revisions(engine) == set()
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

            migrate.upgrade(engine)
            assert migrate.is_up_to_date(engine)
        finally:
            engine.dispose()


def test_models_and_migrations_agree(engine):
    """Autogenerate finds nothing to do at head: a model change without a migration fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def described_by_models(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
        # The search's FTS5 tables (SQLite) and expression indexes (PostgreSQL) exist only in the
        # migration: SQLAlchemy can neither declare an FTS5 table nor reflect an expression index.
        return not (reflected and search.is_search_object(name))

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": False, "include_object": described_by_models}
        )
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_revision_ids_fit_alembic_version_column():
    """alembic_version.version_num is VARCHAR(32) on PostgreSQL; SQLite would not notice."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert [rev.revision for rev in script.walk_revisions() if len(rev.revision) > 32] == []
    assert len(script.get_heads()) == 1
