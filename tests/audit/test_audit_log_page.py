from __future__ import annotations

import csv
import io

from audit_portal.audit.service import record_event
from audit_portal.principals import Actor, Principal
from tests.conftest import TEST_PASSWORD
from tests.security.conftest import post_login


def test_sign_in_failures_appear_in_the_admin_audit_log(client, login_as, make_user):
    make_user("it", "it.ops")
    post_login(client, "it.ops", "wrong-password-here")
    admin = login_as("admin")
    page = admin.get("/admin/audit-log", params={"action": "auth.login", "outcome": "failure"})
    assert page.status_code == 200
    assert "it.ops" in page.text and "failure" in page.text


def test_filter_by_actor(login_as, session):
    record_event(session, actor=Actor(Principal(role="it", username="alice")), action="x.one")
    record_event(session, actor=Actor(Principal(role="it", username="bob")), action="x.two")
    session.commit()
    admin = login_as("admin")
    page = admin.get("/admin/audit-log", params={"actor": "alice"})
    assert "x.one" in page.text and "x.two" not in page.text


def test_htmx_filter_gets_only_the_table(login_as):
    admin = login_as("admin")
    page = admin.get("/admin/audit-log", headers={"HX-Request": "true"})
    assert "<html" not in page.text and "<table>" in page.text


def test_csv_export_holds_the_events_and_defuses_formulas(login_as, session):
    record_event(
        session,
        actor=Actor(Principal(role="it", username="alice")),
        action="x.formula",
        object_id='=HYPERLINK("http://evil")',
    )
    session.commit()
    admin = login_as("admin")
    response = admin.get("/admin/audit-log/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:3] == ["id", "at", "actor"]
    formula_row = next(row for row in rows if row[5] == "x.formula")
    assert formula_row[7].startswith("'=")
    assert any(row[5] == "audit.export" for row in rows[1:])


def test_only_admins_read_the_audit_log(login_as):
    for role in ("it", "auditor", "management"):
        assert login_as(role).get("/admin/audit-log").status_code == 403


def test_the_whole_sign_in_is_on_the_trail(client, login_as, make_user, session):
    make_user("it", "it.ops")
    post_login(client, "it.ops", TEST_PASSWORD)
    client.post(
        "/logout", headers={"X-CSRF-Token": client.get("/profile").text.split('"X-CSRF-Token": "')[1].split('"')[0]}
    )
    text = login_as("admin").get("/admin/audit-log", params={"actor": "it.ops"}).text
    assert "auth.login" in text and "auth.logout" in text


def test_the_page_links_the_newest_checkpoint(login_as, session, store, settings):
    from audit_portal.audit.checkpoints import write_checkpoint

    admin = login_as("admin")
    assert "Newest checkpoint: none yet" in admin.get("/admin/audit-log").text
    record_event(session, actor=Actor(Principal(role="admin", username="root")), action="x.one")
    checkpoint = write_checkpoint(session, store, settings)
    session.commit()
    page = admin.get("/admin/audit-log").text
    assert f'href="/evidence/{checkpoint.evidence_id}"' in page
    assert f"Audit log checkpoint: {checkpoint.event_count} events" in page


def _screen_ids(admin, params: dict[str, str]) -> list[int]:  # type: ignore[no-untyped-def]
    """Every event id the filtered list shows, page after page."""
    import re

    ids: list[int] = []
    for page in range(1, 20):
        html = admin.get("/admin/audit-log", params={**params, "page": str(page)}, headers={"HX-Request": "true"}).text
        ids += [int(n) for n in re.findall(r"<tr>\s*<td>(\d+)</td>", html)]
        if "Older →" not in html:
            return ids
    raise AssertionError("the list did not end")


def test_the_csv_export_follows_the_filter_on_screen(login_as, session):
    from audit_portal.audit.routes import PAGE_SIZE

    for n in range(PAGE_SIZE + 5):  # more than one page of matches
        record_event(session, actor=Actor(Principal(role="it", username="alice")), action="x.kept", object_id=str(n))
        record_event(session, actor=Actor(Principal(role="it", username="bob")), action="x.kept")
    record_event(session, actor=Actor(Principal(role="it", username="alice")), action="y.other")
    session.commit()
    admin = login_as("admin")
    params = {"actor": "alice", "action": "x."}
    # the filtered table (as htmx swaps it in) carries the export link with the same filter
    table = admin.get("/admin/audit-log", params=params, headers={"HX-Request": "true"}).text
    link = table.split('class="button secondary export-csv" href="')[1].split('"')[0].replace("&amp;", "&")
    assert link == "/admin/audit-log/export.csv?actor=alice&action=x."
    rows = list(csv.DictReader(io.StringIO(admin.get(link).text)))
    exported = [int(row["id"]) for row in rows]
    assert sorted(exported) == sorted(_screen_ids(admin, params))
    assert len(exported) == PAGE_SIZE + 5 and {row["actor"] for row in rows} == {"alice"}
    assert {row["action"] for row in rows} == {"x.kept"}
