"""Sampling: the auditor draws n evidence items at random from a population, with a recorded
seed, so anyone can draw the same sample again and check it.

The population is the evidence linked to a requirement (or to a control: its requirements, those
of the measures mapped to it, and evidence linked to the control directly) collected in the
engagement period, optionally from one source or collector instance. It is ordered by evidence
id and drawn with ``random.Random(seed).sample(population, n)``: the same seed over the same
population gives the same items in the same order.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date

from fastapi import Request
from sqlmodel import Session

from audit_portal import clock
from audit_portal.audit.service import record_event
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.coverage.service import compute_coverage
from audit_portal.engagements import repository, scope
from audit_portal.engagements import service as engagements
from audit_portal.engagements.models import Engagement
from audit_portal.engagements.sample_models import Sample
from audit_portal.errors import InvalidInput, NotFound
from audit_portal.evidence.models import SOURCE_API, SOURCE_COLLECTOR, SOURCE_UPLOAD, Evidence
from audit_portal.principals import Principal

SOURCES = (SOURCE_UPLOAD, SOURCE_API, SOURCE_COLLECTOR)
MAX_SEED = 2**64 - 1
MAX_SAMPLE_SIZE = 1000


@dataclass
class SampleForm:
    subject: str = ""  # a requirement key (OPS-2/patches) or a control/measure ref (8.8, OPS-2)
    size: str = ""
    seed: str = ""  # blank: a fresh random 64-bit seed
    source_kind: str = ""
    collector_instance: str = ""


@dataclass(frozen=True)
class Population:
    description: str
    filter: dict[str, object]
    evidence_ids: list[int]


@dataclass(frozen=True)
class SampleView:
    sample: Sample
    items: list[tuple[int, Evidence]]
    drawn_by: str


@dataclass(frozen=True)
class Verification:
    matches: bool
    population_size_then: int
    population_size_now: int
    redrawn_ids: list[int]
    stored_ids: list[int]


def draw_ids(population: list[int], size: int, seed: int) -> list[int]:
    """The sample of ``size`` ids from ``population`` (sorted ascending first) under ``seed``."""
    return random.Random(seed).sample(sorted(population), size)


def population(
    session: Session, engagement: Engagement, population_filter: dict[str, object]
) -> Population:
    """The population a filter names, resolved against the catalogue and the engagement period."""
    subject = str(population_filter.get("subject", "")).strip()
    source_kind = str(population_filter.get("source_kind") or "") or None
    instance = str(population_filter.get("collector_instance") or "") or None
    errors: list[dict[str, str]] = []
    if source_kind and source_kind not in SOURCES:
        errors.append(
            {"location": "source_kind", "message": "Choose a source: upload, api or collector."}
        )
    requirement_ids: set[int] = set()
    control_id = None
    described = ""
    if "/" in subject:
        requirement = catalogue_repository.requirements_by_key(session, [subject]).get(subject)
        if requirement is None:
            errors.append(
                {"location": "subject", "message": f"There is no requirement {subject!r}."}
            )
        else:
            requirement_ids = {requirement.id}
            described = f"evidence for requirement {requirement.key} ({requirement.title})"
    elif subject:
        control = (
            engagements.find_control(session, engagement, subject)
            if _known(session, engagement, subject)
            else None
        )
        if control is None:
            errors.append(
                {
                    "location": "subject",
                    "message": f"There is no control, measure or requirement {subject!r}.",
                }
            )
        else:
            report = compute_coverage(
                session,
                framework_key=control.framework_key,
                period_start=engagement.period_start,
                period_end=engagement.period_end,
                control_ids={control.id},
            )
            requirement_ids = {r.requirement_id for r in report.controls[0].requirements}
            control_id = control.id
            described = f"evidence for {control.ref} {control.title}"
    else:
        errors.append(
            {
                "location": "subject",
                "message": "Name the requirement, control or measure to sample from.",
            }
        )
    if errors:
        raise InvalidInput(" ".join(e["message"] for e in errors), errors=errors)
    period_start, period_end = _period(engagement, population_filter)
    start, end = scope.period_window(period_start, period_end)
    ids = repository.sampling_population(
        session,
        requirement_ids=requirement_ids,
        control_id=control_id,
        start=start,
        end=end,
        source_kind=source_kind,
        collector_instance=instance,
    )
    described += f", collected {period_start.isoformat()} to {period_end.isoformat()}"
    if source_kind:
        described += f", source {source_kind}"
    if instance:
        described += f", collector instance {instance}"
    normalised: dict[str, object] = {
        "subject": subject,
        "source_kind": source_kind,
        "collector_instance": instance,
        "period": [period_start.isoformat(), period_end.isoformat()],
    }
    return Population(described, normalised, ids)


def _period(engagement: Engagement, population_filter: dict[str, object]) -> tuple[date, date]:
    """The period a stored sample was drawn over (so a later change of the engagement's period
    does not change its population), else the engagement's period."""
    stored = population_filter.get("period")
    if isinstance(stored, list) and len(stored) == 2:
        return date.fromisoformat(str(stored[0])), date.fromisoformat(str(stored[1]))
    return engagement.period_start, engagement.period_end


