"""What a collector option may name, and who may choose it.

A collector declares its options as a pydantic model (``Config``). Most options are plain
values the portal validates (a region, a repository URL, a threshold). Some name something on
the portal's host: a program to run, a command line, a file to read. Those are marked with the
types below, and the portal lets only an operator on the host choose them:

- :data:`HostCommand` / :data:`HostProgram`: a free command line or program. Without one, the
  collector runs the fixed argv it declares for the source type (``iptables-save``,
  ``nft -j list ruleset``, ``restic snapshots --json``), never through a shell.
- :data:`HostPath` / :data:`HostGlob`: a file (or a glob of files) to read. It must resolve,
  symlinks followed, inside one of the folders in ``AUDIT_PORTAL_COLLECTOR_PATH_ROOTS`` and
  never inside the portal's data directory (secret key, signing key, database, evidence).

The portal validates every configuration with a :class:`ConfigOrigin` as the pydantic
validation context: :data:`WEB` (the instance form and the JSON API) refuses every marked
option, naming the field; :data:`HOST` (``audit-portal collectors import`` on the host) accepts
them, confined to the roots. A run validates the stored configuration again just before the
collector starts, so a file swapped for a symlink after the import is refused then.

Validation without a context (a collector's own tests, ``collect run --push`` on a remote host
with the operator's own file) checks types only: the portal never does that.
"""

from __future__ import annotations

import glob
import os
import shlex
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ValidationInfo
from pydantic_core import PydanticCustomError

WEB = "web"
HOST = "host"
ROOTS_SETTING = "AUDIT_PORTAL_COLLECTOR_PATH_ROOTS"
_GLOB_CHARACTERS = "*?["


@dataclass(frozen=True)
class HostOnly:
    """Marks an option only an operator on the host may set: ``kind`` is what it names."""

    kind: Literal["command", "program", "path"]


@dataclass(frozen=True)
class ConfigOrigin:
    """Who is configuring an instance, and which files host options may read."""

    origin: Literal["web", "host"]
    path_roots: tuple[Path, ...] = ()
    # Never readable, whatever the roots say: the data directory, the database file, the
    # signing key, the local evidence store.
    forbidden: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "path_roots", tuple(Path(os.path.realpath(p)) for p in self.path_roots))
        object.__setattr__(self, "forbidden", tuple(Path(os.path.realpath(p)) for p in self.forbidden))


def _origin(info: ValidationInfo) -> ConfigOrigin | None:
    context = info.context
    return context if isinstance(context, ConfigOrigin) else None


_WEB_REFUSALS = {
    "command": "a command line can only be set in an instance file an operator imports on the host "
    "(audit-portal collectors import); leave it out to run the command this source type declares",
    "program": "a program can only be chosen in an instance file an operator imports on the host "
    "(audit-portal collectors import)",
    "path": "a file path can only be set in an instance file an operator imports on the host "
    "(audit-portal collectors import), inside the folders of " + ROOTS_SETTING,
}


def _refuse_from_web(kind: Literal["command", "program", "path"], info: ValidationInfo) -> None:
    origin = _origin(info)
    if origin is not None and origin.origin != HOST:
        raise PydanticCustomError("host_only", _WEB_REFUSALS[kind])


def confinement_problem(path: Path, origin: ConfigOrigin) -> str | None:
    """Why ``path`` may not be read under ``origin`` (None: it may)."""
    if not path.is_absolute():
        return f"{path} is not an absolute path"
    resolved = Path(os.path.realpath(path))
    for forbidden in origin.forbidden:
        if resolved == forbidden or resolved.is_relative_to(forbidden):
            return f"{path} lies inside the portal's own files ({forbidden}), which no collector may read"
    if not any(resolved.is_relative_to(root) for root in origin.path_roots):
        roots = ", ".join(str(root) for root in origin.path_roots) or "none are configured"
        shown = f"{path} (which resolves to {resolved})" if resolved != path else str(path)
        return f"{shown} is outside the folders collectors may read ({ROOTS_SETTING}: {roots})"
    return None


def _host_path(value: Path, info: ValidationInfo) -> Path:
    _refuse_from_web("path", info)
    origin = _origin(info)
    if origin is not None:
        problem = confinement_problem(Path(os.path.expanduser(value)), origin)
        if problem:
            raise PydanticCustomError("path_not_allowed", "{problem}", {"problem": problem})
    return value


