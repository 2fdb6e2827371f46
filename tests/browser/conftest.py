"""The audit the browser tests play through, on the live server of tests/browser_fixtures.py."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pyotp
import pytest

from audit_portal.auth.passwords import generate_password
from audit_portal.auth.service import AccessWindow, create_user
from audit_portal.catalogue.library import switch_off
from audit_portal.catalogue.service import load_catalogue
from audit_portal.clock import utcnow
from audit_portal.db import unit_of_work
from audit_portal.engagements.models import Engagement, EngagementAuditor
from audit_portal.evidence import service as evidence_service
from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
from audit_portal.principals import Actor, Principal
from audit_portal.soa import service as soa_service
from audit_portal.soa.service import ensure_defaults
from evidence_store import open_store

POLICY = b"Information security policy v4.2\nApproved by the board on 2026-03-02.\nScope: hosting platform.\n"


@pytest.fixture
def audit(live_server):  # type: ignore[no-untyped-def]
    """A fresh engagement with its own auditor, IT and management accounts; POL-1 has fresh
    evidence, POL-2 has none, so control 5.1 is partial."""
    suffix = uuid.uuid4().hex[:6]
    accounts = {role: (f"{role}.{suffix}", generate_password()) for role in ("auditor", "it", "management")}
    totp_secret = pyotp.random_base32()
    store = open_store(live_server.settings.store_url)
    with unit_of_work(live_server.engine) as session:
        load_catalogue(session)
        ensure_defaults(session)
        # 5.1 is proven through the measures POL-1 and POL-2 here, as in the demo
        switch_off(
            session,
            key="5.1/policy-set",
            reason="Proven through the Annex 2 measures POL-1 and POL-2.",
            actor=Actor(Principal(role="admin", username="browser-test")),
        )
        window = AccessWindow(valid_until=utcnow() + timedelta(days=30))
        users = {
            role: create_user(
                session,
                username=name,
                role=role,
                password=password,
                window=window if role == "auditor" else AccessWindow(),
                actor=Actor.system("test"),
            )
            for role, (name, password) in accounts.items()
        }
        auditor = users["auditor"]
        auditor.totp_secret = totp_secret
        auditor.totp_enabled_at = utcnow()
        today = utcnow().date()
        engagement = Engagement(
            name=f"Surveillance audit {suffix}",
            framework_key="iso27001-2022",
            period_start=today - timedelta(days=365),
            period_end=today,
            created_at=utcnow(),
        )
        session.add(engagement)
        session.flush()
        session.add(EngagementAuditor(engagement_id=engagement.id, user_id=auditor.id))
        it = users["it"]
        evidence_service.ingest(
            session,
            store,
            stream=io.BytesIO(POLICY),
            filename="security-policy.txt",
            meta=EvidenceMeta(
                title=f"Information security policy {suffix}",
                requirements=["POL-1/policy-document"],
                collected_at=utcnow() - timedelta(days=20),
            ),
            source=EvidenceSource.upload(it.id),
            max_bytes=live_server.settings.max_upload_bytes,
            actor=Actor(Principal(role="it", username=it.username, user_id=it.id)),
        )
        # clause 9.3: this year's management review is on file; 4.3 (scope) is not
        evidence_service.ingest(
            session,
            store,
            stream=io.BytesIO(b"Management review minutes\n"),
            filename="management-review.txt",
            meta=EvidenceMeta(
                title=f"Management review {suffix}",
                requirements=["C.9.3/management-review"],
                collected_at=utcnow() - timedelta(days=40),
            ),
            source=EvidenceSource.upload(it.id),
            max_bytes=live_server.settings.max_upload_bytes,
            actor=Actor(Principal(role="it", username=it.username, user_id=it.id)),
        )
        # 5.5 is marked implemented in the SoA, but nothing proves it: a contradiction
        row = soa_service.soa_row(session, "5.5")
        soa_service.apply_change(
            session,
            row=row,
            change=soa_service.SoaChange(True, "Contacts with authorities are kept.", "implemented", "M. Jansen"),
            actor=soa_service.SYSTEM,
        )
        engagement_id = engagement.id
    return {"engagement": engagement_id, "accounts": accounts, "totp": totp_secret, "suffix": suffix}
