"""The catalogue file format (docs/catalogue-format.md): models, a validating reader, cross-file checks.

A catalogue file describes one framework: its groups, its controls (or measures), their mappings to
controls of other frameworks and the requirements that say how a control is proven. Every error is
reported as a ``CatalogueFormatError`` naming the file, the line and the path inside the document, so
that whoever wrote the file can find and fix the problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, Strict, StringConstraints, ValidationError

FORMAT_ID = "audit-portal-catalogue/1"
MANUAL_COLLECTOR = "manual"

Location = tuple[str | int, ...]

NonBlank = Annotated[str, StringConstraints(pattern=r"\S")]
FrameworkKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
ControlId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
CollectorName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
RequirementKey = Annotated[str, StringConstraints(pattern=r"^[^/\s]+/[a-z0-9][a-z0-9-]*$")]
AttributeName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
AttributeValue = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_]*$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]

# ISO/IEC 27002:2022 clause 4.2: the attribute sets and their values. A file may define attributes
# of its own (27002 invites that); only these five are checked against a vocabulary.
ISO27002_ATTRIBUTES: dict[str, frozenset[str]] = {
    "control_type": frozenset({"preventive", "detective", "corrective"}),
    "security_properties": frozenset({"confidentiality", "integrity", "availability"}),
    "cybersecurity_concepts": frozenset({"identify", "protect", "detect", "respond", "recover"}),
    "operational_capabilities": frozenset(
        {
            "governance",
            "asset_management",
            "information_protection",
            "human_resource_security",
            "physical_security",
            "system_and_network_security",
            "application_security",
            "secure_configuration",
            "identity_and_access_management",
            "threat_and_vulnerability_management",
            "continuity",
            "supplier_relationships_security",
            "legal_and_compliance",
            "information_security_event_management",
            "information_security_assurance",
        }
    ),
    "security_domains": frozenset({"governance_and_ecosystem", "protection", "defence", "resilience"}),
}


class EvidenceKind(StrEnum):
    DOCUMENT = "document"
    REPORT = "report"
    LOG = "log"
    CONFIGURATION = "configuration"
    CERTIFICATE = "certificate"
    RECORD = "record"


class CatalogueFormatError(ValueError):
    """A catalogue file that cannot be used, with where and why."""

    def __init__(self, file: Path | str, line: int | None, path: str, reason: str) -> None:
        self.file = Path(file)
        self.line = line
        self.path = path
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file.name if self.line is None else f"{self.file.name}:{self.line}"
        if self.path:
            return f"{where}: {self.path}: {self.reason}"
        return f"{where}: {self.reason}"


class _Strict(BaseModel):
    # strict: YAML reads an unquoted 5.10 as the float 5.1; refusing it beats silently renaming a control.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FrameworkInfo(_Strict):
    key: FrameworkKey
    name: NonBlank
    version: NonBlank
    language: LanguageCode = "en"
    scope: NonBlank | None = None
    scope_nl: NonBlank | None = None
    successor_framework: FrameworkKey | None = None


# A group holds Annex A controls (or an organisation's measures) unless it says it holds the
# management-system clauses 4 to 10, which have their own coverage and never enter the SoA.
GROUP_KINDS = ("controls", "clauses")


class Group(_Strict):
    key: ControlId
    title: NonBlank
    title_nl: NonBlank | None = None
    kind: Literal["controls", "clauses"] = "controls"


class Mapping(_Strict):
    framework: FrameworkKey
    id: ControlId
    rationale: NonBlank


class Requirement(_Strict):
    key: RequirementKey
    title: NonBlank
    evidence_kind: Annotated[EvidenceKind, Strict(False)]  # strict mode would only take enum members
    collector: CollectorName
    frequency_days: int = Field(ge=1)
    grace_days: int = Field(ge=0)
    needs_signoff: bool = False
    tracks_expiry: bool = False
    auditor_expects: NonBlank

    @property
    def owner_id(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def is_manual(self) -> bool:
        return self.collector == MANUAL_COLLECTOR


class Control(_Strict):
    id: ControlId
    group: ControlId
    title: NonBlank
    title_nl: NonBlank | None = None
    text: NonBlank | None = None
    text_nl: NonBlank | None = None
    attributes: dict[AttributeName, list[AttributeValue]] = Field(default_factory=dict)
    successors: list[ControlId] = Field(default_factory=list)
    maps_to: list[Mapping] = Field(default_factory=list)
    requirements: list[Requirement] = Field(default_factory=list)


class CatalogueFile(_Strict):
    format: Literal["audit-portal-catalogue/1"]
    framework: FrameworkInfo
    groups: list[Group] = Field(min_length=1)
    controls: list[Control] = Field(min_length=1)

    _source: Path = PrivateAttr(default=Path("<memory>"))
    _lines: dict[Location, int] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> Path:
        return self._source

    def line_of(self, location: Location) -> int | None:
        """The line of the deepest part of ``location`` that the file spells out."""
        for end in range(len(location), -1, -1):
            line = self._lines.get(location[:end])
            if line is not None:
                return line
        return None

    def error(self, location: Location, reason: str) -> CatalogueFormatError:
        return CatalogueFormatError(self._source, self.line_of(location), format_location(location), reason)

    def control_ids(self) -> set[str]:
        return {control.id for control in self.controls}

    def clause_groups(self) -> set[str]:
        return {group.key for group in self.groups if group.kind == "clauses"}

    def annex_controls(self) -> list[Control]:
        """The controls (or measures), without the management-system clauses."""
        clause_groups = self.clause_groups()
        return [control for control in self.controls if control.group not in clause_groups]

    def clauses(self) -> list[Control]:
        clause_groups = self.clause_groups()
        return [control for control in self.controls if control.group in clause_groups]


def format_location(location: Location) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# libyaml when PyYAML was built with it (its wheels are): the same nodes and marks, six times faster.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def builtin_catalogue_paths() -> list[Path]:
    """The catalogue files shipped with the package, one per framework."""
    return sorted((Path(__file__).parent / "data").glob("*.yaml"))


def read_catalogue_file(path: Path | str) -> CatalogueFile:
    """Parse and check one catalogue file; raise ``CatalogueFormatError`` on the first problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogueFormatError(path, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise CatalogueFormatError(path, None, "", f"cannot read the file: {exc.strerror or exc}") from exc
    data, lines = _parse_yaml(path, text)
    catalogue = _build_model(path, data, lines)
    _check_file(catalogue)
    return catalogue


def validate_catalogue(files: Sequence[CatalogueFile]) -> None:
    """Check what only the whole catalogue can tell: frameworks, mapped ids, requirement keys."""
    frameworks = _index_frameworks(files)
    for catalogue in files:
        _check_successors(catalogue, frameworks)
        _check_mappings(catalogue, frameworks)
    _check_unique_requirement_keys(files)


def _parse_yaml(path: Path, text: str) -> tuple[Any, dict[Location, int]]:
    loader = YAML_LOADER(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise CatalogueFormatError(path, 1, "", "the file is empty")
        lines: dict[Location, int] = {(): root.start_mark.line + 1}
        _index_lines(path, root, (), lines)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = " ".join(part for part in (exc.context, exc.problem) if part)
        raise CatalogueFormatError(path, line, "", f"invalid YAML: {reason}") from exc
    except yaml.YAMLError as exc:
        raise CatalogueFormatError(path, None, "", f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise CatalogueFormatError(
            path, lines[()], "", "the document must be a mapping with format, framework, groups and controls"
        )
    return data, lines


def _index_lines(path: Path, node: yaml.Node, location: Location, lines: dict[Location, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*location, key)
            if key in seen:
                # safe_load would keep the last value silently; a reviewed file must say one thing.
                raise CatalogueFormatError(
                    path, key_node.start_mark.line + 1, format_location(child), f"duplicate key '{key}'"
                )
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _index_lines(path, value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*location, index)
            lines[child] = item.start_mark.line + 1
            _index_lines(path, item, child, lines)


def _build_model(path: Path, data: dict[str, Any], lines: dict[Location, int]) -> CatalogueFile:
    try:
        catalogue = CatalogueFile.model_validate(data)
    except ValidationError as exc:
        raise _first_error(path, exc, lines) from exc
    catalogue._source = path
    catalogue._lines = lines
    return catalogue


def _first_error(path: Path, exc: ValidationError, lines: dict[Location, int]) -> CatalogueFormatError:
    def line_of(location: Location) -> int | None:
        for end in range(len(location), -1, -1):
            if location[:end] in lines:
                return lines[location[:end]]
        return None

    errors = sorted(exc.errors(), key=lambda error: line_of(tuple(error["loc"])) or 0)
    error = errors[0]
    location: Location = tuple(error["loc"])
    return CatalogueFormatError(path, line_of(location), format_location(location), _reason(error))


def _reason(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_type" and isinstance(error["input"], (int, float)):
        return f"expected text, got the number {error['input']!r}; quote it (e.g. '5.10') so YAML keeps it as written"
    if kind == "string_pattern_mismatch":
        return f"{error['input']!r} is not allowed here ({_pattern_hint(error)})"
    return f"{error['msg'][0].lower()}{error['msg'][1:]}"


def _pattern_hint(error: Any) -> str:
    pattern = error.get("ctx", {}).get("pattern", "")
    if pattern == r"\S":
        return "must not be blank"
    return f"must match {pattern}"


def _check_file(catalogue: CatalogueFile) -> None:
    group_keys = _unique(catalogue, (("groups", i, "key") for i in range(len(catalogue.groups))), "group key")
    _unique(catalogue, (("controls", i, "id") for i in range(len(catalogue.controls))), "control id")
    for index, control in enumerate(catalogue.controls):
        where: Location = ("controls", index)
        if control.group not in group_keys:
            raise catalogue.error((*where, "group"), f"unknown group '{control.group}'")
        _check_attributes(catalogue, where, control)
        _check_control_references(catalogue, where, control)
        for number, requirement in enumerate(control.requirements):
            if requirement.owner_id != control.id:
                raise catalogue.error(
                    (*where, "requirements", number, "key"),
                    f"requirement key '{requirement.key}' must start with the control id: '{control.id}/...'",
                )


def _unique(catalogue: CatalogueFile, locations: Iterable[Location], what: str) -> set[str]:
    seen: set[str] = set()
    for location in locations:
        value = _value_at(catalogue, location)
        if value in seen:
            raise catalogue.error(location, f"duplicate {what} '{value}'")
        seen.add(value)
    return seen


def _value_at(catalogue: CatalogueFile, location: Location) -> Any:
    value: Any = catalogue
    for part in location:
        value = value[part] if isinstance(part, int) else getattr(value, part)
    return value


def _check_attributes(catalogue: CatalogueFile, where: Location, control: Control) -> None:
    for name, values in control.attributes.items():
        allowed = ISO27002_ATTRIBUTES.get(name)
        seen: set[str] = set()
        for number, value in enumerate(values):
            location = (*where, "attributes", name, number)
            if allowed is not None and value not in allowed:
                raise catalogue.error(
                    location, f"'{value}' is not a value of {name} (one of: {', '.join(sorted(allowed))})"
                )
            if value in seen:
                raise catalogue.error(location, f"duplicate value '{value}'")
            seen.add(value)


def _check_control_references(catalogue: CatalogueFile, where: Location, control: Control) -> None:
    if control.successors and catalogue.framework.successor_framework is None:
        raise catalogue.error(
            (*where, "successors"), "successors need framework.successor_framework to say which framework they are in"
        )
    if len(set(control.successors)) != len(control.successors):
        raise catalogue.error((*where, "successors"), "a successor is listed twice")
    seen: set[tuple[str, str]] = set()
    for number, mapping in enumerate(control.maps_to):
        target = (mapping.framework, mapping.id)
        if target in seen:
            raise catalogue.error(
                (*where, "maps_to", number), f"mapping to {mapping.framework} {mapping.id} is listed twice"
            )
        seen.add(target)


def _index_frameworks(files: Sequence[CatalogueFile]) -> dict[str, CatalogueFile]:
    frameworks: dict[str, CatalogueFile] = {}
    for catalogue in files:
        key = catalogue.framework.key
        if key in frameworks:
            first = frameworks[key]
            raise catalogue.error(
                ("framework", "key"),
                f"framework '{key}' is already defined in {first.source.name}:{first.line_of(('framework', 'key'))}",
            )
        frameworks[key] = catalogue
    return frameworks


def _check_successors(catalogue: CatalogueFile, frameworks: dict[str, CatalogueFile]) -> None:
    successor_key = catalogue.framework.successor_framework
    if successor_key is None:
        return
    successor = frameworks.get(successor_key)
    if successor is None:
        raise catalogue.error(("framework", "successor_framework"), f"unknown framework '{successor_key}'")
    known = successor.control_ids()
    for index, control in enumerate(catalogue.controls):
        for number, successor_id in enumerate(control.successors):
            if successor_id not in known:
                raise catalogue.error(
                    ("controls", index, "successors", number),
                    f"unknown control '{successor_id}' in framework '{successor_key}'",
                )


def _check_mappings(catalogue: CatalogueFile, frameworks: dict[str, CatalogueFile]) -> None:
    for index, control in enumerate(catalogue.controls):
        for number, mapping in enumerate(control.maps_to):
            where: Location = ("controls", index, "maps_to", number)
            target = frameworks.get(mapping.framework)
            if target is None:
                raise catalogue.error((*where, "framework"), f"unknown framework '{mapping.framework}'")
            if mapping.id not in target.control_ids():
                raise catalogue.error(
                    (*where, "id"), f"unknown control '{mapping.id}' in framework '{mapping.framework}'"
                )


def _check_unique_requirement_keys(files: Sequence[CatalogueFile]) -> None:
    first_seen: dict[str, tuple[CatalogueFile, Location]] = {}
    for catalogue, location, requirement in _requirements(files):
        if requirement.key in first_seen:
            other, other_location = first_seen[requirement.key]
            first = f"{other.source.name}:{other.line_of(other_location)}"
            raise catalogue.error(
                (*location, "key"), f"duplicate requirement key '{requirement.key}' (first in {first})"
            )
        first_seen[requirement.key] = (catalogue, location)


def _requirements(files: Sequence[CatalogueFile]) -> Iterator[tuple[CatalogueFile, Location, Requirement]]:
    for catalogue in files:
        for index, control in enumerate(catalogue.controls):
            for number, requirement in enumerate(control.requirements):
                yield catalogue, ("controls", index, "requirements", number), requirement
