"""A refused form changes nothing: every route that ends through ``audit_portal.forms.submit_form``
is posted a form it must refuse, by a role allowed to post it, and the database holds the same
rows afterwards. What may be added is the record of the attempt: the audit events of reading the
page again and of a refused or failed attempt (a wrong current password is logged on purpose).
The form routes are found in the app, so a new form fails here until it says how it is refused."""

from __future__ import annotations

import hashlib
import inspect
import re

import pytest
from sqlalchemy import select
from sqlmodel import Session, SQLModel

from audit_portal.audit.models import AuditEvent
from audit_portal.authz import MATRIX, app_routes, route_action
from tests.engagements.fixtures import catalogue  # noqa: F401 - the fixture
from tests.security.test_scope import audits  # noqa: F401 - the fixture

# Rows any request writes: the session it ran in (last seen) and the audit chain's head (a view
# is an audit event). The audit log itself is compared by its successful changes.
BOOKKEEPING = {"web_session", "audit_event", "audit_chain_head"}
HTMX = {"HX-Request": "true"}

# "POST path" -> (role, form, headers). Values in {braces} are filled from the set-up.
REFUSED = {
    "POST /engagements/new": ("admin", {"name": "", "period_start": "2026-13-01"}, {}),
    "POST /engagements/{engagement_id}/edit": ("admin", {"name": "x", "period_start": "not a date"}, {}),
    "POST /engagements/{engagement_id}/evidence/{evidence_id}/review": (
        "auditor",
        {"decision": "reject", "comment": " "},
        HTMX,
    ),
    "POST /engagements/{engagement_id}/controls/{ref}/requirements/{requirement_id}/occurrences/review": (
        "auditor",
        {"occurrence": "{evidence_id}", "decision": "reject", "comment": " "},
        HTMX,
    ),
    "POST /engagements/{engagement_id}/samples": ("auditor", {"subject": "OPS-2/patches", "method": "bogus"}, {}),
    "POST /engagements/{engagement_id}/samples/{sample_id}/items/{item_id}/result": (
        "auditor",
        {"result": "exception", "note": ""},
        {},
    ),
    "POST /engagements/{engagement_id}/samples/{sample_id}/conclude": (
        "auditor",
        {"conclusion": "effective", "conclusion_note": "ok"},
        {},
    ),
    "POST /engagements/{engagement_id}/findings/new": ("auditor", {"title": "", "severity": "bogus"}, {}),
    "POST /engagements/{engagement_id}/findings/{finding_id}/edit": ("auditor", {"title": "", "severity": "x"}, {}),
    "POST /engagements/{engagement_id}/findings/{finding_id}/plan": ("it", {"owner": "", "due_date": "no"}, {}),
    "POST /engagements/{engagement_id}/findings/{finding_id}/remediate": ("it", {"note": "", "evidence_ids": "x"}, {}),
    "POST /engagements/{engagement_id}/findings/{finding_id}/verify": ("auditor", {"decision": "bogus"}, {}),
    "POST /engagements/{engagement_id}/requests/new": ("auditor", {"subject": "", "question": "", "due_date": ""}, {}),
    "POST /engagements/{engagement_id}/requests/{request_id}/answer": ("it", {"evidence_ids": "one", "note": ""}, {}),
    "POST /collectors": ("admin", {"name": "", "collector": "firewall"}, {}),
    "POST /runs/{run_id}/rule-decisions": ("it", {"rule": "0", "decision": "bogus", "reason": ""}, {}),
    "POST /runs/{run_id}/signoff": ("it", {"remark": ""}, {}),
    "POST /runs/{run_id}/advisory-decisions": ("it", {"advisory": "", "status": "bogus"}, {}),
    "POST /notifications": ("it", {"email": "not an address", "digest": "on"}, {}),
    "POST /soa/{ref}": ("admin", {"applicable": "perhaps", "status": "bogus"}, {}),
    "POST /catalogue/requirements/switch-off": ("admin", {"key": "OPS-2/patches", "reason": ""}, {}),
    "POST /admin/users": ("admin", {"username": "", "role": "bogus"}, {}),
    "POST /admin/users/{user_id}": ("admin", {"role": "bogus"}, {}),
    "POST /admin/users/{own_user_id}/revoke": ("admin", {}, {}),
    "POST /admin/tokens": ("admin", {"name": "", "scopes": "bogus"}, {}),
    "POST /profile/settings": ("it", {"email": "x", "language": "xx", "time_zone": "Mars/Olympus"}, {}),
    "POST /profile/password": ("it", {"current_password": "wrong", "new_password": "a", "confirm_password": "b"}, {}),
    "POST /profile/2fa/recovery-codes": ("it", {"password": "wrong"}, {}),
    "POST /profile/2fa/disable": ("it", {"password": "wrong"}, {}),
}
# Form routes that cannot be refused from a signed-in page's state, and why.
NOT_REFUSABLE_HERE = {
    "POST /profile/2fa": "starting an enrolment has no input; it is refused only when already enrolled",
    "POST /profile/2fa/confirm": "without an enrolment started it sends the user back to the profile",
}


