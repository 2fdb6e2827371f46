"""What the catalogue pages show, assembled from a fixed number of queries per page.

A framework page needs its groups, controls, the mappings touching them, the controls at the
other end of those mappings and their requirements: five queries whatever the framework's size.
A control page needs the same for one control plus its SoA entry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup
from sqlmodel import Session

from audit_portal.catalogue import repository
from audit_portal.catalogue.models import (
    MAPS_TO,
    SUCCESSOR,
    Control,
    ControlGroup,
    ControlMapping,
    Framework,
    Requirement,
    RequirementSwitchOff,
)
from audit_portal.errors import NotFound
from audit_portal.i18n import N_, Label
from audit_portal.search import Search, excerpt, fold, highlight
from audit_portal.soa import repository as soa_repository
from audit_portal.soa.models import SoaEntry

DEFAULT_FRAMEWORK = "iso27001-2022"
# The shipped frameworks first, in the order people look for them; files of one's own follow.
PREFERRED_ORDER = ("iso27001-2022", "iso27001-2013", "annex2")
SHORT_LABELS = {
    "iso27001-2022": N_("ISO 27001:2022"),
    "iso27001-2013": N_("ISO 27001:2013"),
    "annex2": N_("Annex 2"),
}
SEARCH_LIMIT = 30


def framework_label(key: str, frameworks: Iterable[Framework] = ()) -> str:
    if key in SHORT_LABELS:
        return SHORT_LABELS[key]
    return next((f.name for f in frameworks if f.key == key), key)


def label_map(frameworks: Sequence[Framework]) -> dict[str, str]:
    return {f.key: framework_label(f.key, frameworks) for f in frameworks}


def ordered_frameworks(frameworks: Iterable[Framework]) -> list[Framework]:
    def rank(framework: Framework) -> tuple[int, str]:
        known = framework.key in PREFERRED_ORDER
        return (PREFERRED_ORDER.index(framework.key) if known else len(PREFERRED_ORDER), framework.key)

    return sorted(frameworks, key=rank)


@dataclass(frozen=True)
class Link:
    """A control at the other end of a mapping, with the reason the mapping holds."""

    control: Control
    rationale: str | None = None


@dataclass
class Relations:
    measures: list[Link] = field(default_factory=list)  # measures (or controls) mapped to this one
    maps_to: list[Link] = field(default_factory=list)  # controls this one implements
    predecessors: list[Control] = field(default_factory=list)  # older-edition controls it replaces
    successors: list[Control] = field(default_factory=list)  # newer-edition controls replacing it

    def maps_to_in(self, framework_key: str) -> list[Link]:
        return [link for link in self.maps_to if link.control.framework_key == framework_key]


@dataclass
class ControlSummary:
    control: Control
    relations: Relations
    requirement_count: int


@dataclass
class GroupSection:
    group: ControlGroup
    controls: list[ControlSummary]


@dataclass
class FrameworkPage:
    framework: Framework
    frameworks: list[Framework]
    sections: list[GroupSection]

    @property
    def control_count(self) -> int:
        return sum(len(section.controls) for section in self.sections)


@dataclass
class MeasureRequirements:
    measure: Control
    requirements: list[Requirement]


@dataclass
class ControlPage:
    framework: Framework
    frameworks: list[Framework]
    control: Control
    group: ControlGroup | None
    relations: Relations
    own_requirements: list[Requirement]
    measure_requirements: list[MeasureRequirements]
    soa_entry: SoaEntry | None
    switched_off: dict[int, RequirementSwitchOff] = field(default_factory=dict)  # requirement id -> decision

    @property
    def requirement_count(self) -> int:
        return len(self.own_requirements) + sum(len(m.requirements) for m in self.measure_requirements)


@dataclass
class RequirementHit:
    requirement: Requirement
    key: Markup
    title: Markup
    expects: Markup  # the part of what the auditor expects around the match


@dataclass
class ControlHit:
    """A control or measure the search found, itself or through its requirements, with the
    matches marked (escaped first, then marked: the texts are never trusted as markup)."""

    control: Control
    framework_label: str
    ref: Markup
    title: Markup
    title_nl: Markup
    excerpt: Markup  # from the English or Dutch text, where the search matched
    requirements: list[RequirementHit] = field(default_factory=list)


@dataclass
class SearchResults:
    query: str
    hits: list[ControlHit]
    truncated: bool

    @property
    def count(self) -> int:
        return len(self.hits)


def _framework_or_404(session: Session, key: str) -> Framework:
    framework = repository.get_framework(session, key)
    if framework is None:
        raise NotFound(N_("There is no framework '%(key)s' in the catalogue."), values={"key": key})
    return framework


def _relations(
    control_ids: Iterable[int], mappings: Sequence[ControlMapping], controls: dict[int, Control]
) -> dict[int, Relations]:
    """Relations per control id; mappings whose other end is retired or unknown are left out."""
    wanted = set(control_ids)
    relations: dict[int, Relations] = {control_id: Relations() for control_id in wanted}
    for mapping in mappings:
        source, target = controls.get(mapping.source_id), controls.get(mapping.target_id)
        if source is None or target is None or source.retired_at or target.retired_at:
            continue
        if mapping.target_id in wanted:
            incoming = relations[mapping.target_id]
            if mapping.kind == MAPS_TO:
                incoming.measures.append(Link(source, mapping.rationale))
            elif mapping.kind == SUCCESSOR:
                incoming.predecessors.append(source)
        if mapping.source_id in wanted:
            outgoing = relations[mapping.source_id]
            if mapping.kind == MAPS_TO:
                outgoing.maps_to.append(Link(target, mapping.rationale))
            elif mapping.kind == SUCCESSOR:
                outgoing.successors.append(target)
    for item in relations.values():
        _sort_relations(item)
    return relations


def _catalogue_order(control: Control) -> tuple[int, str, int]:
    known = control.framework_key in PREFERRED_ORDER
    rank = PREFERRED_ORDER.index(control.framework_key) if known else len(PREFERRED_ORDER)
    return (rank, control.framework_key, control.position)


def _sort_relations(relations: Relations) -> None:
    relations.measures.sort(key=lambda link: _catalogue_order(link.control))
    relations.maps_to.sort(key=lambda link: _catalogue_order(link.control))
    relations.predecessors.sort(key=_catalogue_order)
    relations.successors.sort(key=_catalogue_order)


def _controls_around(
    session: Session, controls: Sequence[Control], mappings: Sequence[ControlMapping]
) -> dict[int, Control]:
    known: dict[int, Control] = {c.id: c for c in controls if c.id is not None}
    other_ends = {m.source_id for m in mappings} | {m.target_id for m in mappings}
    known.update(repository.controls_by_ids(session, other_ends - known.keys()))
    return known


def framework_page(session: Session, framework_key: str) -> FrameworkPage:
    framework = _framework_or_404(session, framework_key)
    frameworks = ordered_frameworks(repository.list_frameworks(session))
    groups = repository.groups_in_order(session, framework_key)
    controls = repository.controls_of(session, framework_key)
    ids = [c.id for c in controls if c.id is not None]
    mappings = repository.mappings_touching(session, ids)
    relations = _relations(ids, mappings, _controls_around(session, controls, mappings))
    requirement_counts: dict[int, int] = defaultdict(int)
    for requirement in repository.requirements_of_controls(session, ids):
        requirement_counts[requirement.control_id] += 1
    by_group: dict[str, list[ControlSummary]] = defaultdict(list)
    for control in controls:
        assert control.id is not None
        by_group[control.group_key].append(
            ControlSummary(control, relations[control.id], requirement_counts[control.id])
        )
    sections = [GroupSection(group, by_group[group.key]) for group in groups if by_group[group.key]]
    return FrameworkPage(framework, frameworks, sections)


def control_page(session: Session, framework_key: str, ref: str) -> ControlPage:
    framework = _framework_or_404(session, framework_key)
    control = repository.control_by_ref(session, framework_key, ref)
    if control is None or control.id is None:
        raise NotFound(
            N_("%(framework)s has no control '%(ref)s'."),
            values={"framework": Label(framework_label(framework_key, [framework])), "ref": ref},
        )
    mappings = repository.mappings_touching(session, [control.id])
    relations = _relations([control.id], mappings, _controls_around(session, [control], mappings))[control.id]
    measures = [link.control for link in relations.measures]
    requirements = repository.requirements_of_controls(
        session, [control.id, *(m.id for m in measures if m.id is not None)]
    )
    by_control: dict[int, list[Requirement]] = defaultdict(list)
    for requirement in requirements:
        by_control[requirement.control_id].append(requirement)
    return ControlPage(
        framework=framework,
        frameworks=ordered_frameworks(repository.list_frameworks(session)),
        control=control,
        group=repository.groups_of(session, framework_key).get(control.group_key),
        relations=relations,
        own_requirements=by_control[control.id],
        measure_requirements=[MeasureRequirements(measure, by_control[measure.id]) for measure in measures],
        soa_entry=soa_repository.entry_for(session, control.id),
        switched_off=repository.switch_offs_of(session, [r.id for r in requirements if r.id is not None]),
    )


def control_of_requirement(session: Session, key: str) -> Control:
    requirement = repository.requirements_by_key(session, [key.strip()]).get(key.strip())
    control = (
        repository.controls_by_ids(session, [requirement.control_id]).get(requirement.control_id)
        if requirement
        else None
    )
    if control is None:
        raise NotFound(N_("The catalogue has no requirement '%(key)s'."), values={"key": key})
    return control


def search(session: Session, text: str) -> SearchResults:
    """Controls and measures matching by id, English or Dutch title and text, then those whose
    requirements match by key, title or what the auditor expects: best matches first."""
    parsed = Search.parse(text)
    if parsed is None:
        return SearchResults(query="", hits=[], truncated=False)
    controls = list(repository.search_controls(session, parsed, limit=SEARCH_LIMIT + 1))
    requirements = repository.search_requirements(session, parsed, limit=SEARCH_LIMIT)
    owners = repository.controls_by_ids(
        session, {r.control_id for r in requirements} - {c.id for c in controls if c.id is not None}
    )
    labels = label_map(repository.list_frameworks(session))
    hits: dict[int, ControlHit] = {}
    for control in [*controls, *(owners[r.control_id] for r in requirements if r.control_id in owners)]:
        if control.id is not None and control.id not in hits and not control.retired_at:
            hits[control.id] = _control_hit(control, parsed, labels)
    for requirement in requirements:
        if requirement.control_id in hits:
            hits[requirement.control_id].requirements.append(
                RequirementHit(
                    requirement,
                    highlight(requirement.key, parsed),
                    highlight(requirement.title, parsed),
                    excerpt(requirement.auditor_expects, parsed)
                    if _mentions(requirement.auditor_expects, parsed)
                    else Markup(""),
                )
            )
    ranked = list(hits.values())
    return SearchResults(query=parsed.text, hits=ranked[:SEARCH_LIMIT], truncated=len(ranked) > SEARCH_LIMIT)


def _control_hit(control: Control, parsed: Search, labels: dict[str, str]) -> ControlHit:
    text = next((t for t in (control.text, control.text_nl) if _mentions(t, parsed)), None)
    return ControlHit(
        control=control,
        framework_label=labels.get(control.framework_key, control.framework_key),
        ref=highlight(control.ref, parsed),
        title=highlight(control.title, parsed),
        title_nl=highlight(control.title_nl, parsed),
        excerpt=excerpt(text, parsed) if text else Markup(""),
    )


def _mentions(text: str | None, parsed: Search) -> bool:
    folded = fold(text or "")
    return any(word in folded for word in parsed.words)
