"""The evidence package of an engagement: what it holds, its signed manifest, and the ZIP stream.

The manifest is complete before the first byte of the archive is sent: evidence hashes and sizes
come from the records (the store is content-addressed and verified every object at write), the
generated files (SoA, coverage report, findings, README, the verifier) are small and rendered
and hashed first. So ``manifest.json``, ``manifest.sig`` and ``manifest.csv`` open the archive and
the evidence bodies follow, streamed from the store in chunks: memory stays flat whatever the
size of the package (the manifest itself grows with the number of items, not with their size).

Layout::

    manifest.json  manifest.sig  manifest.csv  README.txt  verify.py
    soa.csv  coverage.html  findings.csv  findings.json  finding_history.csv
    controls/<ref>/<evidence id>-<file name>
    controls/<ref>/<evidence id>-superseded-by-<newer id>-<file name>

An item linked to several in-scope controls appears in each control's folder (one manifest
entry per path). Controls follow the catalogue order, items their collection time then id.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
from sqlmodel import Session
from zipstream import ZipStream

from audit_portal.coverage.service import (
    NOT_APPLICABLE,
    ControlCoverage,
    CoverageReport,
    compute_coverage,
    status_label,
)
from audit_portal.engagements.models import REVIEW_PENDING, Engagement, EvidenceReview
from audit_portal.engagements.scope import engagement_window
from audit_portal.evidence.models import SOURCE_UPLOAD, Evidence
from audit_portal.export import repository, verify
from audit_portal.export.signing import ALGORITHM, SigningKey
from audit_portal.findings import repository as finding_repository
from audit_portal.findings.models import Finding, FindingTransition
from audit_portal.soa.models import SoaEntry
from audit_portal.templating import format_size, templates_dir
from evidence_store import IntegrityError, ObjectStore
from evidence_store.base import iter_verified

STREAM_CHUNK = 256 * 1024
"""How much of an evidence body is read from the store at a time; what the export holds at most
per file in flight (far below the store's default, so many exports at once stay cheap)."""
TRANSPORT_CHUNK = 1024 * 1024
"""The least the archive hands to the transport at a time. The ZIP stream yields many small
pieces (local headers, data descriptors, the central directory: tens of thousands under 1 KiB
for 10,000 items); each costs a thread hop and a send in Starlette, so they are gathered first."""
MAX_NAME_LENGTH = 120
COVERAGE_TEMPLATE = "pages/export/coverage_report.html"

MANIFEST_CSV_COLUMNS = (
    "path", "item", "control", "requirement", "sha256", "size", "source", "collected_at",
    "period_covered", "review", "superseded_by", "title",
)
SOA_COLUMNS = (
    "control", "title", "applicable", "justification", "implementation_status", "owner",
    "coverage_status", "coverage_reason", "newest_evidence", "files_in_package",
)
FINDING_COLUMNS = (
    "id", "source", "category", "severity", "status", "title", "controls", "evidence_id",
    "collector_instance", "owner", "corrective_action", "due_date", "created_at", "created_by", "closed_at",
    "root_cause", "remediation_evidence",
)
FINDING_HISTORY_COLUMNS = ("finding_id", "at", "actor", "role", "from_status", "to_status", "note")
DIRECT_LINK = "(linked to the control)"


# --- what goes in ---------------------------------------------------------------------------

@dataclass(frozen=True)
class EvidenceFile:
    """One evidence body at one path of the archive."""

    path: str
    control_ref: str
    evidence: Evidence
    requirements: tuple[str, ...]
    uploaded_by: str | None
    review: str
    review_comment: str | None
    superseded_by: int | None

    @property
    def size(self) -> int:
        return self.evidence.size

    @property
    def sha256(self) -> str:
        return self.evidence.sha256


@dataclass(frozen=True)
class ControlContents:
    coverage: ControlCoverage
    files: tuple[EvidenceFile, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class PackageContents:
    engagement: Engagement
    coverage: CoverageReport
    controls: tuple[ControlContents, ...]  # in-scope, applicable controls: one folder each
    soa: dict[int, SoaEntry]
    findings: tuple[tuple[Finding, list[str]], ...]
    # each auditor finding's lifecycle and the evidence linked to its remediation
    finding_history: dict[int, list[FindingTransition]] = field(default_factory=dict)
    finding_evidence: dict[int, list[int]] = field(default_factory=dict)

    @property
    def files(self) -> list[EvidenceFile]:
        return [f for control in self.controls for f in control.files]

    @property
    def evidence_ids(self) -> set[int]:
        return {f.evidence.id for f in self.files if f.evidence.id is not None}

    @property
    def evidence_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def superseded_count(self) -> int:
        return len({f.evidence.id for f in self.files if f.evidence.superseded_at is not None})

    def review_counts(self) -> dict[str, int]:
        reviews: dict[int, str] = {f.evidence.id: f.review for f in self.files}
        counts: dict[str, int] = defaultdict(int)
        for status in reviews.values():
            counts[status] += 1
        return dict(counts)


def collect_contents(session: Session, engagement: Engagement, scope_control_ids: set[int] | None) -> PackageContents:
    """Everything the package of ``engagement`` holds, from one coverage computation and a fixed
    number of queries. ``scope_control_ids`` narrows the controls (None: the whole framework)."""
    coverage = compute_coverage(
        session,
        framework_key=engagement.framework_key,
        period_start=engagement.period_start,
        period_end=engagement.period_end,
        engagement_id=engagement.id,
        control_ids=scope_control_ids or None,
    )
    start, end = engagement_window(engagement)
    in_scope = [c for c in coverage.controls if c.status != NOT_APPLICABLE]
    requirement_ids = {r.requirement_id for c in in_scope for r in c.requirements}
    control_ids = {c.control_id for c in in_scope}
    measures = repository.measures_mapped_to(session, control_ids)
    by_requirement = repository.evidence_by_requirement(session, requirement_ids, start, end)
    by_control = repository.evidence_by_control(session, control_ids | set(measures), start, end)
    reviews = repository.reviews(session, engagement.id)
    successors = repository.successors(session, start, end)

    controls = tuple(
        ControlContents(control, _files_of(control, by_requirement, by_control, measures, reviews, successors))
        for control in in_scope
    )
    findings = repository.findings(
        session, engagement_id=engagement.id, control_ids=control_ids,
        requirement_ids=requirement_ids, start=start, end=end,
    )
    finding_ids = [f.id for f, _ in findings if f.id is not None]
    return PackageContents(
        engagement=engagement,
        coverage=coverage,
        controls=controls,
        soa=repository.soa_entries(session, {c.control_id for c in coverage.controls}),
        findings=tuple(findings),
        finding_history=finding_repository.transitions_of(session, finding_ids),
        finding_evidence=finding_repository.remediation_evidence_ids(session, finding_ids),
    )


def _files_of(
    control: ControlCoverage,
    by_requirement: Sequence[repository.RequirementLinkRow],
    by_control: Sequence[repository.ControlLinkRow],
    measures: dict[int, set[int]],
    reviews: dict[int, EvidenceReview],
    successors: dict[int, int],
) -> tuple[EvidenceFile, ...]:
    requirement_keys = {r.requirement_id: r.key for r in control.requirements}
    found: dict[int, tuple[Evidence, str | None, set[str]]] = {}
    for row in by_requirement:
        if row.requirement_id in requirement_keys:
            found.setdefault(row.evidence.id, (row.evidence, row.uploaded_by, set()))[2].add(requirement_keys[row.requirement_id])
    for link in by_control:
        if link.control_id == control.control_id or control.control_id in measures.get(link.control_id, ()):
            found.setdefault(link.evidence.id, (link.evidence, link.uploaded_by, set()))[2].add(DIRECT_LINK)
    folder = f"controls/{safe_segment(control.ref)}"
    files = []
    for evidence, uploaded_by, via in sorted(found.values(), key=lambda item: (item[0].collected_at, item[0].id)):
        review = reviews.get(evidence.id)
        newer = successors.get(evidence.id)
        files.append(
            EvidenceFile(
                path=f"{folder}/{evidence_file_name(evidence, newer)}",
                control_ref=control.ref,
                evidence=evidence,
                requirements=tuple(sorted(via, key=lambda key: (key == DIRECT_LINK, key))),
                uploaded_by=uploaded_by,
                review=review.status if review else REVIEW_PENDING,
                review_comment=review.comment if review else None,
                superseded_by=newer,
            )
        )
    return tuple(files)


_UNSAFE = re.compile(r"[^\w.+()-]+")


def safe_segment(name: str, limit: int = MAX_NAME_LENGTH) -> str:
    """A path segment every unzip tool and file system accepts: no separators, no control or
    reserved characters, no leading dot, bounded length (the extension kept)."""
    cleaned = _UNSAFE.sub("_", unicodedata.normalize("NFC", name)).strip("._") or "file"
    if len(cleaned) > limit:
        suffix = PurePosixPath(cleaned).suffix[:16]
        cleaned = cleaned[: limit - len(suffix)] + suffix
    return cleaned


def evidence_file_name(evidence: Evidence, superseded_by: int | None) -> str:
    marker = f"superseded-by-{superseded_by}-" if superseded_by else ("superseded-" if evidence.superseded_at else "")
    return f"{evidence.id}-{marker}{safe_segment(evidence.original_filename)}"


# --- the generated files and the signed manifest ----------------------------------------------

@dataclass(frozen=True)
class GeneratedFile:
    path: str
    content: bytes
    kind: str  # manifest | report | tool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class Package:
    contents: PackageContents
    leading: tuple[GeneratedFile, ...]  # manifest.json, manifest.sig, then the rest, in archive order
    filename: str
    key_fingerprint: str

    @property
    def manifest_sha256(self) -> str:
        return self.leading[0].sha256

    @property
    def file_count(self) -> int:
        return len(self.leading) + len(self.contents.files)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.leading) + self.contents.evidence_bytes


@dataclass(frozen=True)
class Signer:
    key: SigningKey
    generated_by: str
    portal_url: str
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def build_package(contents: PackageContents, signer: Signer) -> Package:
    """Render the generated files, write the manifest over them and the evidence, and sign it."""
    engagement = contents.engagement
    reports = [
        GeneratedFile("README.txt", _readme(contents, signer).encode("utf-8"), "report"),
        GeneratedFile("verify.py", Path(verify.__file__).read_bytes(), "tool"),
        GeneratedFile("soa.csv", _csv(SOA_COLUMNS, _soa_rows(contents)), "report"),
        GeneratedFile("coverage.html", render_coverage_html(contents, signer.generated_at).encode("utf-8"), "report"),
        GeneratedFile("findings.csv", _csv(FINDING_COLUMNS, _finding_rows(contents)), "report"),
        GeneratedFile("findings.json", _json_bytes([_finding_record(f, refs, contents) for f, refs in contents.findings]), "report"),
        GeneratedFile("finding_history.csv", _csv(FINDING_HISTORY_COLUMNS, _finding_history_rows(contents)), "report"),
    ]
    manifest_csv = GeneratedFile(verify.MANIFEST_CSV, _csv(MANIFEST_CSV_COLUMNS, _manifest_rows(contents)), "manifest")
    listed = [manifest_csv, *reports]
    manifest = {
        "format": verify.FORMAT,
        "format_version": verify.FORMAT_VERSION,
        "generated_at": signer.generated_at.isoformat(),
        "generated_by": signer.generated_by,
        "portal": signer.portal_url,
        "engagement": {
            "id": engagement.id,
            "name": engagement.name,
            "framework": engagement.framework_key,
            "period_start": engagement.period_start.isoformat(),
            "period_end": engagement.period_end.isoformat(),
        },
        "signing_key": {
            "algorithm": ALGORITHM,
            "fingerprint": signer.key.fingerprint,
            "fingerprint_of": "SHA-256 of the DER SubjectPublicKeyInfo",
            "public_key_pem": signer.key.public_pem,
        },
        "coverage": {
            "as_of": contents.coverage.as_of.isoformat(),
            "percent": contents.coverage.percent,
            "counts": contents.coverage.counts,
        },
        "evidence_items": len(contents.evidence_ids),
        "manifest_csv_sha256": manifest_csv.sha256,
        "files": [_generated_entry(f) for f in listed] + [_evidence_entry(f) for f in contents.files],
    }
    manifest_bytes = _json_bytes(manifest)
    leading = (
        GeneratedFile(verify.MANIFEST_JSON, manifest_bytes, "manifest"),
        GeneratedFile(verify.MANIFEST_SIG, signer.key.sign(manifest_bytes), "manifest"),
        *listed,
    )
    return Package(contents, leading, package_filename(engagement, signer.generated_at), signer.key.fingerprint)


def package_filename(engagement: Engagement, at: datetime) -> str:
    return f"evidence-package-engagement-{engagement.id}-{at.strftime('%Y%m%dT%H%M%SZ')}.zip"


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str) + "\n").encode("utf-8")


