"""Finding collectors: every collector, built-in or third-party, is an entry point in the group
``audit_portal.collectors`` (``name = "package.module:Class"``).

The portal passes its ``AUDIT_PORTAL_COLLECTOR_ALLOWLIST`` setting (``Settings.collector_allowlist``,
comma-separated entry point names) as ``allowlist``; empty or None, every installed collector is
available. A plugin that fails to import, does not look like a :class:`collectors.base.Collector`,
or whose Config accepts undeclared options or unmarked paths (``collectors.options``) is
reported, never loaded.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import BaseModel

from collectors.base import Collector
from collectors.options import schema_problems

ENTRY_POINT_GROUP = "audit_portal.collectors"
ALLOWLIST_VARIABLE = "AUDIT_PORTAL_COLLECTOR_ALLOWLIST"
_MEMBERS = ("name", "version", "Config", "default_schedule", "requirements", "collect")


class UnknownCollector(LookupError):
    """No usable collector of that name is installed (or the allowlist leaves it out). Its
    parts let the portal say it in the reader's language: ``allowlisted`` when an allowlist was
    given, ``target`` and ``problem`` when the collector is installed but cannot be loaded."""

    def __init__(self, message: str, *, allowlisted: bool = False, target: str = "", problem: str = "") -> None:
        super().__init__(message)
        self.allowlisted, self.target, self.problem = allowlisted, target, problem


@dataclass(frozen=True)
class CollectorInfo:
    name: str
    target: str  # "package.module:Class", as the entry point names it
    distribution: str
    collector: type | None  # None when it could not be loaded
    problem: str = ""

    @property
    def usable(self) -> bool:
        return self.collector is not None


def _problem_with(name: str, candidate: object) -> str:
    if not isinstance(candidate, type):
        return f"{candidate!r} is not a class"
    missing = [member for member in _MEMBERS if not hasattr(candidate, member)]
    if missing:
        return f"missing {', '.join(missing)} (see collectors/base.py)"
    plugin: Any = candidate  # a class with every member; what each holds is checked below
    if plugin.name != name:
        return f"its name is {plugin.name!r} but the entry point is called {name!r}"
    config = plugin.Config
    if not (isinstance(config, type) and issubclass(config, BaseModel)):
        return "Config is not a pydantic model"
    if isinstance(plugin.requirements, str):
        return "requirements must be a tuple of requirement keys, not a string"
    problems = schema_problems(config)
    if problems:
        return "; ".join(problems)
    return ""


def _describe(entry_point: EntryPoint) -> CollectorInfo:
    distribution = entry_point.dist.name if entry_point.dist is not None else "unknown"
    try:
        candidate = entry_point.load()
    except Exception as error:  # noqa: BLE001 - a broken plugin must not take the portal down with it
        return CollectorInfo(entry_point.name, entry_point.value, distribution, None, f"cannot be imported: {error}")
    problem = _problem_with(entry_point.name, candidate)
    return CollectorInfo(entry_point.name, entry_point.value, distribution, None if problem else candidate, problem)


def discover(allowlist: Collection[str] | None = None) -> dict[str, CollectorInfo]:
    """Every collector entry point the allowlist admits (None or empty: all), by name."""
    allowed = frozenset(allowlist) if allowlist else None
    found: dict[str, CollectorInfo] = {}
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if allowed is not None and entry_point.name not in allowed:
            continue
        if entry_point.name in found:
            # Two distributions claiming one name: refuse both rather than guess.
            found[entry_point.name] = CollectorInfo(
                entry_point.name,
                entry_point.value,
                "several",
                None,
                "registered by more than one installed distribution",
            )
            continue
        found[entry_point.name] = _describe(entry_point)
    return found


def load(name: str, allowlist: Collection[str] | None = None) -> Collector:
    """A new instance of the collector called ``name``."""
    info = discover(allowlist).get(name)
    if info is None:
        raise UnknownCollector(
            f"no collector {name!r} is installed" + (f" or allowed by {ALLOWLIST_VARIABLE}" if allowlist else ""),
            allowlisted=bool(allowlist),
        )
    if info.collector is None:
        raise UnknownCollector(
            f"collector {name!r} ({info.target}) is unusable: {info.problem}",
            target=info.target,
            problem=str(info.problem),
        )
    return info.collector()
