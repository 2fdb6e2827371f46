"""The review sign-offs and firewall rule decisions of the runs whose evidence is in a package
(``review_signoffs.csv`` and ``rule_decisions.csv``), read in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple, Protocol

from sqlmodel import Session

from audit_portal.auth import repository as auth_repository
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.collection import repository as collection_repository
from audit_portal.collection.signoffs import SignoffState, signoff_grace
from audit_portal.evidence import repository as evidence_repository

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


class RunItem(Protocol):
    """What the review rows need of an item (an evidence row has it, and so has a plain row)."""

    @property
    def id(self) -> int | None: ...

    @property
    def collector_run_id(self) -> int | None: ...

    @property
    def collector_instance(self) -> str | None: ...

    @property
    def collected_at(self) -> datetime: ...


class _RunMember(NamedTuple):
    """An item of a run as kept until the rows are written: three fields, not the whole row, so
    a streamed package does not hold every run's evidence in memory."""

    id: int
    collector_instance: str | None
    collected_at: datetime


def review_rows(
    session: Session, items: Iterable[tuple[RunItem, Iterable[str]]]
) -> tuple[list[list[object]], list[list[object]]]:
    """(sign-off rows, decision rows) for the runs of the given (item, requirement keys); an item
    given more than once counts once, with the keys of all its mentions."""
    runs: dict[int, list[_RunMember]] = defaultdict(list)
    keys_of_run: dict[int, set[str]] = defaultdict(set)
    seen: set[int] = set()
    for item, keys in items:
        if item.collector_run_id is None or item.id is None:
            continue
        keys_of_run[item.collector_run_id].update(keys)
        if item.id in seen:
            continue
        seen.add(item.id)
        runs[item.collector_run_id].append(_RunMember(item.id, item.collector_instance, item.collected_at))
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
        members = sorted(runs[run_id])
        instance = members[0].collector_instance or ""
        collected: datetime = min(e.collected_at for e in members)
        grace = signoff_grace(requirements[k] for k in keys_of_run[run_id] if k in requirements)
        signed = [signoffs[e.id] for e in members if e.id in signoffs]
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
                    " ".join(str(e.id) for e in members if e.id in signoffs),
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