def _generated_entry(generated: GeneratedFile) -> dict[str, Any]:
    return {"path": generated.path, "sha256": generated.sha256, "size": generated.size, "kind": generated.kind}


def _source(f: EvidenceFile) -> str:
    evidence = f.evidence
    if evidence.source_kind == SOURCE_UPLOAD:
        return f"upload by {f.uploaded_by}" if f.uploaded_by else "upload"
    run = f" run {evidence.collector_run_id}" if evidence.collector_run_id is not None else ""
    return f"{evidence.source_kind} {evidence.collector_instance or ''}{run}".strip()


def _period(evidence: Evidence) -> str:
    if evidence.period_from is None and evidence.period_to is None:
        return ""
    start = evidence.period_from.isoformat() if evidence.period_from else ""
    end = evidence.period_to.isoformat() if evidence.period_to else ""
    return f"{start}..{end}"


def _evidence_entry(f: EvidenceFile) -> dict[str, Any]:
    evidence = f.evidence
    return {
        "path": f.path,
        "sha256": f.sha256,
        "size": f.size,
        "kind": "evidence",
        "evidence_id": evidence.id,
        "control": f.control_ref,
        "requirements": list(f.requirements),
        "title": evidence.title,
        "original_filename": evidence.original_filename,
        "content_type": evidence.content_type,
        "source": _source(f),
        "collected_at": evidence.collected_at.isoformat(),
        "period_from": evidence.period_from.isoformat() if evidence.period_from else None,
        "period_to": evidence.period_to.isoformat() if evidence.period_to else None,
        "valid_until": evidence.valid_until.isoformat() if evidence.valid_until else None,
        "review": f.review,
        "review_comment": f.review_comment,
        "superseded": evidence.superseded_at is not None,
        "superseded_by": f.superseded_by,
        "supersedes": evidence.supersedes_id,
    }


