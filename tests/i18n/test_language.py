"""The language of a page over HTTP: the user's choice, else the browser's Accept-Language; and
the personal settings on /profile that hold the choice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timezone

from sqlmodel import select

from audit_portal.audit.models import AuditEvent
from audit_portal.auth.models import UserAccount
from audit_portal.notifications.models import DigestPreference

DUTCH = {"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"}
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}


def test_the_sign_in_page_follows_the_browser(client):
    dutch = client.get("/login", headers=DUTCH)
    assert dutch.status_code == 200
    assert '<html lang="nl">' in dutch.text and "Wachtwoord" in dutch.text and ">Aanmelden<" in dutch.text
    assert dutch.headers["content-language"] == "nl"
    assert "Accept-Language" in dutch.headers["vary"]
    english = client.get("/login", headers=ENGLISH)
    assert '<html lang="en">' in english.text and "Password" in english.text and "Wachtwoord" not in english.text
    assert client.get("/login").headers["content-language"] == "en"  # no header: English


def test_an_error_page_is_in_the_browsers_language(client):
    page = client.get("/no-such-page", headers=DUTCH | {"Accept": "text/html"})
    assert page.status_code == 404 and "404 · Niet gevonden" in page.text
    problem = client.get("/api/v1/no-such-thing", headers=DUTCH)
    assert problem.json()["title"] == "Not found"  # the API's problem JSON stays English for programs


def test_the_users_preference_overrides_the_browser(login_as, make_user):
    dutch_reader = login_as(make_user("management", language="nl"))
    page = dutch_reader.get("/profile", headers=ENGLISH)
    assert '<html lang="nl">' in page.text and "Persoonlijke instellingen" in page.text
    assert ">Afmelden<" in page.text and "Dashboard" in page.text and "Personal settings" not in page.text
    english_reader = login_as(make_user("management", language="en"))
    page = english_reader.get("/profile", headers=DUTCH)
    assert (
        '<html lang="en">' in page.text
        and "Personal settings" in page.text
        and "Persoonlijke instellingen" not in page.text
    )
    browser_reader = login_as(make_user("management"))
    assert "Persoonlijke instellingen" in browser_reader.get("/profile", headers=DUTCH).text


def test_times_on_a_page_are_in_the_users_zone(login_as, make_user):
    access_until = datetime(2099, 7, 15, 11, 30, tzinfo=UTC)  # stored UTC
    amsterdam = login_as(make_user("auditor", valid_until=access_until))
    assert "2099-07-15 13:30 CEST" in amsterdam.get("/profile", headers=ENGLISH).text
    tokyo = login_as(make_user("auditor", valid_until=access_until, time_zone="Asia/Tokyo", language="nl"))
    assert "15-07-2099 20:30 JST" in tokyo.get("/profile").text


def _settings(**fields: str) -> dict[str, str]:
    return {"email": "", "language": "", "time_zone": "", **fields}


class TestPersonalSettings:
    def test_every_role_saves_language_zone_address_and_digest(self, login_as, session):
        for role in ("admin", "it", "management", "auditor"):
            client = login_as(role)
            saved = client.post(
                "/profile/settings",
                data=_settings(email=f"{role}@example.nl", language="nl", time_zone="Europe/Brussels", digest="on"),
            )
            assert saved.status_code == 303 and saved.headers["location"] == "/profile?saved=1#settings"
            user = session.get(UserAccount, client.user.id)
            session.refresh(user)
            assert (user.language, user.time_zone) == ("nl", "Europe/Brussels")
            preference = session.get(DigestPreference, client.user.id)
            assert (preference.email, preference.opted_out) == (f"{role}@example.nl", False)
            page = client.get("/profile?saved=1")
            assert "Opgeslagen." in page.text and 'value="Europe/Brussels"' in page.text
            assert '<option value="nl" lang="nl" selected>Nederlands</option>' in page.text

    def test_the_change_is_audited(self, login_as, session):
        client = login_as("it")
        client.post("/profile/settings", data=_settings(language="nl", time_zone="Europe/Amsterdam"))
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "user.settings")).all()
        assert [json.loads(event.detail) for event in events] == [{"language": "nl", "time_zone": "Europe/Amsterdam"}]
        assert events[0].object_id == client.user.username
        # Saving the same choices again changes nothing and records nothing new.
        client.post("/profile/settings", data=_settings(language="nl", time_zone="Europe/Amsterdam"))
        assert len(session.exec(select(AuditEvent).where(AuditEvent.action == "user.settings")).all()) == 1

    def test_empty_choices_fall_back_to_the_browser_and_the_organisation(self, login_as, make_user, session):
        client = login_as(make_user("it", language="nl", time_zone="Asia/Tokyo"))
        assert client.post("/profile/settings", data=_settings()).status_code == 303
        user = session.get(UserAccount, client.user.id)
        session.refresh(user)
        assert (user.language, user.time_zone) == (None, None)
        assert "Personal settings" in client.get("/profile", headers=ENGLISH).text

    def test_bad_choices_are_refused_next_to_their_field_and_change_nothing(self, login_as, make_user, session):
        client = login_as(make_user("management", language="nl"))
        response = client.post(
            "/profile/settings",
            data=_settings(email="not an address", language="fr", time_zone="Mars/Olympus_Mons", digest="on"),
        )
        assert response.status_code == 422
        text = response.text
        assert (
            'id="email-error" class="field-error">Geen e-mailadres' in text and 'aria-describedby="email-error"' in text
        )
        assert 'id="language-error" class="field-error">Kies een van de aangeboden talen' in text
        assert 'id="time_zone-error" class="field-error">Kies een tijdzone uit de lijst' in text
        assert 'value="not an address"' in text and 'value="Mars/Olympus_Mons"' in text  # kept for correcting
        user = session.get(UserAccount, client.user.id)
        session.refresh(user)
        assert (user.language, user.time_zone) == ("nl", None)
        assert session.get(DigestPreference, client.user.id) is None
        assert (
            session.exec(select(AuditEvent).where(AuditEvent.action.in_(["user.settings", "digest.preference"]))).all()
            == []
        )

    def test_one_bad_field_keeps_the_good_ones_from_being_saved(self, login_as, session):
        client = login_as("it")
        response = client.post("/profile/settings", data=_settings(email="it@example.nl", time_zone="Nowhere"))
        assert (
            response.status_code == 422
            and 'id="time_zone-error"' in response.text
            and "email-error" not in response.text
        )
        assert session.get(DigestPreference, client.user.id) is None

    def test_without_the_csrf_token_nothing_is_saved(self, login_as, session):
        client = login_as("it")
        del client.headers["X-CSRF-Token"]
        assert client.post("/profile/settings", data=_settings(language="nl")).status_code == 403
        user = session.get(UserAccount, client.user.id)
        session.refresh(user)
        assert user.language is None

    def test_the_navigation_links_to_the_profile(self, login_as):
        for role in ("admin", "it", "management", "auditor"):
            page = login_as(role).get("/profile")
            assert '<a href="/profile" aria-current="page">Personal settings</a>' in page.text


def test_the_digest_is_written_in_the_recipients_language(settings):
    from audit_portal.notifications import service as digest_service

    now = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    lines = {
        digest_service.COLLECTORS: [
            digest_service.Line(
                "%(instance)s: run %(run)s %(status)s at %(at)s",
                {"instance": "backup-dc", "run": "7", "status": "timed out", "at": datetime(2026, 11, 29, 1, 0)},
                "/runs/7",
                words=("status",),
            )
        ],
        digest_service.REQUESTS: [],
    }
    dutch = UserAccount(
        username="directie", role="management", language="nl", password_hash="", password_changed_at=now, created_at=now
    )
    english = UserAccount(  # an auditor abroad, who chose UTC
        username="auditor.ext",
        role="auditor",
        time_zone="UTC",
        password_hash="",
        password_changed_at=now,
        created_at=now,
    )
    for user, subject, words in (
        (
            dutch,
            "audit-portal weekoverzicht, week van 30-11-2026",
            [
                "Weekoverzicht voor directie (management), week van 30-11-2026.",
                "Collectors die faalden of niet draaiden",
                "backup-dc: run 7 time-out op 29-11-2026 02:00 CET",
                "Niets.",
            ],
        ),
        (
            english,
            "audit-portal weekly digest, week of 2026-11-30",
            [
                "Weekly digest for auditor.ext (auditor), week of 2026-11-30.",
                "backup-dc: run 7 timed out at 2026-11-29 01:00 UTC",
                "Nothing.",
            ],
        ),
    ):
        digest = digest_service.Digest(user=user, email="someone@example.nl", sections=lines)
        message = digest_service.compose(digest, settings, now)
        assert message["Subject"] == subject
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert [word for word in words if word not in text] == []
        assert f'<html lang="{user.language or "en"}">' in html
