"""A loaded catalogue with its default Statement of Applicability."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from audit_portal.catalogue.service import load_catalogue
from audit_portal.soa.service import ensure_defaults


@pytest.fixture
def catalogue(session: Session) -> None:
    load_catalogue(session)
    ensure_defaults(session)
