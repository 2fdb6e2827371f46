"""Fixtures the engagement, request and finding tests share: a loaded catalogue with its default
SoA, an engagement over the last year with one assigned auditor, and evidence ingested through
the evidence service into the test store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlmodel import Session

from audit_portal.auth.models import UserAccount
from audit_portal.clock import utcnow
from audit_portal.engagements import service
from audit_portal.evidence.models import Evidence
from audit_portal.principals import Actor, Principal
from tests import factories


def principal_of(user: UserAccount) -> Principal:
    return Principal(role=user.role, username=user.username, user_id=user.id)


@dataclass
class Workspace:
    session: Session
    engagement_id: int
    auditor: UserAccount
    admin: UserAccount
    it: UserAccount

    @property
    def auditor_principal(self) -> Principal:
        return principal_of(self.auditor)

    @property
    def admin_principal(self) -> Principal:
        return principal_of(self.admin)

    @property
    def it_principal(self) -> Principal:
        return principal_of(self.it)


@pytest.fixture
def catalogue(session: Session) -> Session:
    # These tests follow the Annex 2 measures; tests/coverage/test_library.py covers the library.
    return factories.load_catalogue(session, soa_defaults=True, library=False)


@pytest.fixture
def workspace(catalogue: Session, make_user) -> Workspace:  # type: ignore[no-untyped-def]
    admin = make_user("admin")
    auditor = make_user("auditor")
    today = utcnow().date()
    form = service.EngagementForm(
        name="Surveillance audit",
        framework_key="iso27001-2022",
        period_start=(today - timedelta(days=365)).isoformat(),
        period_end=(today + timedelta(days=30)).isoformat(),
        auditor_ids=[auditor.id],
    )
    engagement = service.create_engagement(catalogue, form=form, actor=Actor(principal_of(admin)))
    return Workspace(catalogue, engagement.id, auditor, admin, make_user("it"))  # type: ignore[arg-type]


@pytest.fixture
def add_evidence(catalogue: Session, store, make_user):  # type: ignore[no-untyped-def]
    """``add_evidence("OPS-2/patches", days_ago=3, **meta)``: one item ingested into the store."""
    uploader = make_user("it")

    def add(
        requirement: str | None,
        *,
        days_ago: int = 1,
        title: str | None = None,
        controls: list[str] | None = None,
    ) -> Evidence:
        collected = factories.at(day(days_ago))
        if collected > utcnow():
            collected = utcnow() - timedelta(minutes=1)
        return factories.add_evidence(
            catalogue,
            store,
            uploaded_by=uploader.id,
            content=f"proof {requirement} {days_ago} {title}".encode(),
            collected_at=collected,
            title=title or f"{requirement} proof {days_ago} days ago",
            requirements=[requirement] if requirement else [],
            controls=controls or [],
        )

    return add


def day(days_ago: int) -> date:
    return utcnow().date() - timedelta(days=days_ago)
