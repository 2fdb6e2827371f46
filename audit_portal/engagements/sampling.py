"""Sampling as auditors do it: the population is the occurrences of one requirement in the
engagement period (a collector run or an upload batch each, never single files), the size
follows the requirement's frequency, every sampled occurrence gets a test result, and the
sample ends with a conclusion.

- **Size.** The requirement's frequency picks a class (annual, quarterly, monthly, weekly,
  daily) and the class a range of sizes from ``Settings.sample_sizes`` (by default 1, 2, 2-5,
  5-15 and 20-40, as common audit sampling guidance gives them). The least size is the default;
  the auditor may choose any size within the range. A population no larger than the least size
  is tested whole.
- **Method.** Random: the occurrences' anchors (each one's newest item id) in ascending order,
  drawn with ``random.Random(seed).sample(population, size)``, so the same seed over the same
  population gives the same items in the same order. Judgemental: the occurrences the auditor
  names, within the same size rule.
- **Results.** Per item effective, exception or not tested; an exception and "not tested" need a
  note. The conclusion (effective, effective with exceptions, not effective, with a note) needs
  every item to have a result, and a sample with an exception is never concluded effective.
  A concluded sample is final: its results and conclusion no longer change.
- **Findings.** The exceptions not yet linked to a finding raise one through the findings
  service, pre-filled with the requirement's controls and the exception items with their notes.

Every decision is an audit event (``sample.draw``, ``sample.result``, ``sample.conclude``,
``sample.finding``, ``sample.verify``).
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from audit_portal import clock
from audit_portal.audit.service import record_event
from audit_portal.auth import repository as auth_repository
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.catalogue.models import Requirement
from audit_portal.engagements import occurrence_repository, repository, scope
from audit_portal.engagements import service as engagements
from audit_portal.engagements.models import Engagement
from audit_portal.engagements.sample_models import (
    CONCLUSION_EFFECTIVE,
    CONCLUSIONS,
    METHOD_JUDGEMENTAL,
    METHOD_RANDOM,
    METHODS,
    RESULT_EXCEPTION,
    RESULT_NOT_TESTED,
    RESULTS,
    Sample,
    SampleItem,
)
from audit_portal.errors import Conflict, InvalidInput, NotFound
from audit_portal.evidence import repository as evidence_repository
from audit_portal.evidence.models import Evidence
from audit_portal.findings import service as findings
from audit_portal.findings.models import Finding
from audit_portal.i18n import N_, Sentences
from audit_portal.principals import Actor, Principal

MAX_SEED = 2**64 - 1
NOTE_MAX_LENGTH = 4000

# English here (the XLSX sheet and the package use them as they are); pages translate them.
METHOD_LABELS = {
    METHOD_RANDOM: N_("Random, with a recorded seed"),
    METHOD_JUDGEMENTAL: N_("Judgemental (chosen by the auditor)"),
}
RESULT_LABELS = {"effective": N_("Effective"), RESULT_EXCEPTION: N_("Exception"), RESULT_NOT_TESTED: N_("Not tested")}
CONCLUSION_LABELS = {
    "effective": N_("Effective"),
    "effective_with_exceptions": N_("Effective with exceptions"),
    "not_effective": N_("Not effective"),
}
# The shortest interval (days) of each frequency class, rarest first: a requirement due every
# 180 days is sampled as quarterly (both half-years), one due every 14 days as weekly.
FREQUENCY_FLOORS = (("annual", 365), ("quarterly", 90), ("monthly", 28), ("weekly", 7), ("daily", 0))


@dataclass
class SampleForm:
    subject: str = ""  # a requirement key, e.g. OPS-2/patches
    method: str = METHOD_RANDOM
    size: str = ""  # blank: the least size of the rule
    seed: str = ""  # blank: a fresh random 64-bit seed
    chosen: str = ""  # judgemental: the occurrence numbers (anchors), comma or space separated


@dataclass(frozen=True)
class SizeRule:
    frequency: str
    frequency_days: int
    least: int
    most: int
    population: int

    @property
    def whole_population(self) -> bool:
        return self.population <= self.least

    @property
    def bounds(self) -> tuple[int, int]:
        """The sizes the auditor may draw: within the rule, never more than the population."""
        return min(self.least, self.population), min(self.most, self.population)

    def describe(self) -> str:
        sizes = str(self.least) if self.least == self.most else f"{self.least} to {self.most}"
        text = f"{self.frequency} (every {self.frequency_days} days): {sizes}"
        if self.whole_population:
            text += f"; the population of {self.population} is no larger, so all of it is tested"
        return text


@dataclass(frozen=True)
class Population:
    description: str
    filter: dict[str, object]
    requirement: Requirement
    anchor_ids: list[int]


@dataclass(frozen=True)
class SampleRow:
    """One sampled occurrence as the sample page and sheet show it."""

    item: SampleItem
    anchor: Evidence
    member_ids: list[int]
    run_status: str | None
    tested_by: str

    @property
    def occurrence_label(self) -> str:
        if self.anchor.collector_run_id is not None:
            return f"collector run {self.anchor.collector_run_id}"
        return "upload batch"


@dataclass(frozen=True)
class SampleView:
    sample: Sample
    requirement: Requirement | None
    rows: list[SampleRow]
    drawn_by: str
    concluded_by: str

    @property
    def untested(self) -> list[int]:
        return [row.item.position for row in self.rows if row.item.result is None]

    @property
    def open_exceptions(self) -> list[SampleRow]:
        """Exceptions no finding was raised from yet."""
        return [r for r in self.rows if r.item.result == RESULT_EXCEPTION and r.item.finding_id is None]

    @property
    def counts(self) -> dict[str, int]:
        found = {result: 0 for result in RESULTS}
        for row in self.rows:
            if row.item.result in found:
                found[row.item.result] += 1
        return found


@dataclass(frozen=True)
class Verification:
    matches: bool
    population_size_then: int
    population_size_now: int
    redrawn_ids: list[int]
    stored_ids: list[int]


def frequency_class(frequency_days: int) -> str:
    for name, floor in FREQUENCY_FLOORS:
        if frequency_days >= floor:
            return name
    return "daily"


def size_rule(requirement: Requirement, population_size: int, sizes: dict[str, tuple[int, int]]) -> SizeRule:
    frequency = frequency_class(requirement.frequency_days)
    least, most = sizes[frequency]
    return SizeRule(frequency, requirement.frequency_days, least, most, population_size)


def draw_ids(population: list[int], size: int, seed: int) -> list[int]:
    """The sample of ``size`` ids from ``population`` (sorted ascending first) under ``seed``."""
    return random.Random(seed).sample(sorted(population), size)


def population(session: Session, engagement: Engagement, population_filter: dict[str, object]) -> Population:
    """The occurrences of the requirement a filter names, in the stored period (else the
    engagement's), by anchor id ascending."""
    subject = str(population_filter.get("subject", "")).strip()
    if not subject:
        raise _invalid("subject", N_("Name the requirement to sample from (e.g. OPS-2/patches)."))
    requirement = catalogue_repository.requirements_by_key(session, [subject]).get(subject)
    if requirement is None:
        raise _invalid("subject", N_("There is no requirement '%(key)s'."), {"key": subject})
    period_start, period_end = _period(engagement, population_filter)
    start, end = scope.period_window(period_start, period_end)
    anchors = occurrence_repository.occurrence_anchors(session, requirement.id, start, end)
    described = (
        f"occurrences of requirement {requirement.key} ({requirement.title}), "
        f"collected {period_start.isoformat()} to {period_end.isoformat()}"
    )
    normalised: dict[str, object] = {
        "subject": requirement.key,
        "period": [period_start.isoformat(), period_end.isoformat()],
    }
    return Population(described, normalised, requirement, anchors)


def _period(engagement: Engagement, population_filter: dict[str, object]) -> tuple[date, date]:
    """The period a stored sample was drawn over (so a later change of the engagement's period
    does not change its population), else the engagement's period."""
    stored = population_filter.get("period")
    if isinstance(stored, list) and len(stored) == 2:
        return date.fromisoformat(str(stored[0])), date.fromisoformat(str(stored[1]))
    return engagement.period_start, engagement.period_end


def _invalid(location: str, message: str, values: dict[str, object] | None = None) -> InvalidInput:
    """One field's refusal: ``message`` a catalogue entry, ``values`` for its placeholders."""
    return InvalidInput(
        message, values=values, errors=[{"location": location, "message": message, "values": values or {}}]
    )


def _refuse_if(errors: list[dict[str, Any]], summary: str = "%(reasons)s") -> None:
    """The field errors as one refusal; ``summary`` a catalogue message with ``%(reasons)s``
    for them. A page shows the field errors, the API the summary."""
    if errors:
        raise InvalidInput(summary, values={"reasons": Sentences(errors)}, errors=errors)


def rules_table(sizes: dict[str, tuple[int, int]]) -> list[tuple[str, int, str]]:
    """(frequency, shortest interval in days, sizes) for the page that explains the rule."""
    return [
        (name, floor, str(sizes[name][0]) if sizes[name][0] == sizes[name][1] else f"{sizes[name][0]}–{sizes[name][1]}")
        for name, floor in FREQUENCY_FLOORS
    ]


def draw(
    session: Session,
    *,
    actor: Actor,
    engagement_id: int,
    form: SampleForm,
    sizes: dict[str, tuple[int, int]],
) -> Sample:
    principal = actor.principal
    drawn_by = principal.account_id
    engagement = engagements.get_engagement(session, principal, engagement_id)
    if form.method not in METHODS:
        raise _invalid("method", N_("Choose random or judgemental selection."))
    found = population(session, engagement, {"subject": form.subject})
    if not found.anchor_ids:
        raise _invalid(
            "subject", N_("The population is empty: there are no %(population)s."), {"population": found.description}
        )
    rule = size_rule(found.requirement, len(found.anchor_ids), sizes)
    least, most = rule.bounds
    errors: list[dict[str, Any]] = []
    seed: int | None = None
    if form.method == METHOD_RANDOM:
        size = (
            _int(form.size, "size", N_("Give the sample size as a whole number."), errors)
            if form.size.strip()
            else least
        )
        if form.seed.strip():
            seed = _int(form.seed, "seed", N_("Give the seed as a whole number."), errors)
            if seed is not None and not 0 <= seed <= MAX_SEED:
                errors.append(
                    {"location": "seed", "message": N_("The seed is a 64-bit number (0 to 18446744073709551615).")}
                )
        else:
            seed = secrets.randbits(64)
        if rule.whole_population:
            size = len(found.anchor_ids)
        chosen: list[int] = []
    else:
        chosen = _chosen(form.chosen, set(found.anchor_ids), errors)
        size = len(chosen)
    if size is not None and not rule.whole_population and not least <= size <= most:
        location = "size" if form.method == METHOD_RANDOM else "chosen"
        errors.append(
            {
                "location": location,
                "message": N_(
                    "The rule for %(rule)s allows %(least)s to %(most)s item(s) of this population of "
                    "%(population)s; this sample has %(size)s."
                ),
                "values": {
                    "rule": rule.describe(),
                    "least": least,
                    "most": most,
                    "population": len(found.anchor_ids),
                    "size": size,
                },
            }
        )
    if rule.whole_population and form.method == METHOD_JUDGEMENTAL and size != len(found.anchor_ids):
        errors.append(
            {
                "location": "chosen",
                "message": N_(
                    "The population of %(population)s is no larger than the rule's least size: choose every occurrence."
                ),
                "values": {"population": len(found.anchor_ids)},
            }
        )
    _refuse_if(errors)
    assert size is not None
    picked = draw_ids(found.anchor_ids, size, seed) if seed is not None else chosen
    sample = repository.add_sample(
        session,
        Sample(
            engagement_id=engagement.id,
            requirement_id=found.requirement.id,
            population_description=found.description,
            population_filter=found.filter,
            population_size=len(found.anchor_ids),
            size=size,
            method=form.method,
            seed=str(seed) if seed is not None else "",
            size_rule=rule.describe(),
            drawn_at=clock.utcnow(),
            drawn_by=drawn_by,
        ),
        picked,
    )
    record_event(
        session,
        actor=actor,
        action="sample.draw",
        object_type="sample",
        object_id=sample.id or "",
        detail={
            "engagement": engagement.id,
            "requirement": found.requirement.key,
            "population": found.description,
            "population_size": len(found.anchor_ids),
            "method": form.method,
            "size": size,
            "size_rule": rule.describe(),
            "seed": sample.seed or None,
            "occurrences": picked,
        },
    )
    return sample


def _int(value: str, location: str, message: str, errors: list[dict[str, Any]]) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        errors.append({"location": location, "message": message})
        return None


def _chosen(text: str, population: set[int], errors: list[dict[str, Any]]) -> list[int]:
    chosen: list[int] = []
    for part in text.replace(",", " ").split():
        try:
            anchor = int(part.lstrip("#"))
        except ValueError:
            anchor = -1
        if anchor not in population:
            errors.append(
                {
                    "location": "chosen",
                    "message": N_(
                        "%(part)s is not an occurrence of the population (give the number the "
                        "requirement's history shows after each occurrence)."
                    ),
                    "values": {"part": part},
                }
            )
            return []
        if anchor not in chosen:
            chosen.append(anchor)
    if not chosen and not errors:
        errors.append({"location": "chosen", "message": N_("Name the occurrences you chose.")})
    return chosen


# --- reading ----------------------------------------------------------------------------------


def samples(session: Session, principal: Principal, engagement_id: int) -> tuple[Engagement, list[Sample]]:
    engagement = engagements.get_engagement(session, principal, engagement_id)
    return engagement, list(repository.samples_of(session, engagement.id))


def get_sample(
    session: Session, principal: Principal, engagement_id: int, sample_id: int
) -> tuple[Engagement, SampleView]:
    engagement = engagements.get_engagement(session, principal, engagement_id)
    sample = repository.get_sample(session, sample_id)
    if sample is None or sample.engagement_id != engagement.id:
        raise NotFound(
            N_("Engagement %(engagement)s has no sample %(id)s."), values={"engagement": engagement_id, "id": sample_id}
        )
    return engagement, view_of(session, engagement, sample)


def view_of(session: Session, engagement: Engagement, sample: Sample) -> SampleView:
    items = repository.sample_items(session, sample.id)
    found = evidence_repository.evidence_by_ids(session, [item.evidence_id for item in items])
    pairs = [(item, found[item.evidence_id]) for item in items]
    requirement = (
        catalogue_repository.requirements_by_ids(session, [sample.requirement_id]).get(sample.requirement_id)
        if sample.requirement_id is not None
        else None
    )
    users = auth_repository.users_by_ids(
        session,
        {
            sample.drawn_by,
            *([sample.concluded_by] if sample.concluded_by else []),
            *(item.tested_by for item, _ in pairs if item.tested_by),
        },
    )
    statuses = occurrence_repository.run_statuses(
        session, {e.collector_run_id for _, e in pairs if e.collector_run_id is not None}
    )
    start, end = scope.period_window(*_period(engagement, dict(sample.population_filter)))
    rows = []
    for item, anchor in pairs:
        members = (
            [e.id for e in occurrence_repository.occurrence_members(session, requirement.id, anchor, start, end)]
            if requirement is not None
            else []
        ) or [anchor.id]
        rows.append(
            SampleRow(
                item,
                anchor,
                members,
                statuses.get(anchor.collector_run_id) if anchor.collector_run_id is not None else None,
                users[item.tested_by].username if item.tested_by in users else "",
            )
        )
    return SampleView(
        sample,
        requirement,
        rows,
        users[sample.drawn_by].username if sample.drawn_by in users else "—",
        users[sample.concluded_by].username if sample.concluded_by in users else "",
    )


def sheets_of_engagement(session: Session, engagement: Engagement) -> list[SampleView]:
    """Every sample of the engagement, oldest first (the evidence package carries them all)."""
    return [view_of(session, engagement, s) for s in reversed(repository.samples_of(session, engagement.id))]


def samples_of_finding(session: Session, finding_id: int) -> list[SampleItem]:
    """The sample items a finding was raised from."""
    return repository.sample_items_of_finding(session, finding_id)


def verify(
    session: Session,
    *,
    actor: Actor,
    engagement_id: int,
    sample_id: int,
) -> tuple[Engagement, SampleView, Verification]:
    """Draw a random sample again with the recorded seed over the population as it is now and
    compare."""
    principal = actor.principal
    engagement, view = get_sample(session, principal, engagement_id, sample_id)
    sample = view.sample
    if sample.method != METHOD_RANDOM:
        raise Conflict(N_("A judgemental sample has no seed to redraw it with."))
    found = population(session, engagement, dict(sample.population_filter))
    stored = [row.item.evidence_id for row in view.rows]
    redrawn = draw_ids(found.anchor_ids, sample.size, int(sample.seed)) if sample.size <= len(found.anchor_ids) else []
    result = Verification(redrawn == stored, sample.population_size, len(found.anchor_ids), redrawn, stored)
    record_event(
        session,
        actor=actor,
        action="sample.verify",
        object_type="sample",
        object_id=sample_id,
        outcome="success" if result.matches else "mismatch",
        detail={
            "engagement": engagement.id,
            "population_size": [result.population_size_then, result.population_size_now],
        },
    )
    return engagement, view, result


# --- test results and the conclusion ----------------------------------------------------------


def _open_sample(
    session: Session, principal: Principal, engagement_id: int, sample_id: int
) -> tuple[Engagement, SampleView]:
    engagement, view = get_sample(session, principal, engagement_id, sample_id)
    if view.sample.conclusion is not None:
        raise Conflict(N_("Sample #%(id)s is concluded; its results no longer change."), values={"id": sample_id})
    return engagement, view


def _note(note: str, required: str | None, errors: list[dict[str, Any]], location: str = "note") -> str:
    text = (note or "").strip()
    if required and not text:
        errors.append({"location": location, "message": required})
    elif len(text) > NOTE_MAX_LENGTH:
        errors.append(
            {
                "location": location,
                "message": N_("Keep the note under %(most)s characters."),
                "values": {"most": NOTE_MAX_LENGTH},
            }
        )
    return text


def record_result(
    session: Session,
    *,
    actor: Actor,
    engagement_id: int,
    sample_id: int,
    item_id: int,
    result: str,
    note: str,
) -> SampleItem:
    """The test result of one sampled occurrence (``item_id``: its anchor)."""
    principal = actor.principal
    engagement, _view = _open_sample(session, principal, engagement_id, sample_id)
    item = repository.sample_item(session, sample_id, item_id)
    if item is None:
        raise NotFound(N_("Sample #%(id)s has no item %(item)s."), values={"id": sample_id, "item": item_id})
    errors: list[dict[str, Any]] = []
    if result not in RESULTS:
        errors.append({"location": "result", "message": N_("Choose effective, exception or not tested.")})
    required = {
        RESULT_EXCEPTION: N_("Describe the exception: what the occurrence shows that it should not."),
        RESULT_NOT_TESTED: N_("Say why this item was not tested."),
    }.get(result)
    text = _note(note, required, errors)
    _refuse_if(errors, N_("The result was not saved: %(reasons)s"))
    before = item.result
    item.result, item.note = result, text or None
    item.tested_at, item.tested_by = clock.utcnow(), principal.user_id
    repository.save(session, item)
    record_event(
        session,
        actor=actor,
        action="sample.result",
        object_type="sample",
        object_id=sample_id,
        detail={
            "engagement": engagement.id,
            "item": item_id,
            "position": item.position,
            "from": before,
            "to": result,
            "note": text or None,
        },
    )
    return item


def conclude(
    session: Session,
    *,
    actor: Actor,
    engagement_id: int,
    sample_id: int,
    conclusion: str,
    note: str,
) -> Sample:
    principal = actor.principal
    engagement, view = _open_sample(session, principal, engagement_id, sample_id)
    errors: list[dict[str, Any]] = []
    if conclusion not in CONCLUSIONS:
        errors.append(
            {"location": "conclusion", "message": N_("Choose effective, effective with exceptions or not effective.")}
        )
    elif view.untested:
        errors.append(
            {
                "location": "conclusion",
                "message": N_(
                    "Record a result for every item first (effective, exception, or not tested with the "
                    "reason); still open: item %(items)s."
                ),
                "values": {"items": ", ".join(map(str, view.untested))},
            }
        )
    elif conclusion == CONCLUSION_EFFECTIVE and view.counts[RESULT_EXCEPTION]:
        errors.append(
            {
                "location": "conclusion",
                "message": N_("The sample has exceptions: conclude effective with exceptions or not effective."),
            }
        )
    text = _note(note, N_("Explain the conclusion."), errors, location="conclusion_note")
    _refuse_if(errors, N_("The sample was not concluded: %(reasons)s"))
    sample = view.sample
    sample.conclusion, sample.conclusion_note = conclusion, text
    sample.concluded_at, sample.concluded_by = clock.utcnow(), principal.user_id
    repository.save(session, sample)
    record_event(
        session,
        actor=actor,
        action="sample.conclude",
        object_type="sample",
        object_id=sample_id,
        detail={"engagement": engagement.id, "conclusion": conclusion, "note": text, "results": view.counts},
    )
    return sample


# --- a finding raised from the exceptions -----------------------------------------------------


def finding_form(session: Session, principal: Principal, engagement_id: int, sample_id: int) -> findings.FindingForm:
    """The finding form pre-filled from the sample's exceptions that have no finding yet: the
    requirement's controls, and the items with their notes; the auditor picks the category and
    severity."""
    engagement, view = get_sample(session, principal, engagement_id, sample_id)
    exceptions = _exceptions(view)
    requirement = view.requirement
    assert requirement is not None  # _exceptions refuses samples without one
    lines = [
        f"Sample #{view.sample.id} of requirement {requirement.key} ({requirement.title}): "
        f"{view.sample.size} of {view.sample.population_size} occurrences, {view.sample.method}"
        + (f" with seed {view.sample.seed}" if view.sample.seed else "")
        + f"; {len(exceptions)} exception(s):",
    ]
    lines += [
        f"- item {row.item.position}: {row.occurrence_label}, collected "
        f"{clock.as_utc(row.anchor.collected_at).strftime('%Y-%m-%d %H:%M')} UTC, evidence "
        + ", ".join(f"#{i}" for i in row.member_ids)
        + f": {row.item.note}"
        for row in exceptions
    ]
    return findings.FindingForm(
        title=f"Exceptions in the sample of {requirement.key}",
        detail="\n".join(lines),
        category="minor_nc",
        control_refs=", ".join(_control_refs(session, engagement, requirement)),
    )


def _exceptions(view: SampleView) -> list[SampleRow]:
    exceptions = view.open_exceptions
    if view.requirement is None or not exceptions:
        raise Conflict(N_("Sample #%(id)s has no exception without a finding."), values={"id": view.sample.id})
    return exceptions


def _control_refs(session: Session, engagement: Engagement, requirement: Requirement) -> list[str]:
    """The requirement's control, and where that is a measure, the controls of the engagement's
    edition it maps onto (first)."""
    own = catalogue_repository.controls_of_requirements(session, [requirement.id])[requirement.id]
    if own.framework_key == engagement.framework_key:
        return [own.ref]
    _onto, targets = catalogue_repository.mapped_controls(session, own.id)
    return [*(c.ref for c in targets if c.framework_key == engagement.framework_key), own.ref]


def raise_finding(
    session: Session,
    *,
    actor: Actor,
    engagement_id: int,
    sample_id: int,
    form: findings.FindingForm,
) -> Finding:
    """Record the finding (the findings service checks the form and starts its lifecycle) and
    link it to the sample's exceptions that had none."""
    principal = actor.principal
    _engagement, view = get_sample(session, principal, engagement_id, sample_id)
    exceptions = _exceptions(view)
    finding = findings.create(session, actor=actor, engagement_id=engagement_id, form=form)
    for row in exceptions:
        row.item.finding_id = finding.id
        repository.save(session, row.item)
    record_event(
        session,
        actor=actor,
        action="sample.finding",
        object_type="sample",
        object_id=sample_id,
        detail={
            "engagement": engagement_id,
            "finding": finding.id,
            "items": [row.item.evidence_id for row in exceptions],
        },
    )
    return finding


def labels() -> dict[str, object]:
    return {
        "method_labels": METHOD_LABELS,
        "result_labels": RESULT_LABELS,
        "conclusion_labels": CONCLUSION_LABELS,
        "results": RESULTS,
        "conclusions": CONCLUSIONS,
    }
