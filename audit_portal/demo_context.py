"""What each domain's demo step receives. A leaf module, so the domains' demo code does not
import the demo loader that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from rich.console import Console
from sqlmodel import Session

from audit_portal.config import Settings
from evidence_store import ObjectStore


@dataclass
class DemoContext:
    session: Session
    store: ObjectStore
    settings: Settings
    now: datetime
    console: Console
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (role, user, password)


DemoStep = Callable[[DemoContext], None]
