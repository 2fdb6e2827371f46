"""The review sign-offs and firewall rule decisions of the runs whose evidence is in a package
(``review_signoffs.csv`` and ``rule_decisions.csv``), read in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from sqlmodel import Session

from audit_portal.auth import repository as auth_repository
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.collection import repository as collection_repository
from audit_portal.collection.signoffs import SignoffState, signoff_grace
from audit_portal.evidence import repository as evidence_repository
from audit_portal.evidence.models import Evidence

SIGNOFF_COLUMNS = (
    "run",
    "collector_instance",
    "collected_at",
    "signed_by",
    "signed_at",
    "days_after_run",
    "grace_days",
    "late",
    "remark",
    "evidence_items",
)
DECISION_COLUMNS = (
    "run",
    "collector_instance",
    "rule",
    "rule_label",
    "rule_text",
    "decision",
    "reason",
    "decided_by",
    "decided_at",
)


class _RunItem(NamedTuple):
    """What the review rows need of an item: kept instead of the row, so a streamed package does
    not hold every run's evidence in memory."""

    id: int
    collector_instance: str | None
    collected_at: datetime


def review_rows(
    session: Session, files: Iterable[tuple[Evidence, tuple[str, ...]]]
) -> tuple[list[list[object]], list[list[object]]]:
    """(sign-off rows, decision rows) for the runs of the given (evidence, requirement keys)."""
    runs: dict[int, list[_RunItem]] = defaultdict(list)
    keys_of_run: dict[int, set[str]] = defaultdict(set)
    seen: set[int] = set()
    for evidence, keys in files:
        if evidence.collector_run_id is None or evidence.id in seen:
            continue
        seen.add(evidence.id)
        runs[evidence.collector_run_id].append(
            _RunItem(evidence.id, evidence.collector_instance, evidence.collected_at)
        )
        keys_of_run[evidence.collector_run_id] |= set(keys)
    if not runs:
        return [], []
    requirements = catalogue_repository.requirements_by_key(session, {k for keys in keys_of_run.values() for k in keys})
    signoffs = evidence_repository.signoffs_of(session, seen)
    decisions = collection_repository.rule_decisions_of_runs(session, runs)
    names = auth_repository.usernames(
        session,
        [s.signed_by_id for s in signoffs.values()] + [d.decided_by_id for ds in decisions.values() for d in ds],
    )
    signoff_rows: list[list[object]] = []
    decision_rows: list[list[object]] = []
    for run_id in sorted(runs):
        items = sorted(runs[run_id], key=lambda e: e.id or 0)
        instance = items[0].collector_instance or ""
        collected: datetime = min(e.collected_at for e in items)
        grace = signoff_grace(requirements[k] for k in keys_of_run[run_id] if k in requirements)
        signed = [signoffs[e.id] for e in items if e.id in signoffs]
        if signed and grace is not None:
            first = signed[0]
            state = SignoffState(names.get(first.signed_by_id, "?"), first.signed_at, collected, grace)
            signoff_rows.append(
                [
                    run_id,
                    instance,
                    collected.isoformat(),
                    state.signed_by,
                    state.signed_at.isoformat(),
                    state.days_after_run,
                    grace.days,
                    "yes" if state.late else "no",
                    first.remark,
                    " ".join(str(e.id) for e in items if e.id in signoffs),
                ]
            )
        for decision in decisions.get(run_id, []):
            decision_rows.append(
                [
                    run_id,
                    instance,
                    decision.rule_index,
                    decision.rule_label,
                    decision.rule_text,
                    decision.decision,
                    decision.reason,
                    names.get(decision.decided_by_id, "?"),
                    decision.decided_at.isoformat(),
                ]
            )
    return signoff_rows, decision_rows
