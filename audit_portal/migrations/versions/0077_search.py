"""search: full-text and trigram indexes (PostgreSQL), FTS5 tables kept by triggers (SQLite)

PostgreSQL: the extensions ``unaccent`` and ``pg_trgm`` (from postgresql-contrib; creating them
needs a role allowed to, see docs/deployment.md), the text search configurations
``portal_dutch`` and ``portal_english`` (the built-in ones with ``unaccent`` before the stemmer),
the immutable function ``portal_fold`` (lower case, accents removed) and GIN indexes on the
searchable text of evidence, controls and requirements.

SQLite: FTS5 tables with external content (``evidence_fts``, ``control_fts``,
``requirement_fts``), filled from their tables and kept in step by triggers. A later migration
that rebuilds one of those tables with ``batch_alter_table`` drops its triggers with it and must
create them again.

Revision ID: 0077_search
Revises: 0071_performance
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0077_search"
down_revision = "0075_coverage_rollup"
branch_labels = None
depends_on = None

# The searchable text per table; audit_portal/search.py repeats these expressions verbatim,
# because PostgreSQL uses an expression index only for the very expression it was built on.
DOCUMENTS = {
    "evidence": "coalesce(evidence.title, '') || ' ' || coalesce(evidence.description, '') || ' ' || "
    "coalesce(evidence.original_filename, '')",
    "control": "coalesce(control.ref, '') || ' ' || coalesce(control.title, '') || ' ' || coalesce(control.title_nl, '') || ' ' || "
    "coalesce(control.text, '') || ' ' || coalesce(control.text_nl, '')",
    "requirement": "coalesce(requirement.key, '') || ' ' || coalesce(requirement.title, '') || ' ' || "
    "coalesce(requirement.auditor_expects, '')",
}
FTS_COLUMNS = {
    "evidence": ("title", "description", "original_filename"),
    "control": ("ref", "title", "title_nl", "text", "text_nl"),
    "requirement": ("key", "title", "auditor_expects"),
}
# Any constant will do: it serialises the CREATE EXTENSION of migrations running at once (two
# test workers, two replicas starting), which would otherwise race on the extension's name.
EXTENSION_LOCK = 770077


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in DOCUMENTS:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_trgm")
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_fts")
        op.execute("DROP FUNCTION IF EXISTS portal_fold(text)")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS portal_dutch")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS portal_english")
        # The extensions stay: they belong to the database, and other schemas may use them.
        return
    for table in FTS_COLUMNS:
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{event}")
        op.execute(f"DROP TABLE IF EXISTS {table}_fts")


def _upgrade_postgresql() -> None:
    bind = op.get_bind()
    op.execute(f"SELECT pg_advisory_xact_lock({EXTENSION_LOCK})")
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    # Where the extensions live (public, unless someone installed them elsewhere earlier): every
    # reference below names that schema, so the portal's own search_path does not matter.
    schemas: dict[str, str] = dict(
        bind.exec_driver_sql(
            "SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname IN ('unaccent', 'pg_trgm')"
        ).all()
    )
    unaccent, trgm = _quoted(schemas["unaccent"]), _quoted(schemas["pg_trgm"])
    # unaccent() is only STABLE (its dictionary could change); an index needs an IMMUTABLE
    # function, so this one pins the dictionary.
    op.execute(
        "CREATE FUNCTION portal_fold(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS "
        f"$$ SELECT lower({unaccent}.unaccent('{unaccent}.unaccent'::regdictionary, $1)) $$"
    )
    for language in ("dutch", "english"):
        op.execute(f"CREATE TEXT SEARCH CONFIGURATION portal_{language} (COPY = pg_catalog.{language})")
        op.execute(
            f"ALTER TEXT SEARCH CONFIGURATION portal_{language} ALTER MAPPING FOR hword, hword_part, word "
            f"WITH {unaccent}.unaccent, {language}_stem"
        )
    for table, document in DOCUMENTS.items():
        op.execute(
            f"CREATE INDEX ix_{table}_search_fts ON {table} USING gin "
            f"((to_tsvector('portal_dutch', {document}) || to_tsvector('portal_english', {document})))"
        )
        op.execute(
            f"CREATE INDEX ix_{table}_search_trgm ON {table} USING gin (portal_fold({document}) {trgm}.gin_trgm_ops)"
        )


def _upgrade_sqlite() -> None:
    for table, columns in FTS_COLUMNS.items():
        listed = ", ".join(columns)
        new = ", ".join(f"new.{column}" for column in columns)
        old = ", ".join(f"old.{column}" for column in columns)
        op.execute(
            f"CREATE VIRTUAL TABLE {table}_fts USING fts5({listed}, content='{table}', content_rowid='id', "
            "tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(f"INSERT INTO {table}_fts({table}_fts) VALUES ('rebuild')")
        op.execute(
            f"CREATE TRIGGER {table}_fts_insert AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {table}_fts(rowid, {listed}) VALUES (new.id, {new}); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_fts_delete AFTER DELETE ON {table} BEGIN "
            f"INSERT INTO {table}_fts({table}_fts, rowid, {listed}) VALUES ('delete', old.id, {old}); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_fts_update AFTER UPDATE OF {listed} ON {table} BEGIN "
            f"INSERT INTO {table}_fts({table}_fts, rowid, {listed}) VALUES ('delete', old.id, {old}); "
            f"INSERT INTO {table}_fts(rowid, {listed}) VALUES (new.id, {new}); END"
        )


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
