"""Time in the portal: every datetime is timezone-aware UTC. SQLModel's datetime columns store
UTC and hand back aware values on SQLite and PostgreSQL alike; naive values are refused."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