def _known(session: Session, engagement: Engagement, ref: str) -> bool:
    return (
        repository.control_by_ref(
            session, [engagement.framework_key, engagements.MEASURES_FRAMEWORK], ref
        )
        is not None
    )


def draw(
    session: Session,
    *,
    principal: Principal,
    engagement_id: int,
    form: SampleForm,
    request: Request | None,
) -> Sample:
    engagement = engagements.get_engagement(session, principal, engagement_id)
    errors: list[dict[str, str]] = []
    size = _int(form.size, "size", "Give the sample size as a whole number.", errors)
    seed = (
        secrets.randbits(64)
        if not form.seed.strip()
        else _int(form.seed, "seed", "Give the seed as a whole number.", errors)
    )
    if seed is not None and not 0 <= seed <= MAX_SEED:
        errors.append(
            {
                "location": "seed",
                "message": "The seed is a 64-bit number (0 to 18446744073709551615).",
            }
        )
    if size is not None and not 1 <= size <= MAX_SAMPLE_SIZE:
        errors.append(
            {"location": "size", "message": f"Draw between 1 and {MAX_SAMPLE_SIZE} items."}
        )
    if errors:
        raise InvalidInput(" ".join(e["message"] for e in errors), errors=errors)
    assert size is not None and seed is not None
    found = population(
        session,
        engagement,
        {
            "subject": form.subject,
            "source_kind": form.source_kind,
            "collector_instance": form.collector_instance,
        },
    )
    if size > len(found.evidence_ids):
        message = f"The population holds {len(found.evidence_ids)} item(s) ({found.description}); draw at most that many."
        raise InvalidInput(message, errors=[{"location": "size", "message": message}])
    chosen = draw_ids(found.evidence_ids, size, seed)
    sample = repository.add_sample(
        session,
        Sample(
            engagement_id=engagement.id,
            population_description=found.description,
            population_filter=found.filter,
            population_size=len(found.evidence_ids),
            size=size,
            seed=str(seed),
            drawn_at=clock.utcnow(),
            drawn_by=principal.user_id,  # type: ignore[arg-type]
        ),
        chosen,
    )
    record_event(
        session,
        request=request,
        principal=principal,
        action="sample.draw",
        object_type="sample",
        object_id=sample.id or "",
        detail={
            "engagement": engagement.id,
            "population": found.description,
            "population_size": len(found.evidence_ids),
            "size": size,
            "seed": str(seed),
            "evidence": chosen,
        },
    )
    return sample


def _int(value: str, location: str, message: str, errors: list[dict[str, str]]) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        errors.append({"location": location, "message": message})
        return None


def samples(
    session: Session, principal: Principal, engagement_id: int
) -> tuple[Engagement, list[Sample]]:
    engagement = engagements.get_engagement(session, principal, engagement_id)
    return engagement, list(repository.samples_of(session, engagement.id))


def get_sample(
    session: Session, principal: Principal, engagement_id: int, sample_id: int
) -> tuple[Engagement, SampleView]:
    engagement = engagements.get_engagement(session, principal, engagement_id)
    sample = repository.get_sample(session, sample_id)
    if sample is None or sample.engagement_id != engagement.id:
        raise NotFound(f"Engagement {engagement_id} has no sample {sample_id}.")
    users = repository.users_by_ids(session, [sample.drawn_by])
    return engagement, SampleView(
        sample,
        repository.sample_items(session, sample_id),
        users[sample.drawn_by].username if sample.drawn_by in users else "—",
    )


def verify(
    session: Session,
    *,
    principal: Principal,
    engagement_id: int,
    sample_id: int,
    request: Request | None,
) -> tuple[Engagement, SampleView, Verification]:
    """Draw again with the recorded seed over the population as it is now and compare."""
    engagement, view = get_sample(session, principal, engagement_id, sample_id)
    sample = view.sample
    found = population(session, engagement, dict(sample.population_filter))
    stored = [e.id for _, e in view.items]
    redrawn = (
        draw_ids(found.evidence_ids, sample.size, int(sample.seed))
        if sample.size <= len(found.evidence_ids)
        else []
    )
    result = Verification(
        redrawn == stored, sample.population_size, len(found.evidence_ids), redrawn, stored
    )
    record_event(
        session,
        request=request,
        principal=principal,
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


def collector_instances(session: Session) -> list[str]:
    return repository.collector_instances(session)
