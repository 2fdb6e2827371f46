"""The weekly digest, received by a local SMTP server (aiosmtpd) started by the test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler

from audit_portal.clock import utcnow
from audit_portal.config import Settings
from audit_portal.engagements.models import EngagementAuditor
from audit_portal.errors import InvalidInput
from audit_portal.notifications import service
from audit_portal.notifications.models import DigestPreference
from audit_portal.principals import Actor


class Inbox(MessageHandler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Message] = []

    def handle_message(self, message: Message) -> None:
        self.messages.append(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(settings: Settings, inbox) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": inbox[1],
            "smtp_starttls": False,
            "smtp_from": "portal@example.test",
            "base_url": "https://portal.example.test",
        }
    )


def subscribe(session, user, email_address: str, opted_out: bool = False) -> None:
    session.add(DigestPreference(user_id=user.id, email=email_address, opted_out=opted_out, updated_at=utcnow()))
    session.flush()


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text part")


def test_each_role_receives_its_sections(session, seeded, make_user, smtp_settings, inbox):
    handler, _ = inbox
    it, manager, auditor, elsewhere = (
        make_user("it"),
        make_user("management"),
        make_user("auditor"),
        make_user("auditor"),
    )
    session.add(EngagementAuditor(engagement_id=seeded.engagement_id, user_id=auditor.id))
    for user, address in (
        (it, "it@example.test"),
        (manager, "boss@example.test"),
        (auditor, "auditor@example.test"),
        (elsewhere, "other-auditor@example.test"),
    ):
        subscribe(session, user, address)

    result = service.send_digests(session, smtp_settings, actor=Actor.system("test"))

    received = {message["To"]: text_of(message) for message in handler.messages}
    # The auditor of no engagement has nothing to read: no message.
    assert sorted(received) == sorted(result.sent) == ["auditor@example.test", "boss@example.test", "it@example.test"]
    it_text = received["it@example.test"]
    assert (
        "Evidence expiring in the next 30 days" in it_text
        and "HR-3/awareness" in it_text
        and "CRY-2/disk-encryption" in it_text
    )
    assert "backup-dc: run" in it_text and "timed out" in it_text and "firewall-never: has not run" in it_text
    assert "Show the restore test" in it_text and "overdue since" in it_text
    assert "Show the policy" not in it_text  # accepted
    assert "high: Backup check failed (new)" in it_text and "corrective action overdue" in it_text
    assert "https://portal.example.test/dashboard/expiring" in it_text

    auditor_text = received["auditor@example.test"]
    assert "Evidence expiring" not in auditor_text and "Collectors" not in auditor_text
    assert "Show the restore test" in auditor_text
    assert "Backup check failed" not in auditor_text  # a collector finding, outside their engagement
    assert handler.messages[0]["From"] == "portal@example.test"
    assert {part.get_content_type() for part in handler.messages[0].walk()} >= {"text/plain", "text/html"}


def test_opted_out_and_addressless_users_get_nothing(session, seeded, make_user, smtp_settings, inbox):
    handler, _ = inbox
    subscribe(session, make_user("it"), "quiet@example.test", opted_out=True)
    make_user("admin")  # no address at all
    subscribe(session, make_user("it", revoked_at=utcnow()), "gone@example.test")
    assert service.send_digests(session, smtp_settings, actor=Actor.system("test")).sent == []
    assert handler.messages == []


def test_dry_run_sends_nothing(session, seeded, make_user, smtp_settings, inbox):
    handler, _ = inbox
    subscribe(session, make_user("it"), "it@example.test")
    result = service.send_digests(session, smtp_settings, dry_run=True, actor=Actor.system("test"))
    assert result.sent == ["it@example.test"]
    assert handler.messages == []


def test_without_a_host_sending_is_refused(session, seeded, make_user, settings):
    subscribe(session, make_user("it"), "it@example.test")
    with pytest.raises(InvalidInput, match="SMTP_HOST"):
        service.send_digests(session, settings, actor=Actor.system("test"))


class TestPreferencePage:
    def test_opt_out_and_back_in(self, session, login_as):
        client = login_as("management")
        saved = client.post("/notifications", data={"email": "boss@example.test", "digest": "on"})
        assert saved.status_code == 303
        preference = session.get(DigestPreference, client.user.id)
        assert (preference.email, preference.opted_out) == ("boss@example.test", False)
        client.post("/notifications", data={"email": "boss@example.test"})
        session.refresh(preference)
        assert preference.opted_out is True
        page = client.get("/notifications")
        assert 'value="boss@example.test"' in page.text and 'name="digest" checked' not in page.text

    def test_a_bad_address_is_refused(self, session, login_as):
        client = login_as("it")
        response = client.post("/notifications", data={"email": "not an address", "digest": "on"})
        assert response.status_code == 422
        assert session.get(DigestPreference, client.user.id) is None
