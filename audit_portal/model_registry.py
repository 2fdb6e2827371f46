"""Imports every table model so ``SQLModel.metadata`` is complete for Alembic and tests.
A new domain adds its ``models`` module here."""

from audit_portal.audit import models as audit_models  # noqa: F401
from audit_portal.audit import refusal_models  # noqa: F401
from audit_portal.auth import models as auth_models  # noqa: F401
from audit_portal.catalogue import models as catalogue_models  # noqa: F401
from audit_portal.collection import models as collection_models  # noqa: F401
from audit_portal.coverage import models as coverage_models  # noqa: F401
from audit_portal.engagements import models as engagement_models  # noqa: F401
from audit_portal.engagements import sample_models  # noqa: F401
from audit_portal.evidence import models as evidence_models  # noqa: F401
from audit_portal.findings import models as finding_models  # noqa: F401
from audit_portal.notifications import models as notification_models  # noqa: F401
from audit_portal.portal import models as portal_models  # noqa: F401
from audit_portal.reports import models as report_models  # noqa: F401
from audit_portal.requests import models as request_models  # noqa: F401
from audit_portal.soa import models as soa_models  # noqa: F401
from audit_portal.sso import models as sso_models  # noqa: F401
from audit_portal.trends import models as trend_models  # noqa: F401
