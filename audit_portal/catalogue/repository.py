"""Catalogue queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import case, delete, func, or_, select
from sqlmodel import Session, col

from audit_portal.catalogue.models import (
    MAPS_TO,
    SUCCESSOR,
    CatalogueLoad,
    Control,
    ControlGroup,
    ControlMapping,
    Framework,
    Requirement,
    RequirementSwitchOff,
)
from audit_portal.search import Matches, Score, Search


def get_framework(session: Session, key: str) -> Framework | None:
    return session.get(Framework, key)


def list_frameworks(session: Session) -> Sequence[Framework]:
    return session.scalars(select(Framework).order_by(col(Framework.key))).all()


def groups_of(session: Session, framework_key: str) -> dict[str, ControlGroup]:
    rows = session.scalars(select(ControlGroup).where(col(ControlGroup.framework_key) == framework_key))
    return {group.key: group for group in rows}


def controls_of(
    session: Session, framework_key: str, *, include_retired: bool = False, kind: str | None = None
) -> Sequence[Control]:
    """Controls of a framework in catalogue order; ``kind`` picks controls or clauses only."""
    query = select(Control).where(col(Control.framework_key) == framework_key)
    if kind is not None:
        query = query.where(col(Control.kind) == kind)
    if not include_retired:
        query = query.where(col(Control.retired_at).is_(None))
    return session.scalars(query.order_by(col(Control.position))).all()


def control_by_ref(session: Session, framework_key: str, ref: str) -> Control | None:
    return session.scalars(
        select(Control).where(col(Control.framework_key) == framework_key, col(Control.ref) == ref)
    ).first()


def controls_by_refs(session: Session, refs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Control]:
    wanted = set(refs)
    if not wanted:
        return {}
    frameworks = {framework for framework, _ in wanted}
    rows = session.scalars(
        select(Control).where(
            col(Control.framework_key).in_(frameworks), col(Control.ref).in_({ref for _, ref in wanted})
        )
    )
    return {(c.framework_key, c.ref): c for c in rows if (c.framework_key, c.ref) in wanted}


def requirements_by_key(session: Session, keys: Iterable[str]) -> dict[str, Requirement]:
    wanted = set(keys)
    if not wanted:
        return {}
    rows = session.scalars(select(Requirement).where(col(Requirement.key).in_(wanted)))
    return {requirement.key: requirement for requirement in rows}


def get_requirement(session: Session, requirement_id: int) -> Requirement | None:
    return session.get(Requirement, requirement_id)


def manual_requirements(session: Session) -> dict[int, str]:
    """Requirement id -> key of every requirement whose evidence people upload by hand."""
    rows = session.execute(
        select(col(Requirement.id), col(Requirement.key)).where(col(Requirement.collector) == "manual")
    )
    return {requirement_id: key for requirement_id, key in rows}


def requirements_of_framework(session: Session, framework_key: str) -> Sequence[Requirement]:
    return session.scalars(
        select(Requirement)
        .join(Control, col(Control.id) == col(Requirement.control_id))
        .where(col(Control.framework_key) == framework_key)
        .order_by(col(Control.position), col(Requirement.position))
    ).all()


def requirements_of_controls(session: Session, control_ids: Iterable[int]) -> Sequence[Requirement]:
    return session.scalars(
        select(Requirement)
        .where(col(Requirement.control_id).in_(set(control_ids)), col(Requirement.retired_at).is_(None))
        .order_by(col(Requirement.control_id), col(Requirement.position))
    ).all()


def requirement_ids_of_controls(session: Session, control_ids: Iterable[int]) -> set[int]:
    """Every requirement of the controls, retired ones included (their evidence stays theirs)."""
    ids = set(control_ids)
    if not ids:
        return set()
    return set(session.scalars(select(col(Requirement.id)).where(col(Requirement.control_id).in_(ids))))


def requirements_by_ids(session: Session, ids: Iterable[int]) -> dict[int, Requirement]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {r.id: r for r in session.scalars(select(Requirement).where(col(Requirement.id).in_(wanted)))}


def controls_of_requirements(session: Session, requirement_ids: Iterable[int]) -> dict[int, Control]:
    """The control each requirement belongs to, keyed by requirement id."""
    ids = set(requirement_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(col(Requirement.id), Control)
        .join(Control, col(Control.id) == col(Requirement.control_id))
        .where(col(Requirement.id).in_(ids))
    )
    return {requirement_id: control for requirement_id, control in rows}


def controls_mapped_onto(session: Session, control_id: int) -> set[int]:
    """The control and every measure or control mapped onto it (a measure proves its controls)."""
    sources = session.scalars(
        select(col(ControlMapping.source_id)).where(
            col(ControlMapping.target_id) == control_id, col(ControlMapping.kind) == MAPS_TO
        )
    ).all()
    return {control_id, *sources}


def live_control_by_ref(session: Session, framework_keys: Sequence[str], ref: str) -> Control | None:
    """The live control with ``ref`` in the first of ``framework_keys`` that has one."""
    rows = session.scalars(
        select(Control).where(
            col(Control.framework_key).in_(framework_keys),
            col(Control.ref) == ref,
            col(Control.retired_at).is_(None),
        )
    ).all()
    for key in framework_keys:
        for control in rows:
            if control.framework_key == key:
                return control
    return None


def mapped_controls(session: Session, control_id: int) -> tuple[list[Control], list[Control]]:
    """(measures and controls mapped onto this one, controls this one maps to), live only."""
    onto = (
        session.execute(
            select(Control)
            .join(ControlMapping, col(ControlMapping.source_id) == col(Control.id))
            .where(
                col(ControlMapping.target_id) == control_id,
                col(ControlMapping.kind) == MAPS_TO,
                col(Control.retired_at).is_(None),
            )
            .order_by(col(Control.framework_key), col(Control.position))
        )
        .scalars()
        .all()
    )
    to = (
        session.execute(
            select(Control)
            .join(ControlMapping, col(ControlMapping.target_id) == col(Control.id))
            .where(
                col(ControlMapping.source_id) == control_id,
                col(ControlMapping.kind) == MAPS_TO,
                col(Control.retired_at).is_(None),
            )
            .order_by(col(Control.framework_key), col(Control.position))
        )
        .scalars()
        .all()
    )
    return list(onto), list(to)


def successors(session: Session, control_id: int) -> list[Control]:
    return list(
        session.scalars(
            select(Control)
            .join(ControlMapping, col(ControlMapping.target_id) == col(Control.id))
            .where(col(ControlMapping.source_id) == control_id, col(ControlMapping.kind) == SUCCESSOR)
            .order_by(col(Control.position))
        )
    )


def mapped_targets(session: Session, source_ids: Iterable[int], framework_key: str) -> dict[int, list[Control]]:
    ids = set(source_ids)
    result: dict[int, list[Control]] = {}
    if not ids:
        return result
    rows = session.execute(
        select(col(ControlMapping.source_id), Control)
        .join(Control, col(Control.id) == col(ControlMapping.target_id))
        .where(
            col(ControlMapping.source_id).in_(ids),
            col(ControlMapping.kind) == MAPS_TO,
            col(Control.framework_key) == framework_key,
        )
        .order_by(col(Control.position))
    )
    for source_id, control in rows:
        result.setdefault(source_id, []).append(control)
    return result


def mappings_touching(session: Session, control_ids: Iterable[int]) -> Sequence[ControlMapping]:
    ids = set(control_ids)
    return session.scalars(
        select(ControlMapping).where(
            or_(col(ControlMapping.source_id).in_(ids), col(ControlMapping.target_id).in_(ids))
        )
    ).all()


def controls_by_ids(session: Session, ids: Iterable[int]) -> dict[int, Control]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {c.id: c for c in session.scalars(select(Control).where(col(Control.id).in_(wanted)))}


def delete_mappings_from(session: Session, framework_key: str) -> None:
    sources = select(col(Control.id)).where(col(Control.framework_key) == framework_key)
    session.execute(delete(ControlMapping).where(col(ControlMapping.source_id).in_(sources)))


def search_controls(
    session: Session, search: Search, *, framework_key: str | None = None, limit: int = 30
) -> Sequence[Control]:
    """Live controls and measures the search finds, best first: the exact id, then ids that
    start with the search, then by full-text rank, then in catalogue order."""
    ids = {search.folded, *([search.annex_ref] if search.annex_ref else [])}
    matches = Matches("control", search)
    ref = func.lower(col(Control.ref))
    query = select(Control).where(
        col(Control.retired_at).is_(None), or_(matches, ref.in_(ids)) if search.annex_ref else matches
    )
    if framework_key:
        query = query.where(col(Control.framework_key) == framework_key)
    return session.scalars(
        query.order_by(
            case((ref.in_(ids), 0), else_=1),
            case((or_(*(ref.startswith(value, autoescape=True) for value in ids)), 0), else_=1),
            Score("control", search).desc().nulls_last(),
            col(Control.framework_key),
            col(Control.position),
        ).limit(limit)
    ).all()


def search_requirements(session: Session, search: Search, *, limit: int = 30) -> Sequence[Requirement]:
    """Live requirements the search finds (by key, title or what the auditor expects), best first."""
    folded = search.folded
    return session.scalars(
        select(Requirement)
        .where(col(Requirement.retired_at).is_(None), Matches("requirement", search))
        .order_by(
            case((func.lower(col(Requirement.key)) == folded, 0), else_=1),
            case((func.lower(col(Requirement.key)).startswith(folded, autoescape=True), 0), else_=1),
            Score("requirement", search).desc().nulls_last(),
            col(Requirement.key),
        )
        .limit(limit)
    ).all()


def groups_in_order(session: Session, framework_key: str, *, kind: str | None = None) -> list[ControlGroup]:
    query = select(ControlGroup).where(col(ControlGroup.framework_key) == framework_key)
    if kind is not None:
        query = query.where(col(ControlGroup.kind) == kind)
    return list(session.scalars(query.order_by(col(ControlGroup.position))))


def switch_off_of(session: Session, requirement_id: int) -> RequirementSwitchOff | None:
    return session.get(RequirementSwitchOff, requirement_id)


def switch_offs_of(session: Session, requirement_ids: Iterable[int]) -> dict[int, RequirementSwitchOff]:
    ids = set(requirement_ids)
    if not ids:
        return {}
    rows = session.scalars(select(RequirementSwitchOff).where(col(RequirementSwitchOff.requirement_id).in_(ids)))
    return {row.requirement_id: row for row in rows}


def all_switch_offs(session: Session) -> Sequence[tuple[RequirementSwitchOff, Requirement, Control]]:
    rows = session.execute(
        select(RequirementSwitchOff, Requirement, Control)
        .join(Requirement, col(Requirement.id) == col(RequirementSwitchOff.requirement_id))
        .join(Control, col(Control.id) == col(Requirement.control_id))
        .order_by(col(Control.framework_key), col(Control.position), col(Requirement.position))
    )
    return [(switch_off, requirement, control) for switch_off, requirement, control in rows]


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


def remove(session: Session, row: object) -> None:
    session.delete(row)
    session.flush()


def sources_mapped_to(
    session: Session, target_ids: Iterable[int], *, kind: str, source_framework_key: str | None = None
) -> Sequence[tuple[ControlMapping, Control]]:
    """Mappings of ``kind`` into ``target_ids`` with the live control at their source end, in
    catalogue order: one query for any number of targets."""
    ids = set(target_ids)
    if not ids:
        return []
    query = (
        select(ControlMapping, Control)
        .join(Control, col(Control.id) == col(ControlMapping.source_id))
        .where(
            col(ControlMapping.target_id).in_(ids),
            col(ControlMapping.kind) == kind,
            col(Control.retired_at).is_(None),
        )
    )
    if source_framework_key:
        query = query.where(col(Control.framework_key) == source_framework_key)
    rows = session.execute(query.order_by(col(Control.framework_key), col(Control.position)))
    return [(mapping, control) for mapping, control in rows]


def catalogue_version(session: Session) -> tuple[object, ...]:
    """What identifies the loaded catalogue: the newest load's id, time and content hash (they
    change on every load that changed anything, even when SQLite reuses a rolled-back id)."""
    row = session.execute(
        select(col(CatalogueLoad.id), col(CatalogueLoad.loaded_at), col(CatalogueLoad.content_sha256))
        .order_by(col(CatalogueLoad.id).desc())
        .limit(1)
    ).first()
    return tuple(row) if row is not None else ()
