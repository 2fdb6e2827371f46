"""Test data for the suites, made through the portal's own services and repositories. Plain
functions: each folder's fixtures call them with the keywords that make its data differ."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlmodel import Session

from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.catalogue.library import LIBRARY_FRAMEWORKS
from audit_portal.catalogue.models import RequirementSwitchOff
from audit_portal.catalogue.service import load_catalogue as load_builtin_catalogue
from audit_portal.soa.service import ensure_defaults

LIBRARY_SWITCH_OFF_REASON = "proven through the Annex 2 measures in this test"


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def load_catalogue(
    session: Session, *, soa_defaults: bool = False, library: bool = True, commit: bool = False
) -> Session:
    """The built-in catalogue; with ``soa_defaults`` its default Statement of Applicability, and
    with ``library=False`` the ISO library requirements switched off, as in the demo, so that
    the Annex 2 measures alone prove the controls.

    ``commit`` suits tests whose requests fail on purpose: the app's session rolls back to the
    last commit, which must not take the catalogue with it."""
    load_builtin_catalogue(session)
    if soa_defaults:
        ensure_defaults(session)
    if not library:
        switch_off_library(session)
    if commit:
        session.commit()
    return session


def switch_off_library(session: Session, reason: str = LIBRARY_SWITCH_OFF_REASON) -> int:
    """Switch off every library requirement (ISO controls and clauses), leaving the measures'.

    Rows rather than the library service: the service records an audit event per requirement,
    which would crowd the audit log that the tests read."""
    requirements = [
        requirement
        for framework_key in LIBRARY_FRAMEWORKS
        for requirement in catalogue_repository.requirements_of_framework(session, framework_key)
    ]
    session.add_all(
        RequirementSwitchOff(
            requirement_id=requirement.id,
            reason=reason,
            switched_off_by="test",
            switched_off_at=at(date(2026, 1, 1)),
        )
        for requirement in requirements
    )
    session.flush()
    return len(requirements)
