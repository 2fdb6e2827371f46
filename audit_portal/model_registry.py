"""Imports every table model so ``SQLModel.metadata`` is complete for Alembic and tests.
A new domain adds its ``models`` module here."""
from audit_portal.portal import models as portal_models  # noqa: F401
