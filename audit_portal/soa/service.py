"""The Statement of Applicability: one entry per ISO/IEC 27001:2022 Annex A control.

An entry says whether the control applies, why (required when it is excluded), how far it is
implemented, and who owns it. Defaults are proposed from the catalogue: a control that some
Annex 2 measure maps to is applicable, any other is excluded with a justification that asks for
review. Defaults never overwrite an entry that exists. Every change is an audit event carrying
the values before and after.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from sqlmodel import Session

from audit_portal import clock
from audit_portal.audit.service import record_event
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.catalogue.models import KIND_CONTROL, MAPS_TO, Control, Requirement
from audit_portal.coverage.service import (
    FAILING,
    MISSING,
    PARTIAL,
    STALE,
    ControlCoverage,
    CoverageReport,
    coverage_as_of,
)
from audit_portal.errors import InvalidInput, NotFound
from audit_portal.i18n import N_, Phrase, Sentences, Word, Words
from audit_portal.principals import Actor
from audit_portal.soa import repository
from audit_portal.soa.models import STATUSES, SoaEntry

SOA_FRAMEWORK = "iso27001-2022"
MEASURE_FRAMEWORK = "annex2"
STATUS_LABELS = {"not_started": N_("Not started"), "partial": N_("Partial"), "implemented": N_("Implemented")}
UNMAPPED_JUSTIFICATION = "No measure of the organisation's Annex 2 maps to this control; review and confirm."
JUSTIFICATION_MAX_LENGTH = 4000
OWNER_MAX_LENGTH = 100
# Who changes the SoA when no person does: the catalogue load and the demo.
SYSTEM = Actor.system("soa-defaults")  # proposes the defaults when nobody in particular asked


@dataclass(frozen=True)
class SoaRow:
    """One 2022 control with everything the SoA shows about it."""

    control: Control
    theme: str
    entry: SoaEntry | None
    measures: list[Control]
    requirements: list[Requirement]
    coverage: ControlCoverage | None = None  # evidence coverage of the certification year, as of `as_of`
    as_of: date | None = None

    @property
    def contradiction(self) -> Phrase | None:
        """Why the SoA's "implemented" is contradicted by the evidence, if it is."""
        return contradiction(self.entry, self.coverage)


# Evidence states that contradict a control marked implemented: nothing proves it now.
CONTRADICTING = (MISSING, STALE, FAILING, PARTIAL)


def contradiction(entry: SoaEntry | None, coverage: ControlCoverage | None) -> Phrase | None:
    """Why the SoA's "implemented" is contradicted, said in the reader's language where shown and
    in English (``str()``) in the copy kept as evidence."""
    if entry is None or not entry.applicable or entry.status != "implemented" or coverage is None:
        return None
    if coverage.status not in CONTRADICTING:
        return None
    return Phrase.of(
        N_("marked implemented, but its evidence is %(status)s: %(reason)s"),
        status=Word(coverage.status),
        reason=coverage.reason,
    )


def contradicted_controls(session: Session, report: CoverageReport) -> list[ControlCoverage]:
    """The controls of ``report`` (the 2022 Annex A) that the SoA marks implemented and whose
    evidence says otherwise, in catalogue order: one query for the implemented entries, instead of
    the whole SoA with its measures and requirements."""
    implemented = repository.implemented_entries(session)
    return [
        coverage
        for coverage in report.controls
        if coverage.control_id in implemented and contradiction(implemented[coverage.control_id], coverage)
    ]


@dataclass(frozen=True)
class SoaChange:
    applicable: bool
    justification: str | None
    status: str
    owner: str | None


def soa_rows(session: Session, *, as_of: date | None = None, with_coverage: bool = True) -> list[SoaRow]:
    """Every live 2022 Annex A control in catalogue order (the clauses are not in a SoA), with its
    evidence coverage as of ``as_of`` (default today) from :func:`coverage_as_of`."""
    controls = catalogue_repository.controls_of(session, SOA_FRAMEWORK, kind=KIND_CONTROL)
    rows = _rows_for(session, controls)
    if not with_coverage:
        return rows
    moment = as_of or clock.utcnow().date()
    report = coverage_as_of(session, SOA_FRAMEWORK, as_of=moment).by_id()
    return [replace(row, coverage=report.get(row.control.id), as_of=moment) for row in rows]