def _manifest_rows(contents: PackageContents) -> Iterator[list[object]]:
    for f in contents.files:
        evidence = f.evidence
        yield [
            f.path, evidence.id, f.control_ref, "; ".join(f.requirements), f.sha256, f.size, _source(f),
            evidence.collected_at.isoformat(), _period(evidence), f.review,
            f.superseded_by or ("yes" if evidence.superseded_at else ""), evidence.title,
        ]


def _labels():
    from audit_portal.findings.service import CATEGORY_LABELS, STATUS_LABELS
    from audit_portal.soa.service import STATUS_LABELS as SOA_LABELS

    return CATEGORY_LABELS, STATUS_LABELS, SOA_LABELS


def _soa_rows(contents: PackageContents) -> Iterator[list[object]]:
    _, _, SOA_STATUS_LABELS = _labels()
    files_by_control = {c.coverage.control_id: len(c.files) for c in contents.controls}
    for control in contents.coverage.controls:
        entry = contents.soa.get(control.control_id)
        applicable = entry.applicable if entry else control.status != NOT_APPLICABLE
        yield [
            control.ref, control.title, "yes" if applicable else "no",
            entry.justification if entry and entry.justification else "",
            SOA_STATUS_LABELS.get(entry.status, entry.status) if entry else "", entry.owner if entry and entry.owner else "",
            status_label(control.status), control.reason,
            control.newest_at.date().isoformat() if control.newest_at else "",
            files_by_control.get(control.control_id, 0),
        ]


