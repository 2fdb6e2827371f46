"""What every collector hands back in the same shape: a raw archive of its inputs byte for
byte, the normalised JSON and an HTML report rendered from the collector's own template."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from collectors.base import Artifact, FindingDraft, Severity

SHARED_TEMPLATES = Path(__file__).parent / "templates"


def raw_archive(members: Sequence[tuple[str, bytes]], now: datetime) -> bytes:
    """A tar.gz of ``(name, bytes)`` members; fixed times and owners make the same inputs at
    the same moment give the same archive."""
    buffer = io.BytesIO()
    stamp = int(now.timestamp())
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=stamp) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = stamp
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def report_environment(package_dir: Path) -> Environment:
    """Jinja for a collector's ``templates/`` folder, which may extend the shared
    ``base.html.j2``. Autoescaped: tool output, account names and comments are
    attacker-influenced text and are never rendered raw."""
    return Environment(
        loader=ChoiceLoader([FileSystemLoader(package_dir / "templates"), FileSystemLoader(SHARED_TEMPLATES)]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def findings_summary(findings: Sequence[FindingDraft]) -> list[dict[str, str]]:
    return [{"key": f.key, "severity": f.severity.value, "title": f.title, "subject": f.subject} for f in findings]


def most_severe_first(findings: Sequence[FindingDraft]) -> list[FindingDraft]:
    unique: dict[str, FindingDraft] = {}
    for finding in findings:
        unique.setdefault(finding.key, finding)
    return sorted(unique.values(), key=lambda f: (-f.severity.rank, f.key))


def severity_counts(findings: Sequence[FindingDraft]) -> dict[str, int]:
    return {s.value: sum(f.severity == s for f in findings) for s in Severity}


def finding_changes(
    previous: Mapping[str, Any] | None, findings: Sequence[FindingDraft]
) -> dict[str, list[str]] | None:
    """Finding keys opened and resolved since the previous run's normalised ``findings``."""
    if previous is None:
        return None
    before = {item["key"] for item in previous.get("findings") or [] if isinstance(item, dict)}
    now = {finding.key for finding in findings}
    return {"new": sorted(now - before), "resolved": sorted(before - now)}


def standard_artifacts(
    collector: str,
    now: datetime,
    raw_members: Sequence[tuple[str, bytes]],
    normalised: Mapping[str, Any],
    report_html: str,
) -> list[Artifact]:
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return [
        Artifact(
            f"{collector}-raw-{stamp}.tar.gz",
            "raw",
            "application/gzip",
            data=raw_archive(raw_members, now),
        ),
        Artifact(
            f"{collector}-normalised-{stamp}.json",
            "normalised",
            "application/json",
            data=json.dumps(normalised, indent=2, sort_keys=True).encode(),
        ),
        Artifact(f"{collector}-report-{stamp}.html", "report", "text/html", data=report_html.encode()),
    ]
