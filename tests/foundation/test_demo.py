"""`make run` loads the demo only into an empty database: one without accounts."""

from __future__ import annotations

from audit_portal.catalogue.service import load_catalogue
from audit_portal.demo import database_is_empty
from audit_portal.portal import service as portal_settings
from audit_portal.soa.service import ensure_defaults


def test_catalogue_and_soa_defaults_leave_the_database_empty(session):
    load_catalogue(session)
    ensure_defaults(session)
    assert database_is_empty(session)


def test_an_account_means_the_portal_is_in_use(session, make_user):
    make_user("admin")
    assert not database_is_empty(session)


def test_a_loaded_demo_is_never_loaded_again(session):
    portal_settings.set_value(session, portal_settings.DEMO_KEY, "2026-11-28T10:00:00")
    assert not database_is_empty(session)