def _ends_through_submit_form(function) -> bool:  # type: ignore[no-untyped-def]
    """The function calls submit_form, or a helper of its module that does (``_after_step``)."""
    module = inspect.getmodule(function)
    helpers = {
        name
        for name, member in inspect.getmembers(module, inspect.isfunction)
        if member.__module__ == module.__name__ and "submit_form(" in inspect.getsource(member)
    }
    called = set(re.findall(r"\b(\w+)\(", inspect.getsource(function)))
    return "submit_form" in called or bool(called & helpers)


def _form_routes(app) -> set[str]:  # type: ignore[no-untyped-def]
    return {
        f"POST {route.path}"
        for route in app_routes(app)
        if "POST" in (route.methods or ()) and _ends_through_submit_form(route.endpoint)
    }


def _route_of(key: str) -> str:
    """The app's route of a REFUSED key (revoking names the signed-in admin's own account)."""
    return key.replace("{own_user_id}", "{user_id}")


def test_every_form_route_says_how_it_is_refused(app):
    assert _form_routes(app) == {_route_of(key) for key in REFUSED} | set(NOT_REFUSABLE_HERE)


def _fingerprint(session: Session) -> dict[str, str]:
    """A digest of every table's rows; of the audit log, the successful changes."""
    session.expire_all()
    assert BOOKKEEPING <= set(SQLModel.metadata.tables)
    digests = {}
    for table in SQLModel.metadata.sorted_tables:
        if table.name in BOOKKEEPING:
            continue
        rows = session.execute(select(table)).all()
        digests[table.name] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
    changes = session.execute(
        select(AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id).where(
            AuditEvent.outcome == "success", AuditEvent.action.not_like("%view%")
        )
    ).all()
    digests["audit_event"] = repr(sorted(changes))
    return digests


@pytest.fixture
def world(audits, login_as, session, make_user):  # type: ignore[no-untyped-def]  # noqa: F811
    mine = audits.mine
    auditor = login_as(audits.auditor)
    drawn = auditor.post(
        f"/engagements/{mine.engagement.id}/samples",
        data={"subject": "OPS-2/patches", "method": "random", "seed": "12345"},
    )
    assert drawn.status_code == 303, drawn.text
    sample_id = int(drawn.headers["location"].rsplit("/", 1)[1])
    item_id = int(re.findall(r"/items/(\d+)/result", auditor.get(drawn.headers["location"]).text)[0])
    admin = make_user("admin")
    return {
        "clients": {"auditor": auditor, "admin": login_as(admin), "it": login_as("it")},
        "values": {
            "engagement_id": mine.engagement.id,
            "evidence_id": mine.evidence[0].id,
            "requirement_id": mine.request.requirement_id,
            "ref": "8.8",
            "sample_id": sample_id,
            "item_id": item_id,
            "finding_id": mine.finding.id,
            "request_id": mine.request.id,
            "run_id": mine.run.id,
            "user_id": audits.auditor.id,
            "own_user_id": admin.id,
        },
    }


def _fill(text: str, values: dict[str, object]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: str(values[m.group(1)]), text)


@pytest.mark.parametrize("route", sorted(REFUSED))
def test_a_refused_form_changes_nothing(route, world, session):
    role, form, headers = REFUSED[route]
    values = world["values"]
    path = _fill(route.split(" ", 1)[1], values)
    data = {name: _fill(value, values) for name, value in form.items()}
    before = _fingerprint(session)
    response = world["clients"][role].post(path, data=data, headers=headers)
    assert 400 <= response.status_code < 500, f"{route}: {response.status_code} {response.text[:300]}"
    after = _fingerprint(session)
    assert {name for name in before if before[name] != after[name]} == set(), route


def test_the_fingerprint_sees_a_change(world, session):
    """The comparison above is not blind: a form that is accepted changes the fingerprint."""
    before = _fingerprint(session)
    values = world["values"]
    accepted = world["clients"]["auditor"].post(
        f"/engagements/{values['engagement_id']}/requests/new",
        data={"subject": "8.8", "question": "Show the patch report", "due_date": "2099-01-31"},
    )
    assert accepted.status_code == 303
    after = _fingerprint(session)
    assert "evidence_request" in {name for name in before if before[name] != after[name]}


def test_the_roles_may_post_what_they_are_refused(app):
    """Each refusal above is the form's, not the authorisation's: the role may post the route."""
    routes = {f"POST {route.path}": route for route in app_routes(app) if "POST" in (route.methods or ())}
    for key, (role, _form, _headers) in REFUSED.items():
        route = routes[_route_of(key)]
        assert role in MATRIX[route_action(route)], key
