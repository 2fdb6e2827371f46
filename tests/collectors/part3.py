"""Helpers the part-3 collector tests share: a context to call ``collect`` with, and the
raw bundle's members."""

from __future__ import annotations

import logging
import tarfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collectors.base import CollectContext

RECORDINGS = Path(__file__).resolve().parent / "recordings"


def context(
    collector: Any,
    config: Mapping[str, Any],
    workdir: Path,
    *,
    now: datetime,
    previous: Mapping[str, Any] | None = None,
    name: str = "test",
) -> CollectContext:
    workdir.mkdir(parents=True, exist_ok=True)
    return CollectContext(
        instance_name=name,
        config=collector.Config.model_validate(config),
        now=now.astimezone(UTC),
        workdir=workdir,
        log=logging.getLogger(f"test.{collector.name}"),
        previous=previous,
    )


def raw_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as bundle:
        return {member.name: bundle.extractfile(member).read() for member in bundle.getmembers()}  # type: ignore[union-attr]