def soa_row(session: Session, ref: str) -> SoaRow:
    control = catalogue_repository.control_by_ref(session, SOA_FRAMEWORK, ref)
    if control is None or control.retired_at is not None or control.is_clause:
        raise NotFound(N_("ISO 27001:2022 has no control '%(ref)s'."), values={"ref": ref})
    return _rows_for(session, [control])[0]


def _rows_for(session: Session, controls: Sequence[Control]) -> list[SoaRow]:
    ids = [c.id for c in controls if c.id is not None]
    themes = {g.key: g.title for g in catalogue_repository.groups_in_order(session, SOA_FRAMEWORK)}
    measures: dict[int, list[Control]] = defaultdict(list)
    for mapping, measure in catalogue_repository.sources_mapped_to(
        session, ids, kind=MAPS_TO, source_framework_key=MEASURE_FRAMEWORK
    ):
        measures[mapping.target_id].append(measure)
    measure_ids = {m.id for found in measures.values() for m in found}
    requirements: dict[int, list[Requirement]] = defaultdict(list)
    for requirement in catalogue_repository.requirements_of_controls(session, set(ids) | measure_ids):
        requirements[requirement.control_id].append(requirement)
    entries = repository.entries_for(session, ids)
    return [
        SoaRow(
            control=control,
            theme=themes.get(control.group_key, control.group_key),
            entry=entries.get(control.id),
            measures=measures[control.id],
            requirements=requirements[control.id] + [r for m in measures[control.id] for r in requirements[m.id]],
        )
        for control in controls
    ]


def default_change(row: SoaRow) -> SoaChange:
    if row.measures:
        refs = ", ".join(m.ref for m in row.measures)
        noun = "measure" if len(row.measures) == 1 else "measures"
        return SoaChange(True, f"Required by the organisation's Annex 2 {noun} {refs}.", "not_started", None)
    return SoaChange(False, UNMAPPED_JUSTIFICATION, "not_started", None)


def ensure_defaults(session: Session, actor: Actor = SYSTEM) -> list[SoaEntry]:
    """Create the proposed entry for every 2022 control that has none; return the new ones.
    Running it again creates nothing; an existing entry is never touched."""
    now = clock.utcnow()
    created: list[tuple[SoaRow, SoaEntry]] = []
    for row in soa_rows(session, with_coverage=False):
        if row.entry is not None:
            continue
        change = default_change(row)
        assert row.control.id is not None
        entry = SoaEntry(
            control_id=row.control.id, updated_at=now, updated_by=actor.principal.username, **asdict(change)
        )
        repository.add(session, entry)
        created.append((row, entry))
    if created:
        session.flush()
        record_event(
            session,
            actor=actor,
            action="soa.defaults",
            object_type="soa",
            object_id=SOA_FRAMEWORK,
            detail={
                "applicable": [row.control.ref for row, entry in created if entry.applicable],
                "not_applicable": [row.control.ref for row, entry in created if not entry.applicable],
            },
        )
    return [entry for _, entry in created]


