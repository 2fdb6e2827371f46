"""Health of what the portal depends on: the database and the evidence store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from audit_portal.migrate import current_revisions
from evidence_store import ObjectStore, StoreError


@dataclass(frozen=True)
class ComponentHealth:
    name: str
    ok: bool
    detail: str


def database_health(engine: Engine) -> ComponentHealth:
    try:
        revisions = current_revisions(engine)
    except Exception as error:  # any driver error means "down"; the message says which
        return ComponentHealth("database", False, _first_line(error))
    if not revisions:
        return ComponentHealth("database", False, "no schema: run `audit-portal migrate`")
    return ComponentHealth("database", True, f"{engine.dialect.name}, schema {', '.join(sorted(revisions))}")


def store_health(store: ObjectStore) -> ComponentHealth:
    try:
        store.check()
    except StoreError as error:
        return ComponentHealth("store", False, _first_line(error))
    return ComponentHealth("store", True, store.describe())


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def store_write_health(store: ObjectStore) -> ComponentHealth:
    """Whether a small probe can be written and removed: a store that can be read but not
    written (read-only or full disk, lost permissions, S3 refusing writes) fails uploads."""
    try:
        store.check_writable()
    except StoreError as error:
        return ComponentHealth("store_write", False, _first_line(error))
    return ComponentHealth("store_write", True, "a probe was written and removed")
