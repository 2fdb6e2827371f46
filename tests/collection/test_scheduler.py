"""The scheduler runs what is due, under the lease, and carries on past a failing collector."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from audit_portal.collection import service
from audit_portal.collection.models import CollectorRun, JobLease
from audit_portal.db import unit_of_work
from audit_portal.principals import Actor
from audit_portal.scheduler import CollectorScheduler

pytestmark = pytest.mark.usefixtures("plugin_path")
CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def committed(own_engine: Engine, settings) -> Engine:  # type: ignore[no-untyped-def]
    """The scheduler opens its own units of work, so it gets a database of its own."""
    from audit_portal.catalogue.service import load_catalogue

    with unit_of_work(own_engine) as session:
        load_catalogue(session)
        for name, collector in (("good", "tiny"), ("bad", "raising")):
            instance = service.save_instance(
                session,
                service.InstanceSpec(name=name, collector=collector, config={"items": ["x"]}, timeout_seconds=30),
                settings=settings,
                actor=Actor.system("test"),
            )
            instance.created_at = CREATED
    return own_engine


def test_a_tick_runs_every_due_instance_and_goes_on_after_a_failure(committed, store, settings):
    scheduler = CollectorScheduler(committed, store, settings)
    assert scheduler.tick(datetime(2026, 3, 2, 5, 0, tzinfo=UTC)) == []
    reports = scheduler.tick(datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    assert sorted(r.status for r in reports) == ["failed", "ok"]
    with Session(committed) as session:
        runs = session.exec(select(CollectorRun).order_by(CollectorRun.instance_name)).all()
        assert [(r.instance_name, r.trigger) for r in runs] == [("bad", "schedule"), ("good", "schedule")]
        assert session.exec(select(JobLease)).all() == []
    retry_at = next(r for r in runs if r.instance_name == "bad").next_retry_at
    again = scheduler.tick(retry_at)
    assert [(r.status) for r in again] == ["failed"]


def test_the_thread_starts_and_stops(committed, store, settings):
    scheduler = CollectorScheduler(committed, store, settings, tick_seconds=3600)
    scheduler.start()
    assert scheduler.running
    # The first pass may be in the middle of a management job (a monthly PDF); stop() ends the
    # pass after it. The bound is generous because this machine may be loaded: no timing here.
    scheduler.stop(timeout=300)
    assert not scheduler.running
