"""Running instances: artifacts as evidence, findings opened, kept and closed, failures of every
kind recorded as failed runs, retries with backoff, secrets never shown back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from audit_portal.collection import repository, service
from audit_portal.collection.models import CollectorRun
from audit_portal.collection.secrets import MASK
from audit_portal.errors import InvalidInput
from audit_portal.evidence import repository as evidence_repository
from audit_portal.evidence.models import Evidence, EvidenceRequirement
from audit_portal.findings.models import Finding
from audit_portal.principals import Actor

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
pytestmark = pytest.mark.usefixtures("plugin_path", "catalogue")


def make_instance(session, settings, name="tiny-one", collector="tiny", **config):  # type: ignore[no-untyped-def]
    spec = service.InstanceSpec(name=name, collector=collector, config=config, timeout_seconds=30)
    return service.save_instance(session, spec, settings=settings, actor=Actor.system("test"))


def run(scope, store, settings, name="tiny-one", now=NOW):  # type: ignore[no-untyped-def]
    return service.run_instance(scope, store, settings, name, now=now)


def test_a_run_stores_three_artifacts_linked_to_the_requirements(session, scope, store, settings):
    make_instance(session, settings, items=["a", "b"])
    report = run(scope, store, settings)
    assert report.status == "ok"
    items = session.exec(select(Evidence).where(Evidence.collector_run_id == report.run_id)).all()
    assert sorted(e.artifact_kind for e in items) == ["normalised", "raw", "report"]
    assert {e.collector_instance for e in items} == {"tiny-one"}
    assert {e.source_kind for e in items} == {"collector"}
    assert all(e.collected_at == NOW for e in items)
    raw = next(e for e in items if e.artifact_kind == "raw")
    with store.open(raw.store_key) as stream:
        assert stream.read() == b"a\nb\n"
    links = session.exec(
        select(EvidenceRequirement).where(EvidenceRequirement.evidence_id.in_([e.id for e in items]))
    ).all()
    assert len(links) == 3
    run_row = session.get(CollectorRun, report.run_id)
    assert run_row.finished_at is not None and run_row.findings_count == 2
    assert "tiny 0.1.0 started" in run_row.log


def test_findings_open_stay_and_close_across_runs(session, scope, store, settings):
    make_instance(session, settings, items=["a", "b"])
    first = run(scope, store, settings)
    service.save_instance(
        session,
        service.InstanceSpec(name="tiny-one", collector="tiny", config={"items": ["b", "c"]}, timeout_seconds=30),
        settings=settings,
        actor=Actor.system("test"),
    )
    second = run(scope, store, settings, now=NOW + timedelta(days=1))
    findings = {f.key: f for f in session.exec(select(Finding).where(Finding.collector_instance == "tiny-one")).all()}
    assert set(findings) == {"item:a", "item:b", "item:c"}
    assert findings["item:a"].status == "closed" and findings["item:a"].closed_at == NOW + timedelta(days=1)
    assert findings["item:b"].status == "open"
    assert (findings["item:b"].first_run_id, findings["item:b"].last_run_id) == (first.run_id, second.run_id)
    assert findings["item:c"].first_run_id == second.run_id
    assert findings["item:b"].severity == "high"


def test_the_next_run_gets_the_previous_normalised_result(session, scope, store, settings):
    make_instance(session, settings, items=["a"])
    run(scope, store, settings)
    second = run(scope, store, settings, now=NOW + timedelta(days=1))
    normalised = evidence_repository.normalised_evidence(session, second.run_id)
    with store.open(normalised.store_key) as stream:
        assert json.loads(stream.read())["previous_items"] == ["a"]


@pytest.mark.parametrize(
    ("collector", "status", "error_part"),
    [
        ("raising", "failed", "RuntimeError: disk on fire"),
        ("garbage", "failed", "not a CollectResult"),
    ],
)
def test_a_misbehaving_collector_is_a_failed_run_with_a_retry(
    session, scope, store, settings, collector, status, error_part
):
    make_instance(session, settings, name="bad", collector=collector)
    report = run(scope, store, settings, name="bad")
    row = session.get(CollectorRun, report.run_id)
    assert (row.status, row.attempt) == (status, 1)
    assert error_part in row.error
    assert row.next_retry_at == row.finished_at + service.FIRST_RETRY_DELAY
    assert not session.exec(select(Evidence).where(Evidence.collector_run_id == row.id)).all()


def test_a_hanging_collector_times_out(session, scope, store, settings):
    from audit_portal_test_plugin import HANG_RELEASE

    spec = service.InstanceSpec(name="stuck", collector="hanging", timeout_seconds=10)
    instance = service.save_instance(session, spec, settings=settings, actor=Actor.system("test"))
    instance.timeout_seconds = 1  # below the configurable minimum, to keep the test short
    session.flush()
    try:
        report = run(scope, store, settings, name="stuck")
    finally:
        HANG_RELEASE.set()
    row = session.get(CollectorRun, report.run_id)
    assert row.status == "timed_out"
    assert "timeout of 1 s" in row.error


def test_retries_back_off_and_stop_after_the_last_attempt(session, scope, store, settings):
    make_instance(session, settings, name="bad", collector="raising")
    moment = NOW
    attempts, delays = [], []
    for _ in range(service.MAX_ATTEMPTS):
        row = session.get(CollectorRun, run(scope, store, settings, name="bad", now=moment).run_id)
        attempts.append(row.attempt)
        if row.next_retry_at is None:
            break
        delays.append(row.next_retry_at - row.finished_at)
        assert service.due_instances(session, row.next_retry_at - timedelta(seconds=1)) == []
        assert service.due_instances(session, row.next_retry_at) == [service.Due("bad", "retry")]
        moment = row.next_retry_at
    assert attempts == [1, 2, 3]
    assert delays == [service.FIRST_RETRY_DELAY, service.FIRST_RETRY_DELAY * service.RETRY_FACTOR]
    assert service.due_instances(session, moment + timedelta(hours=1)) == []


def test_invalid_stored_config_fails_the_run_without_running(session, scope, store, settings):
    instance = make_instance(session, settings, items=["a"])
    instance.config_json = json.dumps({"items": "not a list"})
    session.flush()
    row = session.get(CollectorRun, run(scope, store, settings).run_id)
    assert row.status == "failed" and "config.items" in row.error


def test_secrets_are_encrypted_at_rest_and_masked_in_log_report_and_pages(session, scope, store, settings):
    instance = make_instance(session, settings, items=["a"], token="hunter2-very-secret", echo_token=True)
    assert "hunter2" not in instance.config_json
    assert MASK in service.shown_config(instance) and "hunter2" not in service.shown_config(instance)
    report = run(scope, store, settings)
    row = session.get(CollectorRun, report.run_id)
    assert "using token " + MASK in row.log and "hunter2" not in row.log
    for evidence in evidence_repository.evidence_of_run(session, row.id):
        with store.open(evidence.store_key) as stream:
            assert b"hunter2" not in stream.read()


def test_saving_with_the_mask_keeps_the_stored_secret(session, scope, store, settings):
    make_instance(session, settings, token="keep-me-secret", echo_token=True)
    spec = service.InstanceSpec(
        name="tiny-one", collector="tiny", config={"token": MASK, "items": ["x"]}, timeout_seconds=30
    )
    instance = service.save_instance(session, spec, settings=settings, actor=Actor.system("test"))
    tiny = service.collector_for("tiny", settings)
    assert service.config_of(instance, tiny, settings).token.get_secret_value() == "keep-me-secret"


def test_a_changed_secret_key_fails_the_run_clearly(session, scope, store, settings):
    make_instance(session, settings, token="s3cret-value")
    settings.secret_key = "another-secret-key-that-is-long-enough-too"
    row = session.get(CollectorRun, run(scope, store, settings).run_id)
    assert row.status == "failed" and "secret key changed" in row.error


def test_a_held_lease_stops_a_second_run(session, scope, store, settings):
    make_instance(session, settings)
    assert service.take_lease(session, service.job_name("tiny-one"), "someone-else", timedelta(minutes=5))
    report = run(scope, store, settings)
    assert report.run_id is None and "lease" in report.reason
    assert not session.exec(select(CollectorRun)).all()


def test_an_expired_lease_is_taken_over(session, scope, store, settings):
    make_instance(session, settings)
    assert service.take_lease(session, service.job_name("tiny-one"), "crashed", timedelta(seconds=-1))
    assert run(scope, store, settings).status == "ok"
    assert repository.lease(session, service.job_name("tiny-one")) is None


def test_due_follows_the_cron_schedule(session, scope, store, settings):
    instance = make_instance(session, settings)
    instance.created_at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    session.flush()
    assert service.due_instances(session, datetime(2026, 3, 2, 5, 59, tzinfo=UTC)) == []
    assert [d.name for d in service.due_instances(session, datetime(2026, 3, 2, 6, 0, tzinfo=UTC))] == ["tiny-one"]
    run(scope, store, settings, now=datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    assert service.due_instances(session, datetime(2026, 3, 3, 5, 0, tzinfo=UTC)) == []
    instance.enabled = False
    session.flush()
    assert service.due_instances(session, datetime(2026, 3, 9, tzinfo=UTC)) == []


def test_bad_instance_definitions_are_refused(session, settings):
    with pytest.raises(InvalidInput, match="not a cron expression"):
        service.save_instance(
            session,
            service.InstanceSpec(name="x", collector="tiny", schedule="every day"),
            settings=settings,
            actor=Actor.system("test"),
        )
    with pytest.raises(InvalidInput, match="No collector 'nope' is installed"):
        service.save_instance(
            session, service.InstanceSpec(name="x", collector="nope"), settings=settings, actor=Actor.system("test")
        )
    with pytest.raises(InvalidInput, match="Unknown requirement"):
        service.save_instance(
            session,
            service.InstanceSpec(name="x", collector="tiny", requirements=["NOPE-1/x"]),
            settings=settings,
            actor=Actor.system("test"),
        )
    with pytest.raises(InvalidInput, match="config.items"):
        service.save_instance(
            session,
            service.InstanceSpec(name="x", collector="tiny", config={"items": 3}),
            settings=settings,
            actor=Actor.system("test"),
        )


def test_a_run_left_running_by_a_dead_process_is_abandoned_and_the_schedule_goes_on(session, scope, store, settings):
    instance = make_instance(session, settings)
    stale = CollectorRun(
        instance_id=instance.id,
        instance_name=instance.name,
        trigger="schedule",
        started_at=datetime(2026, 3, 1, 6, 0, tzinfo=UTC),
        status="running",
    )
    session.add(stale)
    session.flush()
    assert service.due_instances(session, datetime(2026, 3, 1, 6, 5, tzinfo=UTC)) == []
    assert service.due_instances(session, NOW) == [service.Due("tiny-one", "schedule")]
    assert run(scope, store, settings).status == "ok"
    assert stale.status == "failed" and "stopped before it finished" in stale.error
