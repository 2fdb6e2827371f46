"""The audit log's readable sentences and detail labels are gettext messages: a Dutch reader reads
them in Dutch, while the recorded JSON and the CSV export stay as recorded."""

from __future__ import annotations

import re

from audit_portal.audit import presenters
from audit_portal.audit.models import AuditEvent
from audit_portal.audit.service import record_event
from audit_portal.clock import utcnow
from audit_portal.principals import Actor, Principal

IT = Principal(role="it", username="it.ops")
DUTCH = {"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"}
SHA = "ab12cd34ef56" + "0" * 52


def event(action: str, detail: str, outcome: str = "success", object_id: str = "7") -> AuditEvent:
    return AuditEvent(
        id=1,
        at=utcnow(),
        actor="it.ops",
        actor_role="it",
        action=action,
        outcome=outcome,
        detail=detail,
        object_id=object_id,
        prev_hash="0" * 64,
        hash="0" * 64,
    )


def test_an_upload_reads_in_dutch_with_dutch_labels_and_numbers():
    shown = presenters.readable(
        event(
            "evidence.upload",
            '{"content_type": "application/pdf", "filename": "x.pdf", "requirements": ["ACC-2/accounts", "OPS-2"], '
            f'"sha256": "{SHA}", "size": 2048, "supersedes": 3}}',
        ),
        "nl",
    )
    assert shown.summary == (
        "Bewijsstuk 'x.pdf' geüpload voor de eisen ACC-2/accounts, OPS-2, ter vervanging van "
        "item #3 (sha256 ab12cd34ef56…, 2,0 KiB)"
    )
    assert shown.lines == [("inhoudstype", "application/pdf")]
    assert '"content_type": "application/pdf"' in shown.raw  # the recorded JSON keeps its identifiers


def test_status_words_and_plurals_follow_the_reader():
    def dutch(action: str, detail: str, outcome: str = "success") -> str:
        return presenters.readable(event(action, detail, outcome), "nl").summary

    assert (
        dutch("finding.transition", '{"from": "open", "to": "action_planned"}')
        == "Bevinding #7 van open naar actie gepland gezet"
    )
    assert (
        dutch("collector.run", '{"instance": "aws", "status": "ok", "findings": 1}')
        == "Run #7 van collector 'aws' afgerond: geslaagd, 1 bevinding"
    )
    assert dutch("auth.login", '{"method": "password"}', outcome="failure") == "Aanmelding van 7 met password: mislukt"
    assert presenters.readable(event("x.custom", '{"reason": "test", "enabled": true}'), "nl").lines == [
        ("reden", "test"),
        ("ingeschakeld", "ja"),
    ]


def test_english_stays_as_it_was():
    shown = presenters.readable(
        event("collector.run", '{"instance": "aws", "status": "timed_out", "findings": 2}'), "en"
    )
    assert shown.summary == "Collector 'aws' run #7 finished: timed out, 2 findings"


def test_the_audit_log_page_reads_in_dutch_and_the_csv_export_stays_english(login_as, session):
    record_event(
        session,
        actor=Actor(IT),
        action="evidence.upload",
        object_type="evidence",
        object_id="12",
        detail={
            "filename": "list.csv",
            "sha256": SHA,
            "size": 10,
            "requirements": ["ACC-2/accounts"],
            "content_type": "text/csv",
        },
    )
    session.commit()
    admin = login_as("admin")
    page = admin.get("/admin/audit-log", headers=DUTCH).text
    assert "Bewijsstuk &#39;list.csv&#39; geüpload voor eis ACC-2/accounts (sha256 ab12cd34ef56…, 10 bytes)" in page
    assert '<span class="muted">inhoudstype:</span> text/csv' in page
    assert "uploaded for requirement" not in page
    export = admin.get("/admin/audit-log/export.csv", headers=DUTCH).text
    assert "evidence.upload" in export and "content_type" in export and "geüpload" not in export
    assert re.search(r"\bfilename\b", export)
