"""Retention: expired evidence is purged with everything pointing at it, unless on legal hold;
objects go only when no kept record shares them."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from audit_portal.audit.models import AuditEvent
from audit_portal.clock import utcnow
from audit_portal.engagements.models import Engagement, EvidenceReview
from audit_portal.evidence import service
from audit_portal.evidence.models import Evidence, EvidenceRequirement
from audit_portal.evidence.retention import delete_unshared_objects, purge_records
from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
from audit_portal.findings.models import Finding
from audit_portal.principals import Actor, Principal

TODAY = date(2031, 6, 1)


def add(session, store, user, title: str, content: bytes, *, retention: date, **meta) -> Evidence:  # type: ignore[no-untyped-def]
    evidence = service.ingest(
        session,
        store,
        stream=io.BytesIO(content),
        filename=f"{title}.txt",
        meta=EvidenceMeta(title=title, requirements=["OPS-2/patches"], **meta),
        source=EvidenceSource.upload(user.id),
        max_bytes=1 << 20,
        actor=Actor(Principal(role="it", username=user.username, user_id=user.id)),
    )
    evidence.retention_until = retention
    session.flush()
    return evidence


def test_expired_items_go_with_their_links_and_leave_an_audit_trail(session, store, catalogue, make_user):
    user = make_user("it")
    expired = add(session, store, user, "old patch log", b"2027 patch log\n", retention=TODAY - timedelta(days=1))
    correction = add(
        session,
        store,
        user,
        "corrected patch log",
        b"2027 patch log, corrected\n",
        retention=TODAY + timedelta(days=400),
        supersedes=expired.id,
    )
    engagement = Engagement(
        name="2027 audit",
        framework_key="iso27001-2022",
        period_start=date(2027, 1, 1),
        period_end=date(2027, 12, 31),
        created_at=utcnow(),
    )
    session.add(engagement)
    session.flush()
    session.add(
        EvidenceReview(engagement_id=engagement.id, evidence_id=expired.id, status="accepted", reviewed_at=utcnow())
    )
    finding = Finding(
        source="auditor", title="Patch gap", severity="medium", evidence_id=expired.id, created_at=utcnow()
    )
    session.add(finding)
    session.flush()
    expired_id, expired_key = expired.id, expired.store_key

    assert [p.evidence_id for p in purge_records(session, today=TODAY, dry_run=True)] == [expired_id]
    assert session.get(Evidence, expired_id) is not None  # a dry run deletes nothing

    purged = purge_records(session, today=TODAY)
    session.expire_all()
    assert [p.evidence_id for p in purged] == [expired_id]
    assert session.get(Evidence, expired_id) is None
    assert session.scalars(select(EvidenceRequirement).where(EvidenceRequirement.evidence_id == expired_id)).all() == []
    assert session.scalars(select(EvidenceReview).where(EvidenceReview.evidence_id == expired_id)).all() == []
    assert session.get(Finding, finding.id).evidence_id is None  # the finding stays, unlinked
    assert session.get(Evidence, correction.id).supersedes_id is None
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.purge")).one()
    assert event.object_id == str(expired_id)

    outcomes = delete_unshared_objects(session, store, {expired_key, correction.store_key})
    assert {o.key: o.deleted for o in outcomes} == {expired_key: True, correction.store_key: False}
    assert not store.exists(expired_key) and store.exists(correction.store_key)


def test_legal_hold_and_unexpired_items_stay(session, store, catalogue, make_user):
    user = make_user("it")
    held = add(session, store, user, "held", b"held\n", retention=TODAY - timedelta(days=30))
    held.legal_hold = True
    add(session, store, user, "current", b"current\n", retention=TODAY)
    session.flush()
    assert purge_records(session, today=TODAY) == []
    assert len(session.scalars(select(Evidence)).all()) == 2


def test_an_object_shared_with_a_kept_record_is_not_deleted(session, store, catalogue, make_user):
    user = make_user("it")
    old = add(session, store, user, "first copy", b"same bytes\n", retention=TODAY - timedelta(days=1))
    kept = add(session, store, user, "second copy", b"same bytes\n", retention=TODAY + timedelta(days=1))
    assert old.store_key == kept.store_key
    purge_records(session, today=TODAY)
    outcomes = delete_unshared_objects(session, store, {old.store_key})
    assert [(o.deleted, o.reason) for o in outcomes] == [(False, "shared with a record that is kept")]
    assert store.exists(kept.store_key)


def test_the_purge_command(tmp_path):
    cli = str(Path(sys.executable).with_name("audit-portal"))
    env = {"AUDIT_PORTAL_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([cli, "migrate"], env=env, check=True, capture_output=True)
    result = subprocess.run([cli, "store", "purge", "--dry-run"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "0 evidence records to purge" in result.stdout


def test_an_admin_places_and_releases_a_legal_hold(session, store, catalogue, make_user, login_as):
    user = make_user("it")
    item = add(session, store, user, "disputed log", b"disputed\n", retention=TODAY - timedelta(days=1))
    admin = login_as("admin")
    page = admin.get(f"/evidence/{item.id}")
    assert "Place on legal hold" in page.text
    assert admin.post(f"/evidence/{item.id}/legal-hold", data={"hold": "on"}).status_code == 303
    session.expire_all()
    assert session.get(Evidence, item.id).legal_hold
    assert purge_records(session, today=TODAY) == []
    assert login_as("it").post(f"/evidence/{item.id}/legal-hold", data={"hold": "off"}).status_code == 403
    assert admin.post(f"/evidence/{item.id}/legal-hold", data={"hold": "maybe"}).status_code == 422
    assert admin.post(f"/evidence/{item.id}/legal-hold", data={"hold": "off"}).status_code == 303
    session.expire_all()
    assert not session.get(Evidence, item.id).legal_hold
    details = session.scalars(
        select(AuditEvent.detail).where(AuditEvent.action == "evidence.legal-hold").order_by(AuditEvent.id)
    ).all()
    assert details == ['{"legal_hold":true}', '{"legal_hold":false}']
