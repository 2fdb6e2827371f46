"""Queries on ``portal_setting``."""

from __future__ import annotations

from sqlmodel import Session

from audit_portal.portal.models import PortalSetting


def setting(session: Session, key: str) -> PortalSetting | None:
    return session.get(PortalSetting, key)


def add(session: Session, row: PortalSetting) -> None:
    session.add(row)
    session.flush()
