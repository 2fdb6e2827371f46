from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
from sqlalchemy import select

from audit_portal.catalogue.models import Control
from audit_portal.evidence.models import Evidence
from tests import factories


@pytest.fixture
def add_evidence(catalogue) -> Callable[..., Evidence]:
    """``add_evidence(requirement_key, collected, **columns)``: see factories.add_evidence_row."""
    return partial(factories.add_evidence_row, catalogue)


def control_id(session, framework: str, ref: str) -> int:
    return session.scalars(select(Control.id).where(Control.framework_key == framework, Control.ref == ref)).one()