def parse_change(
    *, applicable: str | None, justification: str | None, status: str | None, owner: str | None
) -> SoaChange:
    """The change a form submits, or InvalidInput naming every field that is wrong."""
    errors: list[dict[str, Any]] = []
    applies = {"yes": True, "no": False}.get((applicable or "").strip().lower())
    if applies is None:
        errors.append({"location": "applicable", "message": N_("Choose whether the control applies.")})
    reason = (justification or "").strip() or None
    if applies is False and reason is None:
        errors.append({"location": "justification", "message": N_("Say why the control is excluded.")})
    if reason and len(reason) > JUSTIFICATION_MAX_LENGTH:
        errors.append(
            {
                "location": "justification",
                "message": N_("Keep the justification under %(most)s characters."),
                "values": {"most": JUSTIFICATION_MAX_LENGTH},
            }
        )
    status_value = (status or "").strip()
    if status_value not in STATUSES:
        errors.append(
            {
                "location": "status",
                "message": N_("Choose a status: %(choices)s."),
                "values": {"choices": Words(STATUS_LABELS[s] for s in STATUSES)},
            }
        )
    owner_value = (owner or "").strip() or None
    if owner_value and len(owner_value) > OWNER_MAX_LENGTH:
        errors.append(
            {
                "location": "owner",
                "message": N_("Keep the owner under %(most)s characters."),
                "values": {"most": OWNER_MAX_LENGTH},
            }
        )
    if errors:
        raise InvalidInput("%(reasons)s", values={"reasons": Sentences(errors, "; ")}, errors=errors)
    return SoaChange(bool(applies), reason, status_value, owner_value)


def _values(entry: SoaEntry) -> dict[str, object]:
    return {
        "applicable": entry.applicable,
        "justification": entry.justification,
        "status": entry.status,
        "owner": entry.owner,
    }


def apply_change(session: Session, *, row: SoaRow, change: SoaChange, actor: Actor) -> SoaEntry:
    """Write ``change`` to the row's entry and record it; a change that changes nothing
    writes nothing."""
    principal = actor.principal
    assert row.control.id is not None
    entry = row.entry
    before = _values(entry) if entry is not None else None
    after = asdict(change)
    if before == after:
        assert entry is not None
        return entry
    if entry is None:
        entry = SoaEntry(control_id=row.control.id, updated_at=clock.utcnow(), **after)
        repository.add(session, entry)
    for name, value in after.items():
        setattr(entry, name, value)
    entry.updated_at = clock.utcnow()
    entry.updated_by = principal.username
    session.flush()
    record_event(
        session,
        actor=actor,
        action="soa.update",
        object_type="soa_entry",
        object_id=row.control.ref,
        detail={"before": before, "after": after},
    )
    return entry


def update_entry(
    session: Session,
    *,
    ref: str,
    applicable: str | None,
    justification: str | None,
    status: str | None,
    owner: str | None,
    actor: Actor,
) -> SoaEntry:
    row = soa_row(session, ref)
    change = parse_change(applicable=applicable, justification=justification, status=status, owner=owner)
    return apply_change(session, row=row, change=change, actor=actor)


@dataclass(frozen=True)
class SoaSummary:
    controls: int
    applicable: int
    excluded: int
    undecided: int
    by_status: dict[str, int]
    contradictions: int = 0


def summarise(rows: list[SoaRow]) -> SoaSummary:
    entries = [row.entry for row in rows if row.entry is not None]
    applicable = [entry for entry in entries if entry.applicable]
    return SoaSummary(
        controls=len(rows),
        applicable=len(applicable),
        excluded=len(entries) - len(applicable),
        undecided=len(rows) - len(entries),
        by_status={status: sum(1 for e in applicable if e.status == status) for status in STATUSES},
        contradictions=sum(1 for row in rows if row.contradiction),
    )


def form_values(row: SoaRow) -> dict[str, str | None]:
    """What the edit form shows first: the entry, or the proposed default when there is none."""
    if row.entry is not None:
        current = SoaChange(row.entry.applicable, row.entry.justification, row.entry.status, row.entry.owner)
    else:
        current = default_change(row)
    return {
        "applicable": "yes" if current.applicable else "no",
        "justification": current.justification,
        "status": current.status,
        "owner": current.owner,
    }


def rows_for_export(session: Session, *, file_format: str, actor: Actor) -> list[SoaRow]:
    """The rows of a download; the download itself is recorded (auditors' access is)."""
    rows = soa_rows(session)
    record_event(
        session,
        actor=actor,
        action="soa.export",
        object_type="soa",
        object_id=SOA_FRAMEWORK,
        detail={"format": file_format, "rows": len(rows)},
    )
    return rows
