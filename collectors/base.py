"""The collector plugin surface: what a collector is and what it hands back.

A collector is any object matching :class:`Collector`. It never touches the database or the
evidence store: the runner (``collectors.runner``) validates its config, calls ``collect`` with a
:class:`CollectContext`, then stores the artifacts as evidence and the findings as findings.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel


class Severity(enum.StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


ArtifactKind = Literal["raw", "normalised", "report"]


@dataclass(frozen=True)
class Artifact:
    """One file a run produces. Exactly one of ``data`` or ``path`` is set; large raw inputs
    are handed over as a path so the runner can stream them into the store."""

    filename: str
    kind: ArtifactKind
    content_type: str
    data: bytes | None = None
    path: Path | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.path is None):
            raise ValueError("an artifact has either data or a path")


@dataclass(frozen=True)
class FindingDraft:
    """A problem a collector saw. ``key`` is stable across runs for the same problem (for
    example ``admin-port-open:filter/INPUT:tcp/22:0.0.0.0/0``) so the portal can tell a new
    finding from one still open since the previous run."""

    key: str
    title: str
    severity: Severity
    detail: str = ""
    subject: str = ""


@dataclass
class CollectResult:
    """What ``collect`` returns. ``normalised`` is the JSON-ready summary of what was checked;
    it is stored as the normalised artifact and handed to the next run as ``previous``."""

    normalised: dict[str, Any]
    artifacts: list[Artifact] = field(default_factory=list)
    findings: list[FindingDraft] = field(default_factory=list)


@dataclass
class CollectContext:
    instance_name: str
    config: Any  # an instance of the collector's Config model, already validated
    now: datetime
    workdir: Path
    log: logging.Logger
    previous: Mapping[str, Any] | None = None  # ``normalised`` of the previous successful run
    manual_evidence: Mapping[str, datetime] = field(default_factory=dict)  # requirement key -> newest collected_at


class CollectorError(Exception):
    """A collector could not do its job (unreadable input, tool exited non-zero, ...).
    The message is shown in the run log; the run is recorded as failed."""


@runtime_checkable
class Collector(Protocol):
    name: ClassVar[str]  # matches the ``collector`` of the requirements it satisfies
    version: ClassVar[str]
    Config: ClassVar[type[BaseModel]]
    default_schedule: ClassVar[str]  # cron expression
    requirements: ClassVar[tuple[str, ...]]  # requirement keys, e.g. ("COM-1/firewall-review",)

    def collect(self, ctx: CollectContext) -> CollectResult: ...