def _finding_record(finding: Finding, refs: list[str], contents: PackageContents) -> dict[str, Any]:
    record = finding.model_dump(mode="json")
    record["controls"] = refs
    record["remediation_evidence"] = contents.finding_evidence.get(finding.id, [])
    record["history"] = [
        {"at": t.at.isoformat(), "actor": t.actor, "role": t.actor_role, "from": t.from_status, "to": t.to_status,
         "note": t.note}
        for t in contents.finding_history.get(finding.id, [])
    ]
    return record


def _finding_history_rows(contents: PackageContents) -> Iterator[list[object]]:
    for finding, _ in contents.findings:
        for t in contents.finding_history.get(finding.id, []):
            yield [finding.id, t.at.isoformat(), t.actor, t.actor_role, t.from_status or "", t.to_status, t.note or ""]


def _finding_rows(contents: PackageContents) -> Iterator[list[object]]:
    CATEGORY_LABELS, FINDING_STATUS_LABELS, _ = _labels()
    for finding, refs in contents.findings:
        yield [
            finding.id, finding.source, CATEGORY_LABELS.get(finding.category or "", finding.category or ""), finding.severity,
            FINDING_STATUS_LABELS.get(finding.status, finding.status), finding.title,
            "; ".join(refs), finding.evidence_id or "", finding.collector_instance or "", finding.owner or "",
            finding.corrective_action or "", finding.due_date.isoformat() if finding.due_date else "",
            finding.created_at.isoformat(), finding.created_by or "",
            finding.closed_at.isoformat() if finding.closed_at else "",
            finding.root_cause or "",
            " ".join(str(i) for i in contents.finding_evidence.get(finding.id, [])),
        ]


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: object) -> object:
    """Text a spreadsheet would run as a formula gets a leading quote; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv(columns: Sequence[str], rows: Iterator[list[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def _report_environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()), autoescape=True, undefined=jinja2.StrictUndefined
    )
    environment.filters["filesize"] = format_size
    return environment


def render_coverage_html(contents: PackageContents, generated_at: datetime) -> str:
    """The coverage report as one self-contained HTML file (no scripts, no external assets)."""
    template = _report_environment().get_template(COVERAGE_TEMPLATE)
    files_by_control = {c.coverage.control_id: c for c in contents.controls}
    return template.render(
        engagement=contents.engagement,
        coverage=contents.coverage,
        controls=[(control, files_by_control.get(control.control_id)) for control in contents.coverage.controls],
        generated_at=generated_at,
    )


def _readme(contents: PackageContents, signer: Signer) -> str:
    engagement = contents.engagement
    return f"""Evidence package: {engagement.name}
