"""A loaded catalogue with its default Statement of Applicability."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from tests import factories


@pytest.fixture
def catalogue(session: Session) -> Session:
    return factories.load_catalogue(session, soa_defaults=True)
