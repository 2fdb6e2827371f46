"""PostgreSQL plans every execution with its parameters. psycopg prepares a statement on the
server after its fifth execution, and PostgreSQL may then settle on a generic plan that ignores
the values: for an engagement's rejections in a period that plan read all the evidence, and the
controls table went from 50 ms to 160 ms at 100,000 items after a few requests (bench/pages.py).
A small seeded table does not reproduce the planner's choice, so the test checks the setting every
connection gets."""

from __future__ import annotations

import pytest


@pytest.fixture
def postgresql(session):  # type: ignore[no-untyped-def]
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("plan caching is PostgreSQL's")
    return session


def test_every_connection_plans_each_execution(postgresql) -> None:
    assert postgresql.connection().exec_driver_sql("SHOW plan_cache_mode").scalar() == "force_custom_plan"