Framework {engagement.framework_key}, period {engagement.period_start} to {engagement.period_end}.
Generated {signer.generated_at.isoformat()} by {signer.generated_by} at {signer.portal_url}.

{len(contents.evidence_ids)} evidence items in {len(contents.files)} files, one folder per in-scope
control under controls/. An item linked to several controls is in each of their folders.
Superseded revisions are included and named <id>-superseded-by-<newer id>-<name>; the review
of each item in this engagement (pending, accepted, rejected) is in manifest.csv.

  manifest.json   every file of the package with its SHA-256 and size, signed
  manifest.sig    Ed25519 signature over the exact bytes of manifest.json
  manifest.csv    one row per evidence file: item, control, requirement, hash, source, dates, review
  soa.csv         Statement of Applicability with each control's coverage and newest evidence
  coverage.html   the coverage report of the engagement
  findings.csv/.json  the findings of the engagement and of its controls in the period
  finding_history.csv every step of each finding's lifecycle: who, when, from, to, note
  verify.py       the verifier (Python 3.11+ with the 'cryptography' package)

Verify (offline, with the portal's public key as shown in the portal):

  python verify.py THIS_FILE.zip --public-key portal-signing-key.pem
  or: audit-portal package verify THIS_FILE.zip --public-key portal-signing-key.pem

The portal's signing key fingerprint (SHA-256 of the DER public key): {signer.key.fingerprint}
The signature also checks with OpenSSL 3:
  openssl pkeyutl -verify -pubin -inkey portal-signing-key.pem -rawin -in manifest.json -sigfile manifest.sig
"""


# --- the stream -------------------------------------------------------------------------------

class EvidenceBody:
    """An evidence object read from the store only when the archive reaches it, re-hashed on the
    way: a store object that no longer matches its record stops the export instead of landing
    in a signed package."""

    def __init__(self, store: ObjectStore, f: EvidenceFile, chunk_size: int) -> None:
        self._store = store
        self._file = f
        self._chunk_size = chunk_size

    def __iter__(self) -> Iterator[bytes]:
        evidence = self._file.evidence
        # The last chunk is withheld unless the whole object verifies, so a damaged file never
        # lands complete in the archive; the archive stops there, unsigned and unfinished.
        try:
            yield from iter_verified(
                self._store, evidence.store_key, evidence.sha256, size=evidence.size, chunk_size=self._chunk_size
            )
        except IntegrityError as error:
            raise IntegrityError(
                f"evidence {evidence.id} ({evidence.title!r}) is corrupted, the export stopped: {error}"
            ) from error


def archive_stream(package: Package, store: ObjectStore, chunk_size: int = STREAM_CHUNK) -> ZipStream:
    """The ZIP as an iterable of byte chunks; ``len()`` of it is the exact archive size, known
    before streaming because every entry is stored (evidence is mostly compressed already)."""
    stream = ZipStream(sized=True)
    for generated in package.leading:
        stream.add(generated.content, generated.path)
    for f in package.contents.files:
        stream.add(EvidenceBody(store, f, chunk_size), f.path, size=f.size)
    return stream


class TransportChunks:
    """``stream`` regrouped into chunks of at least ``min_size`` bytes (the last may be smaller).
    Sized like the stream it wraps, so the response still carries an exact Content-Length;
    holds at most ``min_size`` plus one piece of the stream."""

    def __init__(self, stream: ZipStream, min_size: int = TRANSPORT_CHUNK) -> None:
        if min_size < 1:
            raise ValueError("min_size must be at least 1")
        self._stream = stream
        self._min_size = min_size

    def __len__(self) -> int:
        return len(self._stream)

    def __iter__(self) -> Iterator[bytes]:
        pending = bytearray()
        for piece in self._stream:
            pending += piece
            if len(pending) >= self._min_size:
                yield bytes(pending)
                pending.clear()
        if pending:
            yield bytes(pending)