def _host_glob(value: str, info: ValidationInfo) -> str:
    _refuse_from_web("path", info)
    origin = _origin(info)
    if origin is None:
        return value
    pattern = os.path.expanduser(value)
    # The folder part before the first wildcard must itself be allowed, and so must every file
    # the pattern matches now (a run checks again before it reads).
    wildcards = [pattern.index(character) for character in _GLOB_CHARACTERS if character in pattern]
    if wildcards:
        head = pattern[: min(wildcards)]
        candidates = [Path((head if head.endswith("/") else os.path.dirname(head)) or "/")]
    else:
        candidates = [Path(pattern)]
    candidates += [Path(match) for match in sorted(glob.glob(pattern))]
    for candidate in candidates:
        problem = confinement_problem(candidate, origin)
        if problem:
            raise PydanticCustomError("path_not_allowed", "{problem}", {"problem": problem})
    return value


def _split_command(value: object) -> object:
    """A command may be written as one string in YAML; it is split like a shell would split it
    but always run without one."""
    return shlex.split(value) if isinstance(value, str) else value


def _host_command(value: list[str], info: ValidationInfo) -> list[str]:
    _refuse_from_web("command", info)
    if not value or not value[0]:
        raise PydanticCustomError("empty_command", "a command needs at least the program to run")
    return value


def _host_program(value: str, info: ValidationInfo) -> str:
    _refuse_from_web("program", info)
    if not value.strip():
        raise PydanticCustomError("empty_program", "name the program to run")
    return value


HostPath = Annotated[Path, AfterValidator(_host_path), HostOnly("path")]
HostGlob = Annotated[str, AfterValidator(_host_glob), HostOnly("path")]
HostCommand = Annotated[list[str], BeforeValidator(_split_command), AfterValidator(_host_command), HostOnly("command")]
HostProgram = Annotated[str, AfterValidator(_host_program), HostOnly("program")]


# --- checking a plugin's Config when it is loaded -------------------------------------------


def _models_and_paths(annotation: Any, marked: bool) -> Iterator[tuple[type[BaseModel] | None, bool]]:
    """(nested model, None) for every model inside ``annotation``; (None, marked) for every
    path type, ``marked`` telling whether a HostOnly marker covers it."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = typing.get_args(annotation)
        yield from _models_and_paths(inner, marked or any(isinstance(m, HostOnly) for m in metadata))
        return
    if origin is not None or isinstance(annotation, types.UnionType):
        for argument in typing.get_args(annotation):
            yield from _models_and_paths(argument, marked)
        return
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            yield annotation, marked
        elif issubclass(annotation, PurePath):
            yield None, marked


def schema_problems(model: type[BaseModel]) -> list[str]:
    """What makes a Config unfit for the portal: a model (or nested model) that accepts options
    it does not declare, or a path option not marked as HostPath."""
    problems: list[str] = []
    seen: set[type[BaseModel]] = set()

    def visit(current: type[BaseModel], where: str) -> None:
        if current in seen:
            return
        seen.add(current)
        if current.model_config.get("extra") != "forbid":
            problems.append(f"{where} accepts unknown options (set model_config extra='forbid')")
        validates_defaults = bool(current.model_config.get("validate_default"))
        for name, field in current.model_fields.items():
            marked = any(isinstance(m, HostOnly) for m in field.metadata)
            host_only = marked
            for nested, covered in _models_and_paths(field.annotation, marked):
                if nested is not None:
                    visit(nested, f"{where}.{name}")
                elif not covered:
                    problems.append(f"{where}.{name} is a path: declare it as collectors.options.HostPath")
                else:
                    host_only = True
            # A default is not validated unless the model asks for it: a default file would be
            # read without the web refusal and without the roots.
            has_default = not field.is_required() and field.get_default(call_default_factory=True) not in (None, [], ())
            if host_only and has_default and not (validates_defaults or field.validate_default):
                problems.append(
                    f"{where}.{name} has a default file or command: set validate_default=True so the "
                    "default is checked like a chosen value"
                )

    visit(model, "Config")
    return problems
