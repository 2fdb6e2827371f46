"""What someone who can write the database tries, and how the MAC chain and the signed
checkpoints catch it. Every attack first shows that the plain SHA-256 chain alone would accept
the result, so each test proves the key or the checkpoint is what catches it."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlmodel import select

from audit_portal.audit import keys
from audit_portal.audit.checkpoints import CHECKPOINT_SOURCE, parse_document, verify_log, write_checkpoint
from audit_portal.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from audit_portal.audit.service import event_hash, record_event, verify_chain
from audit_portal.evidence.models import Evidence
from audit_portal.export.signing import signing_key
from audit_portal.principals import Actor, Principal
from tests.conftest import TEST_SECRET_KEY

ADMIN = Principal(role="admin", username="root", user_id=1)


def _record(session, count: int) -> list[AuditEvent]:
    return [
        record_event(
            session,
            actor=Actor(ADMIN),
            action="test.event",
            object_type="thing",
            object_id=str(number),
            detail={"n": number},
        )
        for number in range(count)
    ]


def _events(session) -> list[AuditEvent]:
    session.expire_all()
    return list(session.exec(select(AuditEvent).order_by(AuditEvent.id)).all())


def _plain_chain_holds(session) -> bool:
    """The checks the log had before it had a key: ids, previous hashes, hashes, the head."""
    previous, expected_id = GENESIS_HASH, 1
    for event in _events(session):
        if event.id != expected_id or event.prev_hash != previous or event_hash(event) != event.hash:
            return False
        previous, expected_id = event.hash, event.id + 1
    head = session.get(AuditChainHead, 1)
    return head.last_event_id == expected_id - 1 and head.last_hash == previous


def _rehash_from(session, first_id: int, key: keys.ChainKey | None = None) -> None:
    """What a database writer can do: recompute every plain hash from ``first_id`` on and move the
    head along. With ``key`` (someone who also has the audit key) the MACs are recomputed too."""
    events = [event for event in _events(session) if event.id >= first_id]
    before = session.get(AuditEvent, first_id - 1) if first_id > 1 else None
    previous = before.hash if before else GENESIS_HASH
    previous_mac = before.mac if before else keys.GENESIS_MAC
    for event in events:
        event.prev_hash = previous
        event.hash = event_hash(event)
        if key is not None:
            event.mac = key.mac(previous_mac, event.hash)
            previous_mac = event.mac
        previous = event.hash
    head = session.get(AuditChainHead, 1)
    head.last_hash = previous
    if key is not None:
        head.last_mac = previous_mac
    session.flush()


def test_a_clean_log_verifies(session, store, settings):
    _record(session, 5)
    write_checkpoint(session, store, settings)
    _record(session, 2)
    result = verify_log(session, store, settings)
    assert result.ok, (result.report, result.checkpoint_problems)
    assert result.report.checked == 9 and len(result.checkpoints) == 1


def test_an_edit_with_every_later_hash_recomputed_is_caught_at_the_edited_event(session):
    _record(session, 5)
    session.execute(text("UPDATE audit_event SET actor = 'someone.else' WHERE id = 3"))
    _rehash_from(session, 3)
    assert _plain_chain_holds(session)

    report = verify_chain(session)
    assert not report.ok
    assert report.problem.event_id == 3 and "MAC does not verify" in report.problem.reason
    assert report.checked == 2


def test_a_reorder_is_caught_at_the_first_moved_event(session):
    _record(session, 5)
    second, third = _events(session)[1:3]
    moved = ("at", "actor", "action", "object_id", "detail")
    second_values = {name: getattr(second, name) for name in moved}
    for name in moved:
        setattr(second, name, getattr(third, name))
        setattr(third, name, second_values[name])
    session.flush()
    _rehash_from(session, 2)
    assert _plain_chain_holds(session)

    report = verify_chain(session)
    assert report.problem.event_id == 2 and "out of order" in report.problem.reason


def test_a_removed_mac_is_caught(session):
    _record(session, 3)
    session.execute(text("UPDATE audit_event SET mac = NULL WHERE id = 2"))
    report = verify_chain(session)
    assert report.problem.event_id == 2 and "no MAC" in report.problem.reason


def _delete_newest_and_move_head_back(session, keep: int) -> None:
    session.execute(text("DELETE FROM audit_event WHERE id > :keep"), {"keep": keep})
    kept = session.get(AuditEvent, keep)
    session.execute(
        text("UPDATE audit_chain_head SET last_event_id = :id, last_hash = :hash, last_mac = :mac WHERE id = 1"),
        {"id": keep, "hash": kept.hash, "mac": kept.mac},
    )
    session.expire_all()


def test_deleting_the_newest_events_and_moving_the_head_back_is_caught_by_a_checkpoint(session, store, settings):
    _record(session, 5)
    write_checkpoint(session, store, settings)  # counts 5; its upload and checkpoint events are 6 and 7
    _record(session, 2)
    _delete_newest_and_move_head_back(session, keep=3)
    assert _plain_chain_holds(session)
    assert verify_chain(session).ok  # the chain alone cannot see it: what is left is a valid chain

    result = verify_log(session, store, settings)
    assert not result.ok
    assert result.report.problem.event_id == 4
    assert "counted 5 events" in result.report.problem.reason


def test_deleting_the_checkpoint_record_too_does_not_hide_it_from_a_store_scan(session, store, settings):
    _record(session, 5)
    checkpoint = write_checkpoint(session, store, settings)
    _delete_newest_and_move_head_back(session, keep=3)
    for table in ("evidence_requirement", "evidence_control"):
        session.execute(text(f"DELETE FROM {table} WHERE evidence_id = :id"), {"id": checkpoint.evidence_id})
    session.execute(text("DELETE FROM evidence WHERE id = :id"), {"id": checkpoint.evidence_id})
    session.expire_all()

    result = verify_log(session, store, settings, scan_store=True)
    assert result.report.problem is not None and result.report.problem.event_id == 4


def test_a_deleted_checkpoint_record_is_found_through_its_event(session, store, settings):
    _record(session, 5)
    checkpoint = write_checkpoint(session, store, settings)
    _record(session, 1)
    for table in ("evidence_requirement", "evidence_control"):
        session.execute(text(f"DELETE FROM {table} WHERE evidence_id = :id"), {"id": checkpoint.evidence_id})
    session.execute(text("DELETE FROM evidence WHERE id = :id"), {"id": checkpoint.evidence_id})
    session.expire_all()

    result = verify_log(session, store, settings)
    assert result.ok and [c.event_count for c in result.checkpoints] == [5]


def test_a_rewrite_by_someone_holding_the_key_is_caught_by_the_checkpoint(session, store, settings):
    _record(session, 5)
    write_checkpoint(session, store, settings)
    session.execute(text("UPDATE audit_event SET detail = :detail WHERE id = 2"), {"detail": '{"n":99}'})
    _rehash_from(session, 2, key=keys.derive_from_secret(TEST_SECRET_KEY))
    assert verify_chain(session).ok  # with the key the chain itself can be rebuilt

    result = verify_log(session, store, settings)
    assert result.report.problem.event_id == 5
    assert "holding the audit key" in result.report.problem.reason


def test_a_changed_checkpoint_is_reported(session, store, settings):
    import io

    _record(session, 3)
    checkpoint = write_checkpoint(session, store, settings)
    with store.open(checkpoint.store_key) as handle:
        document = json.loads(handle.read())
    document["event_count"] = 2  # someone who can write the store (no Object Lock) and the database
    forged = store.put(io.BytesIO(json.dumps(document).encode()))
    session.execute(
        text("UPDATE evidence SET store_key = :key, sha256 = :sha WHERE id = :id"),
        {"key": forged.key, "sha": forged.sha256, "id": checkpoint.evidence_id},
    )
    session.expire_all()

    result = verify_log(session, store, settings)
    assert not result.ok
    assert any("signature does not verify" in problem for problem in result.checkpoint_problems)


def test_a_wrong_key_is_a_clear_error_not_a_false_ok(session):
    _record(session, 3)
    report = verify_chain(session, keys.derive_from_secret("another-secret-key-that-is-long-enough-too"))
    assert not report.ok and report.checked == 0
    assert "key id" in report.wrong_key and "AUDIT_PORTAL_SECRET_KEY" in report.wrong_key


def test_a_checkpoint_is_evidence_signed_with_the_portal_key(session, store, settings, login_as):
    _record(session, 4)
    checkpoint = write_checkpoint(session, store, settings)
    item = session.get(Evidence, checkpoint.evidence_id)
    assert item.collector_instance == CHECKPOINT_SOURCE and item.title == "Audit log checkpoint: 4 events"
    with store.open(item.store_key) as handle:
        parsed = parse_document(handle.read(), signing_key(settings).public_key)
    head = session.get(AuditChainHead, 1)
    assert parsed.event_count == 4
    assert parsed.head_mac == session.get(AuditEvent, 4).mac
    assert head.last_event_id == 6  # the checkpoint's upload and its own event come after it
    # The returned checkpoint and the log's record of it name what was signed, not the later head.
    assert (checkpoint.event_count, checkpoint.head_mac, checkpoint.head_hash) == (
        parsed.event_count,
        parsed.head_mac,
        parsed.head_hash,
    )
    recorded = json.loads(session.get(AuditEvent, 6).detail)
    assert (recorded["event_count"], recorded["head_mac"]) == (4, parsed.head_mac)
    session.commit()

    admin = login_as("admin")
    page = admin.get(f"/evidence/{item.id}")
    assert page.status_code == 200 and "Audit log checkpoint: 4 events" in page.text
    listing = admin.get("/evidence", params={"source": CHECKPOINT_SOURCE})
    assert "Audit log checkpoint" in listing.text
