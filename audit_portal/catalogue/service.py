"""Loading catalogue files into the database, idempotently.

A framework whose file has not changed (same SHA-256) is left alone, so loading twice changes
nothing. A changed file updates titles, texts, groups, requirements and mappings and records a
:class:`CatalogueLoad` (the catalogue version). Controls and requirements that disappear from a
file are marked retired, never deleted: evidence may still point at them. Every file is read and
checked before anything is written; a bad file raises ``CatalogueFormatError`` and writes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session

from audit_portal.catalogue import repository
from audit_portal.catalogue.cache import catalogue_cache
from audit_portal.catalogue.models import (
    MAPS_TO,
    SUCCESSOR,
    CatalogueLoad,
    Control,
    ControlGroup,
    ControlMapping,
    Framework,
    Requirement,
)
from audit_portal.catalogue.schema import (
    CatalogueFile,
    builtin_catalogue_paths,
    read_catalogue_file,
    validate_catalogue,
)
from audit_portal.clock import utcnow


@dataclass
class FrameworkLoad:
    key: str
    source: str
    status: str  # created | updated | unchanged
    counts: dict[str, int] = field(default_factory=dict)


def read_files(paths: Sequence[Path]) -> list[tuple[CatalogueFile, str]]:
    """Read and check files, the built-in catalogue included for cross-references; each file
    comes back with the SHA-256 of its bytes."""
    given = [(read_catalogue_file(path), _sha256(path)) for path in paths]
    given_keys = {catalogue.framework.key for catalogue, _ in given}
    builtin = [
        (read_catalogue_file(path), _sha256(path))
        for path in builtin_catalogue_paths()
        if path.resolve() not in {p.resolve() for p in paths}
    ]
    builtin = [(c, sha) for c, sha in builtin if c.framework.key not in given_keys]
    validate_catalogue([catalogue for catalogue, _ in builtin + given])
    return builtin + given


def load_catalogue(session: Session, paths: Sequence[Path] = ()) -> list[FrameworkLoad]:
    """Load the built-in catalogue and then ``paths`` (files of the same format)."""
    files = read_files(list(paths))
    results: list[FrameworkLoad] = []
    changed: list[CatalogueFile] = []
    for catalogue, sha in files:
        result = _load_framework(session, catalogue, sha)
        results.append(result)
        if result.status != "unchanged":
            changed.append(catalogue)
    session.flush()
    for catalogue in changed:
        result = next(r for r in results if r.key == catalogue.framework.key)
        result.counts["mappings"] = _replace_mappings(session, catalogue)
    session.flush()
    if changed:
        # A new catalogue version: fill the in-process cache now, not on the next page load.
        catalogue_cache.warm(session)
    return results


def _load_framework(session: Session, catalogue: CatalogueFile, sha: str) -> FrameworkLoad:
    info = catalogue.framework
    now = utcnow()
    framework = repository.get_framework(session, info.key)
    if framework is not None and framework.content_sha256 == sha:
        return FrameworkLoad(info.key, catalogue.source.name, "unchanged")
    status = "created" if framework is None else "updated"
    if framework is None:
        framework = Framework(
            key=info.key, loaded_at=now, name="", version="", language="", source_name="", content_sha256=""
        )
        session.add(framework)
    framework.name = info.name
    framework.version = info.version
    framework.language = info.language
    framework.scope = info.scope
    framework.scope_nl = info.scope_nl
    framework.successor_framework = info.successor_framework
    framework.source_name = catalogue.source.name
    framework.content_sha256 = sha
    framework.loaded_at = now
    session.flush()

    counts = {
        "groups": _upsert_groups(session, catalogue),
        "controls": _upsert_controls(session, catalogue, now),
    }
    counts["requirements"] = _upsert_requirements(session, catalogue, now)
    session.add(
        CatalogueLoad(
            framework_key=info.key,
            version=info.version,
            content_sha256=sha,
            source_name=catalogue.source.name,
            loaded_at=now,
            summary={"status": status, **counts},
        )
    )
    return FrameworkLoad(info.key, catalogue.source.name, status, counts)


def _upsert_groups(session: Session, catalogue: CatalogueFile) -> int:
    existing = repository.groups_of(session, catalogue.framework.key)
    for position, group in enumerate(catalogue.groups):
        row = existing.get(group.key)
        if row is None:
            row = ControlGroup(framework_key=catalogue.framework.key, key=group.key, title="", position=0)
            session.add(row)
        row.title = group.title
        row.title_nl = group.title_nl
        row.position = position
        row.kind = group.kind
    return len(catalogue.groups)


def _upsert_controls(session: Session, catalogue: CatalogueFile, now) -> int:
    key = catalogue.framework.key
    existing = {c.ref: c for c in repository.controls_of(session, key, include_retired=True)}
    group_kinds = {group.key: group.kind for group in catalogue.groups}
    in_file = set()
    for position, item in enumerate(catalogue.controls):
        in_file.add(item.id)
        control = existing.get(item.id)
        if control is None:
            control = Control(framework_key=key, ref=item.id, group_key="", title="", position=0)
            session.add(control)
        control.group_key = item.group
        control.title = item.title
        control.title_nl = item.title_nl
        control.text = item.text
        control.text_nl = item.text_nl
        control.attributes = {name: list(values) for name, values in item.attributes.items()}
        control.position = position
        control.kind = group_kinds[item.group]
        control.retired_at = None
    for ref, control in existing.items():
        if ref not in in_file and control.retired_at is None:
            control.retired_at = now
    session.flush()
    return len(catalogue.controls)


def _upsert_requirements(session: Session, catalogue: CatalogueFile, now) -> int:
    controls = {c.ref: c for c in repository.controls_of(session, catalogue.framework.key)}
    in_file = [(controls[item.id], requirement) for item in catalogue.controls for requirement in item.requirements]
    existing = {r.key: r for r in repository.requirements_of_framework(session, catalogue.framework.key)}
    for position, (control, spec) in enumerate(in_file):
        row = existing.get(spec.key)
        if row is None:
            row = Requirement(
                key=spec.key,
                control_id=control.id,
                title="",
                evidence_kind="",
                collector="",
                frequency_days=1,
                grace_days=0,
                auditor_expects="",
                position=0,
            )
            session.add(row)
        row.control_id = control.id
        row.title = spec.title
        row.evidence_kind = spec.evidence_kind.value
        row.collector = spec.collector
        row.frequency_days = spec.frequency_days
        row.grace_days = spec.grace_days
        row.needs_signoff = spec.needs_signoff
        row.tracks_expiry = spec.tracks_expiry
        row.auditor_expects = spec.auditor_expects
        row.position = position
        row.retired_at = None
    keys_in_file = {spec.key for _, spec in in_file}
    for key, row in existing.items():
        if key not in keys_in_file and row.retired_at is None:
            row.retired_at = now
    return len(in_file)


def _replace_mappings(session: Session, catalogue: CatalogueFile) -> int:
    key = catalogue.framework.key
    repository.delete_mappings_from(session, key)
    wanted: list[tuple[str, str, str, str, str | None]] = []  # source ref, kind, target fw, target ref, why
    for item in catalogue.controls:
        for successor in item.successors:
            wanted.append((item.id, SUCCESSOR, catalogue.framework.successor_framework or "", successor, None))
        for mapping in item.maps_to:
            wanted.append((item.id, MAPS_TO, mapping.framework, mapping.id, mapping.rationale))
    controls = repository.controls_by_refs(session, [(key, w[0]) for w in wanted] + [(w[2], w[3]) for w in wanted])
    for source_ref, kind, target_framework, target_ref, rationale in wanted:
        target = controls.get((target_framework, target_ref))
        if target is None:
            raise ValueError(
                f"{catalogue.source.name}: {source_ref} maps to {target_framework} {target_ref}, which is not loaded"
            )
        session.add(
            ControlMapping(
                source_id=controls[(key, source_ref)].id, target_id=target.id, kind=kind, rationale=rationale
            )
        )
    return len(wanted)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()
