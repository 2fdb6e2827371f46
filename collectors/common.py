"""What the collectors of part 3 (disk-encryption, anti-malware, availability, advisories)
share: reading a recorded file or running a fixed command, the three artifacts, and the HTML
report. Input reading itself is the patch collector's (``collectors.patches.sources``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import jinja2
from pydantic import AfterValidator, AnyHttpUrl, Field, TypeAdapter

from collectors.base import Artifact, CollectContext, CollectorError, FindingDraft
from collectors.patches.sources import (
    RawInput,
    decode_text,
    read_file,
    run_command,
    write_raw_bundle,
)

__all__ = [
    "RawInput",
    "artifacts",
    "aware",
    "iso",
    "read_or_run",
    "render",
    "text_of",
]


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def read_or_run(host: str, kind: str, *, path: str | None, argv: Sequence[str], timeout: float) -> RawInput:
    """The recorded file when a path is configured, else the collector's own fixed command
    (never a shell, never a command taken from the configuration)."""
    if path is not None:
        return read_file(host, kind, path)
    return run_command(host, kind, argv, timeout)


def text_of(raw: RawInput) -> str:
    return decode_text(raw, raw.data)


def render(template_dir: Path, name: str, **values: Any) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template(name).render(**values)


def sorted_findings(findings: Sequence[FindingDraft]) -> list[FindingDraft]:
    return sorted(findings, key=lambda finding: (-finding.severity.rank, finding.key))


def artifacts(
    ctx: CollectContext,
    prefix: str,
    raw_inputs: Sequence[RawInput],
    normalised: Mapping[str, Any],
    report_html: str,
) -> list[Artifact]:
    """Raw inputs as a tar.gz (bytes unchanged), the normalised JSON, the HTML report."""
    if not raw_inputs:
        raise CollectorError("nothing was read: configure at least one source")
    stamp = aware(ctx.now).strftime("%Y%m%dT%H%M%SZ")
    bundle = write_raw_bundle(raw_inputs, ctx.workdir / f"{prefix}-raw-{stamp}.tar.gz", ctx.now)
    return [
        Artifact(filename=bundle.name, kind="raw", content_type="application/gzip", path=bundle),
        Artifact(
            filename=f"{prefix}-{stamp}.json",
            kind="normalised",
            content_type="application/json",
            data=json.dumps(normalised, indent=2, sort_keys=True).encode(),
        ),
        Artifact(
            filename=f"{prefix}-{stamp}.html",
            kind="report",
            content_type="text/html",
            data=report_html.encode(),
        ),
    ]


def json_ready(value: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON round trip, so ``normalised`` equals what the next run reads back as previous."""
    return json.loads(json.dumps(value))


_TEMPLATES = Path(__file__).parent / "templates"


def tabular_report(
    *,
    title: str,
    instance_name: str,
    requirement: str,
    policy: str,
    normalised: Mapping[str, Any],
    sections: Sequence[Mapping[str, Any]],
    findings: Sequence[FindingDraft],
) -> str:
    """The HTML report every part-3 collector writes: sections of tables (``heading``,
    ``columns``, ``rows``, ``empty``), the findings and the diff against the previous run."""
    return render(
        _TEMPLATES,
        "tabular_report.html.j2",
        title=title,
        instance_name=instance_name,
        requirement=requirement,
        policy=policy,
        data=normalised,
        sections=sections,
        findings=sorted_findings(findings),
    )


def diff(
    finding_keys: Sequence[str], previous: Mapping[str, Any] | None, notes: Sequence[str] = ()
) -> dict[str, Any] | None:
    """Findings opened and closed since the previous run (None on the first run)."""
    if not previous:
        return None
    before = set(previous.get("finding_keys") or ())
    return {
        "previous_collected_at": previous.get("collected_at"),
        "findings_opened": sorted(set(finding_keys) - before),
        "findings_closed": sorted(before - set(finding_keys)),
        "notes": list(notes),
    }


def _http_url(value: str) -> str:
    _HTTP_URL.validate_python(value)
    return value


_HTTP_URL: TypeAdapter[AnyHttpUrl] = TypeAdapter(AnyHttpUrl)
# An http(s) URL kept as the text given: configurations are stored as JSON
HttpUrlText = Annotated[str, Field(max_length=2000), AfterValidator(_http_url)]
