"""The Statement of Applicability: defaults, the pages, editing by admins, audit events."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from audit_portal.audit.models import AuditEvent
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.principals import Actor, Principal
from audit_portal.soa import service
from audit_portal.soa.models import SoaEntry

ROLES = ["admin", "it", "auditor", "management"]
# Annex 2 maps its 34 measures onto 42 distinct 2022 controls.
MAPPED_CONTROLS = 42


def entry(session: Session, ref: str) -> SoaEntry:
    control = catalogue_repository.control_by_ref(session, service.SOA_FRAMEWORK, ref)
    assert control is not None
    found = session.get(SoaEntry, control.id, populate_existing=True)
    assert found is not None
    return found


def events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def form(**fields: str) -> dict[str, str]:
    return {"applicable": "yes", "justification": "", "status": "implemented", "owner": "", **fields}


class TestDefaults:
    def test_every_2022_control_gets_an_entry_applicable_when_a_measure_maps_to_it(self, catalogue, session) -> None:
        entries = session.scalars(select(SoaEntry)).all()
        assert len(entries) == 93
        assert sum(1 for e in entries if e.applicable) == MAPPED_CONTROLS
        assert {e.status for e in entries} == {"not_started"}
        backup = entry(session, "8.13")
        assert backup.applicable and backup.justification == (
            "Required by the organisation's Annex 2 measures PHY-3, BCM-1, BCM-2."
        )
        # 5.5 Contact with authorities: no measure of Annex 2 maps to it.
        authorities = entry(session, "5.5")
        assert not authorities.applicable
        assert authorities.justification == service.UNMAPPED_JUSTIFICATION

    def test_the_defaults_are_one_audit_event(self, catalogue, session) -> None:
        [recorded] = events(session, "soa.defaults")
        detail = json.loads(recorded.detail)
        assert len(detail["applicable"]) == MAPPED_CONTROLS
        assert len(detail["not_applicable"]) == 93 - MAPPED_CONTROLS
        assert (recorded.actor, recorded.actor_role) == ("system:soa-defaults", "system")

    def test_ensure_defaults_is_idempotent_and_never_overwrites(self, catalogue, session) -> None:
        admin = Principal(role="admin", username="admin")
        row = service.soa_row(session, "5.5")
        service.apply_change(
            session,
            row=row,
            actor=Actor(admin),
            change=service.SoaChange(True, "We report incidents to the Dutch DPA.", "partial", "CISO"),
        )
        session.delete(entry(session, "5.6"))
        session.flush()

        recreated = service.ensure_defaults(session)

        assert [e.control_id for e in recreated] == [entry(session, "5.6").control_id]
        assert service.ensure_defaults(session) == []
        kept = entry(session, "5.5")
        assert (kept.applicable, kept.status, kept.owner) == (True, "partial", "CISO")
        assert session.scalar(select(func.count()).select_from(SoaEntry)) == 93


class TestPages:
    @pytest.mark.parametrize("role", ROLES)
    def test_every_role_sees_the_soa(self, catalogue, login_as, role: str) -> None:
        response = login_as(role).get("/soa")
        assert response.status_code == 200
        assert response.text.count('<tr id="control-') == 93
        assert 'href="/soa/export.xlsx"' in response.text
        assert 'href="/soa"' in response.text  # in the main navigation
        assert ('href="/soa/8.13"' in response.text) is (role == "admin")

    def test_an_htmx_request_gets_the_content_only(self, catalogue, login_as) -> None:
        response = login_as("auditor").get("/soa", headers={"HX-Request": "true"})
        assert "<html" not in response.text and 'id="control-8.13"' in response.text

    def test_the_admin_gets_the_edit_form_with_the_current_values(self, catalogue, login_as) -> None:
        page = login_as("admin").get("/soa/5.5").text
        assert 'name="csrf_token"' in page
        assert 'value="no" checked' in page
        assert "review and confirm" in page

    def test_an_unknown_control_is_not_found(self, catalogue, login_as) -> None:
        assert login_as("admin").get("/soa/9.99").status_code == 404
        assert login_as("admin").post("/soa/A.5.1.1", data=form()).status_code == 404


class TestEditing:
    def test_an_admin_change_is_saved_and_recorded_with_before_and_after(self, catalogue, login_as, session) -> None:
        client = login_as("admin")
        csrf_token = client.headers.pop("X-CSRF-Token")  # a plain form post carries it as a field
        response = client.post(
            "/soa/5.5",
            data=form(
                justification="Incidents are reported to the Dutch DPA.",
                status="partial",
                owner="Security officer",
                csrf_token=csrf_token,
            ),
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/soa#control-5.5"
        saved = entry(session, "5.5")
        assert (saved.applicable, saved.status, saved.owner) == (True, "partial", "Security officer")
        assert saved.updated_by == client.user.username
        [recorded] = events(session, "soa.update")
        assert (recorded.object_id, recorded.actor, recorded.actor_role) == ("5.5", client.user.username, "admin")
        detail = json.loads(recorded.detail)
        assert detail["before"] == {
            "applicable": False,
            "justification": service.UNMAPPED_JUSTIFICATION,
            "status": "not_started",
            "owner": None,
        }
        assert detail["after"] == {
            "applicable": True,
            "justification": "Incidents are reported to the Dutch DPA.",
            "status": "partial",
            "owner": "Security officer",
        }

    def test_saving_unchanged_values_records_nothing(self, catalogue, login_as, session) -> None:
        current = entry(session, "8.13")
        response = login_as("admin").post(
            "/soa/8.13",
            data=form(justification=current.justification, status=current.status),
        )
        assert response.status_code == 303
        assert events(session, "soa.update") == []

    @pytest.mark.parametrize("role", ["it", "auditor", "management"])
    def test_other_roles_may_not_edit(self, catalogue, login_as, session, role: str) -> None:
        client = login_as(role)
        assert client.get("/soa/8.13").status_code == 403
        response = client.post("/soa/8.13", data=form(applicable="no", justification="Not needed."))
        assert response.status_code == 403
        assert entry(session, "8.13").applicable is True
        assert events(session, "soa.update") == []

    def test_excluding_without_justification_is_refused_in_place(self, catalogue, login_as, session) -> None:
        response = login_as("admin").post(
            "/soa/8.13", data=form(applicable="no", justification="   ", status="not_started")
        )
        assert response.status_code == 422
        assert "Say why the control is excluded." in response.text
        assert 'aria-invalid="true"' in response.text
        assert 'value="no" checked' in response.text  # what was typed is kept
        unchanged = entry(session, "8.13")
        assert unchanged.applicable is True and unchanged.justification.startswith("Required by")
        assert events(session, "soa.update") == []

    @pytest.mark.parametrize(
        "fields",
        [
            {"status": "done"},
            {"applicable": "maybe"},
            {"applicable": ""},
            {"owner": "x" * 101},
            {"justification": "x" * 4001},
        ],
    )
    def test_bad_input_is_refused_and_changes_nothing(self, catalogue, login_as, session, fields) -> None:
        before = entry(session, "8.13").model_dump()
        response = login_as("admin").post("/soa/8.13", data=form(**fields))
        assert response.status_code == 422
        assert entry(session, "8.13").model_dump() == before
        assert events(session, "soa.update") == []

    def test_a_post_without_the_csrf_token_is_refused(self, catalogue, login_as, session) -> None:
        client = login_as("admin")
        client.headers.pop("X-CSRF-Token")
        response = client.post("/soa/8.13", data=form(applicable="no", justification="Not needed."))
        assert response.status_code == 403
        assert entry(session, "8.13").applicable is True
