"""When a review's sign-off was due, and whether it came late.

The catalogue gives a requirement a frequency and a grace, "tolerated lateness before it counts
as stale". A review is due when its run produced it, so a sign-off is late when it comes more
than the grace after the run started (the smallest grace of the instance's requirements that
need a sign-off: COM-1/firewall-review allows 14 days). A late sign-off still counts for
coverage; the run list, the run page and the auditor's pages flag it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from audit_portal.catalogue.models import Requirement
from audit_portal.clock import as_utc


def signoff_grace(requirements: Iterable[Requirement]) -> timedelta | None:
    """The time a review may take after its run, or None when no requirement needs a sign-off."""
    graces = [r.grace_days for r in requirements if r.needs_signoff]
    return timedelta(days=min(graces)) if graces else None


@dataclass(frozen=True)
class SignoffState:
    """Who signed a run's review off and when, against when it was due."""

    signed_by: str
    signed_at: datetime
    run_started_at: datetime
    grace: timedelta

    @property
    def due_by(self) -> datetime:
        return as_utc(self.run_started_at) + self.grace

    @property
    def late(self) -> bool:
        return as_utc(self.signed_at) > self.due_by

    @property
    def days_after_run(self) -> int:
        return (as_utc(self.signed_at) - as_utc(self.run_started_at)).days


def overdue(run_started_at: datetime, grace: timedelta | None, now: datetime) -> bool:
    """Whether a review not signed off yet is past its grace."""
    return grace is not None and as_utc(now) > as_utc(run_started_at) + grace
