"""Run-time settings kept in the database (``portal_setting``), with typed accessors."""

from __future__ import annotations

from sqlmodel import Session

from audit_portal.clock import utcnow
from audit_portal.portal import repository
from audit_portal.portal.models import PortalSetting

DEMO_KEY = "demo_loaded_at"


def get_value(session: Session, key: str) -> str | None:
    setting = repository.setting(session, key)
    return setting.value if setting else None


def set_value(session: Session, key: str, value: str) -> None:
    setting = repository.setting(session, key)
    now = utcnow()
    if setting is None:
        repository.add(session, PortalSetting(key=key, value=value, updated_at=now))
    else:
        setting.value = value
        setting.updated_at = now
        session.flush()


def get_flag(session: Session, key: str) -> bool:
    return get_value(session, key) == "true"


def set_flag(session: Session, key: str, enabled: bool) -> None:
    set_value(session, key, "true" if enabled else "false")


def is_demo(session: Session) -> bool:
    return get_value(session, DEMO_KEY) is not None
