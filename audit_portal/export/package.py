"""The evidence package of an engagement: what it holds, its signed manifest, and the ZIP stream.

The manifest is complete before the first byte of the archive is sent: evidence hashes and sizes
come from the records (the store is content-addressed and verified every object at write), the
generated files (SoA, coverage report, findings, README, the verifier) are small and rendered
and hashed first. So ``manifest.json``, ``manifest.sig`` and ``manifest.csv`` open the archive and
the evidence bodies follow, streamed from the store in chunks. Memory stays flat whatever the
size and the number of items: evidence rows are read from the database in batches, and the
manifests, the plan of the bodies and the ZIP's central directory, which grow with the number of
items, are written to temporary files as they are built (see ``build_package`` and
``zipwriter``).

Layout::

    manifest.json  manifest.sig  manifest.csv  README.txt  verify.py
    soa.csv  coverage.html  findings.csv  findings.json  finding_history.csv
    review_signoffs.csv  rule_decisions.csv
    samples/sample-<id>.xlsx  samples/sample-<id>.json   (each sample with its test results)
    controls/<ref>/<evidence id>-<file name>
    controls/<ref>/<evidence id>-superseded-by-<newer id>-<file name>

An item linked to several in-scope controls appears in each control's folder (one manifest
entry per path). Controls follow the catalogue order, items their collection time then id.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import mmap
import re
import tempfile
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import groupby
from json.encoder import encode_basestring
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import jinja2
from sqlmodel import Session

from audit_portal.coverage.service import (
    NOT_APPLICABLE,
    ControlCoverage,
    CoverageReport,
    compute_coverage,
    status_label,
)
from audit_portal.engagements import sample_sheet, sampling
from audit_portal.engagements.models import REVIEW_PENDING, Engagement
from audit_portal.engagements.scope import engagement_window
from audit_portal.evidence.models import SOURCE_UPLOAD
from audit_portal.export import repository, verify
from audit_portal.export import reviews as run_reviews
from audit_portal.export.signing import ALGORITHM, SigningKey
from audit_portal.export.zipwriter import Member, ZipLayout, file_chunks, write_stored_zip
from audit_portal.findings import repository as finding_repository
from audit_portal.findings.models import Finding, FindingTransition
from audit_portal.soa.models import SoaEntry
from audit_portal.templating import format_size, install_i18n, templates_dir
from evidence_store import IntegrityError, ObjectStore
from evidence_store.base import iter_verified

TRANSPORT_CHUNK = 1024 * 1024
"""The least the archive hands to the transport at a time. The ZIP stream yields many small
pieces (local headers, data descriptors, the central directory: tens of thousands under 1 KiB
for 10,000 items); each costs a thread hop and a send in Starlette, so they are gathered first."""
STREAM_CHUNK = TRANSPORT_CHUNK
"""How much of an evidence body is read from the store at a time; what the export holds at most
per file in flight. As large as a transport chunk, so the bodies of large files go to the
transport as read, without being copied into a larger one."""
ROW_BATCH = 500
"""Evidence rows fetched from the database at a time while a package is built."""
SPOOL_FLUSH = 256 * 1024
"""How much CSV text is gathered before it goes to its temporary file."""
MAX_NAME_LENGTH = 120
COVERAGE_TEMPLATE = "pages/export/coverage_report.html"

MANIFEST_CSV_COLUMNS = (
    "path",
    "item",
    "control",
    "requirement",
    "sha256",
    "size",
    "source",
    "collected_at",
    "period_covered",
    "review",
    "superseded_by",
    "title",
)
SOA_COLUMNS = (
    "control",
    "title",
    "applicable",
    "justification",
    "implementation_status",
    "owner",
    "coverage_status",
    "coverage_reason",
    "newest_evidence",
    "files_in_package",
)
FINDING_COLUMNS = (
    "id",
    "source",
    "category",
    "severity",
    "status",
    "title",
    "controls",
    "evidence_id",
    "collector_instance",
    "owner",
    "corrective_action",
    "due_date",
    "created_at",
    "created_by",
    "closed_at",
    "root_cause",
    "remediation_evidence",
)
FINDING_HISTORY_COLUMNS = ("finding_id", "at", "actor", "role", "from_status", "to_status", "note")
DIRECT_LINK = "(linked to the control)"


# --- what goes in ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceFile:
    """One evidence body at one path of the archive."""

    path: str
    control_ref: str
    evidence: repository.PackagedEvidence
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
    """One control folder: what links evidence to it, and its totals as counted by the database."""

    coverage: ControlCoverage
    requirement_keys: dict[int, str]  # requirement id -> key, the requirements counting for the control
    source_control_ids: frozenset[int]  # the control and the measures mapped to it
    file_count: int
    size: int


@dataclass(frozen=True)
class EvidenceRows:
    """Where the folders' evidence is read from, batch by batch, when the package is built."""

    session: Session
    engagement_id: int
    start: datetime
    end: datetime
    batch_size: int = ROW_BATCH

    def files_of(self, control: ControlContents) -> Iterator[EvidenceFile]:
        """The folder's files in collection order, one per item (its links merged)."""
        rows = repository.iter_folder_rows(
            self.session,
            engagement_id=self.engagement_id,
            requirement_ids=control.requirement_keys,
            source_control_ids=control.source_control_ids,
            start=self.start,
            end=self.end,
            batch_size=self.batch_size,
        )
        folder = f"controls/{safe_segment(control.coverage.ref)}"
        for _, links in groupby(rows, key=lambda row: row.evidence.id):
            first, *others = links
            via = {_via(first, control)} | {_via(row, control) for row in others}
            evidence = first.evidence
            yield EvidenceFile(
                path=f"{folder}/{evidence_file_name(evidence, first.superseded_by)}",
                control_ref=control.coverage.ref,
                evidence=evidence,
                requirements=tuple(sorted(via, key=lambda key: (key == DIRECT_LINK, key))),
                uploaded_by=first.uploaded_by,
                review=first.review_status or REVIEW_PENDING,
                review_comment=first.review_comment,
                superseded_by=first.superseded_by,
            )


def _via(row: repository.FileRow, control: ControlContents) -> str:
    return DIRECT_LINK if row.requirement_id is None else control.requirement_keys[row.requirement_id]


@dataclass(frozen=True)
class PackageContents:
    engagement: Engagement
    coverage: CoverageReport
    controls: tuple[ControlContents, ...]  # in-scope, applicable controls: one folder each
    soa: dict[int, SoaEntry]
    findings: tuple[tuple[Finding, list[str]], ...]
    totals: repository.ItemTotals
    rows: EvidenceRows
    # each auditor finding's lifecycle and the evidence linked to its remediation
    finding_history: dict[int, list[FindingTransition]] = field(default_factory=dict)
    finding_evidence: dict[int, list[int]] = field(default_factory=dict)
    # who signed off the reviews of the runs in the package, and the per-rule decisions
    review_signoffs: list[list[object]] = field(default_factory=list)
    rule_decisions: list[list[object]] = field(default_factory=list)
    samples: tuple[sampling.SampleView, ...] = ()

    def iter_files(self) -> Iterator[EvidenceFile]:
        """Every evidence file in archive order, streamed from the database folder by folder."""
        for control in self.controls:
            yield from self.rows.files_of(control)

    @property
    def files(self) -> list[EvidenceFile]:
        """All files at once: for a look at a small package; building one streams ``iter_files``."""
        return list(self.iter_files())

    @property
    def file_count(self) -> int:
        return sum(c.file_count for c in self.controls)

    @property
    def evidence_items(self) -> int:
        return self.totals.items

    @property
    def evidence_bytes(self) -> int:
        return sum(c.size for c in self.controls)

    @property
    def superseded_count(self) -> int:
        return self.totals.superseded

    def review_counts(self) -> dict[str, int]:
        counts = dict(self.totals.reviews)
        counts[REVIEW_PENDING] = counts.get(REVIEW_PENDING, 0) + self.totals.items - sum(self.totals.reviews.values())
        return {status: n for status, n in counts.items() if n}


def collect_contents(session: Session, engagement: Engagement, scope_control_ids: set[int] | None) -> PackageContents:
    """What the package of ``engagement`` holds, from one coverage computation, a fixed number of
    queries and one count per control folder; the evidence rows themselves are read only when the
    package is built, in batches. ``scope_control_ids`` narrows the controls (None: the whole
    framework)."""
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
    controls = []
    for control in in_scope:
        keys = {r.requirement_id: r.key for r in control.requirements}
        sources = frozenset(
            {control.control_id} | {m for m, targets in measures.items() if control.control_id in targets}
        )
        file_count, size = repository.folder_totals(
            session, requirement_ids=keys, source_control_ids=sources, start=start, end=end
        )
        controls.append(ControlContents(control, keys, sources, file_count, size))
    findings = repository.findings(
        session,
        engagement_id=engagement.id,
        control_ids=control_ids,
        requirement_ids=requirement_ids,
        start=start,
        end=end,
    )
    finding_ids = [f.id for f, _ in findings if f.id is not None]
    rows = EvidenceRows(session, engagement.id, start, end)
    requirement_keys = {r.requirement_id: r.key for c in in_scope for r in c.requirements}
    run_links = repository.iter_run_links(
        session,
        requirement_ids=requirement_ids,
        source_control_ids=control_ids | set(measures),
        start=start,
        end=end,
        batch_size=ROW_BATCH,
    )
    signoff_rows, decision_rows = run_reviews.review_rows(
        session,
        (
            (link, (requirement_keys[link.requirement_id],) if link.requirement_id is not None else ())
            for link in run_links
        ),
    )
    return PackageContents(
        engagement=engagement,
        coverage=coverage,
        controls=tuple(controls),
        soa=repository.soa_entries(session, {c.control_id for c in coverage.controls}),
        findings=tuple(findings),
        totals=repository.item_totals(
            session,
            engagement_id=engagement.id,
            requirement_ids=requirement_ids,
            source_control_ids=control_ids | set(measures),
            start=start,
            end=end,
        ),
        rows=rows,
        finding_history=finding_repository.transitions_of(session, finding_ids),
        finding_evidence=finding_repository.remediation_evidence_ids(session, finding_ids),
        review_signoffs=signoff_rows,
        rule_decisions=decision_rows,
        samples=tuple(sampling.sheets_of_engagement(session, engagement)),
    )


_UNSAFE = re.compile(r"[^\w.+()-]+")


def safe_segment(name: str, limit: int = MAX_NAME_LENGTH) -> str:
    """A path segment every unzip tool and file system accepts: no separators, no control or
    reserved characters, no leading dot, bounded length (the extension kept)."""
    cleaned = _UNSAFE.sub("_", unicodedata.normalize("NFC", name)).strip("._") or "file"
    if len(cleaned) > limit:
        suffix = PurePosixPath(cleaned).suffix[:16]
        cleaned = cleaned[: limit - len(suffix)] + suffix
    return cleaned


def evidence_file_name(evidence: repository.PackagedEvidence, superseded_by: int | None) -> str:
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

    def chunks(self) -> Iterator[bytes]:
        if self.content:
            yield self.content


@dataclass(frozen=True)
class SpooledFile:
    """A generated file that grows with the number of items (the manifests), kept in an unnamed
    temporary file rather than in memory."""

    path: str
    file: BinaryIO
    size: int
    sha256: str
    kind: str

    def chunks(self) -> Iterator[bytes]:
        return file_chunks(self.file.fileno(), self.size)


class _HashingSpool:
    """An unnamed temporary file that hashes and counts what is written to it."""

    def __init__(self) -> None:
        self.file: BinaryIO = tempfile.TemporaryFile(prefix="audit-portal-export-")  # noqa: SIM115 - kept open for the stream
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self._digest.update(data)
        self.size += len(data)

    def finish(self, path: str, kind: str) -> SpooledFile:
        self.file.flush()
        return SpooledFile(path, self.file, self.size, self._digest.hexdigest(), kind)


class _CsvSpool:
    """CSV rows, encoded as UTF-8 with CRLF line ends, written to a hashing spool."""

    def __init__(self, columns: Sequence[str]) -> None:
        self._spool = _HashingSpool()
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")
        self.write_row(columns)

    def write_row(self, row: Sequence[object]) -> None:
        self._writer.writerow([_csv_cell(value) for value in row])
        if self._buffer.tell() >= SPOOL_FLUSH:
            self._flush()

    def _flush(self) -> None:
        self._spool.write(self._buffer.getvalue().encode("utf-8"))
        self._buffer.seek(0)
        self._buffer.truncate()

    def finish(self, path: str, kind: str) -> SpooledFile:
        self._flush()
        return self._spool.finish(path, kind)


@dataclass(frozen=True)
class EvidenceBodyRecord:
    """What streaming one evidence body needs, kept in the body plan instead of the ORM object."""

    path: str
    store_key: str
    sha256: str
    size: int
    evidence_id: int
    title: str


@dataclass(frozen=True)
class Package:
    contents: PackageContents
    leading: tuple[GeneratedFile | SpooledFile, ...]  # manifest.json, manifest.sig, then the rest, in archive order
    body_plan: SpooledFile  # one JSON line per evidence file, in archive order
    filename: str
    key_fingerprint: str
    generated_at: datetime
    archive_size: int  # the exact length of the ZIP, known before it is streamed

    @property
    def manifest_sha256(self) -> str:
        return self.leading[0].sha256

    @property
    def file_count(self) -> int:
        return len(self.leading) + self.contents.file_count

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.leading) + self.contents.evidence_bytes

    def evidence_bodies(self) -> Iterator[EvidenceBodyRecord]:
        pending = b""
        for chunk in self.body_plan.chunks():
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                yield EvidenceBodyRecord(*json.loads(line))

    def close(self) -> None:
        """Remove the spooled manifests and plan (they also go when the package is collected)."""
        for spooled in (*self.leading, self.body_plan):
            if isinstance(spooled, SpooledFile):
                spooled.file.close()


@dataclass(frozen=True)
class Signer:
    key: SigningKey
    generated_by: str
    portal_url: str
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def build_package(contents: PackageContents, signer: Signer) -> Package:
    """Render the generated files, write the manifest over them and the evidence, and sign it.

    The evidence rows are read once, in batches: each file's manifest entry, manifest.csv row and
    body-plan line go to temporary files as it passes, so memory holds one batch whatever the
    number of items. The signature is computed over the spooled manifest through a read-only
    memory map (Ed25519 signs the whole message at once; the map's pages are the file's cache,
    not the process's heap)."""
    engagement = contents.engagement
    reports = [
        GeneratedFile("README.txt", _readme(contents, signer).encode("utf-8"), "report"),
        GeneratedFile("verify.py", Path(verify.__file__).read_bytes(), "tool"),
        GeneratedFile("soa.csv", _csv(SOA_COLUMNS, _soa_rows(contents)), "report"),
        GeneratedFile("coverage.html", render_coverage_html(contents, signer.generated_at).encode("utf-8"), "report"),
        GeneratedFile("findings.csv", _csv(FINDING_COLUMNS, _finding_rows(contents)), "report"),
        GeneratedFile(
            "findings.json",
            _json_bytes([_finding_record(f, refs, contents) for f, refs in contents.findings]),
            "report",
        ),
        GeneratedFile("finding_history.csv", _csv(FINDING_HISTORY_COLUMNS, _finding_history_rows(contents)), "report"),
        GeneratedFile(
            "review_signoffs.csv", _csv(run_reviews.SIGNOFF_COLUMNS, iter(contents.review_signoffs)), "report"
        ),
        GeneratedFile(
            "rule_decisions.csv", _csv(run_reviews.DECISION_COLUMNS, iter(contents.rule_decisions)), "report"
        ),
    ]
    for view in contents.samples:
        name = f"samples/sample-{view.sample.id}"
        reports.append(
            GeneratedFile(f"{name}.xlsx", sample_sheet.xlsx_bytes(engagement, view, signer.portal_url), "report")
        )
        reports.append(
            GeneratedFile(
                f"{name}.json", _json_bytes(sample_sheet.as_json(engagement, view, signer.portal_url)), "report"
            )
        )
    manifest_csv = _CsvSpool(MANIFEST_CSV_COLUMNS)
    entries = _HashingSpool()
    plan = _HashingSpool()
    separator = b""
    for f in contents.iter_files():
        manifest_csv.write_row(_manifest_row(f))
        entries.write(separator + _indented_entry(_evidence_entry(f)))
        separator = b",\n"
        record = (f.path, f.evidence.store_key, f.sha256, f.size, f.evidence.id, f.evidence.title)
        plan.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
    listed: list[GeneratedFile | SpooledFile] = [manifest_csv.finish(verify.MANIFEST_CSV, "manifest"), *reports]
    entries_file = entries.finish("", "")
    header = {
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
        "evidence_items": contents.evidence_items,
        "manifest_csv_sha256": listed[0].sha256,
    }
    # The same bytes json.dumps(indent=2) gives for the whole manifest with "files" last, written
    # piece by piece: the header, the generated files' entries, then the spooled evidence entries.
    manifest = _HashingSpool()
    manifest.write(_json_bytes(header)[: -len(b"\n}\n")] + b',\n  "files": [\n')
    manifest.write(b",\n".join(_indented_entry(_generated_entry(f)) for f in listed))
    if entries_file.size:
        manifest.write(b",\n")
        for chunk in entries_file.chunks():
            manifest.write(chunk)
    entries_file.file.close()
    manifest.write(b"\n  ]\n}\n")
    manifest_file = manifest.finish(verify.MANIFEST_JSON, "manifest")
    with (
        mmap.mmap(manifest_file.file.fileno(), manifest_file.size, access=mmap.ACCESS_READ) as mapped,
        memoryview(mapped) as manifest_bytes,  # released before the map closes
    ):
        signature = signer.key.sign(manifest_bytes)
    leading = (
        manifest_file,
        GeneratedFile(verify.MANIFEST_SIG, signature, "manifest"),
        *listed,
    )
    body_plan = plan.finish("", "")
    layout = ZipLayout()
    for generated in leading:
        layout.add(generated.path, generated.size)
    package = Package(
        contents,
        leading,
        body_plan,
        package_filename(engagement, signer.generated_at),
        signer.key.fingerprint,
        signer.generated_at,
        0,
    )
    for body in package.evidence_bodies():
        layout.add(body.path, body.size)
    return replace(package, archive_size=layout.length)


_SCALAR_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def _json_scalar(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    if type(value) is str:
        return encode_basestring(value)  # what the encoder itself calls for text, without its checks
    return _SCALAR_ENCODER.encode(value)


@functools.lru_cache(maxsize=64)  # the entries' field names: a handful, the same for every entry
def _field_prefix(name: str) -> str:
    return f"      {_json_scalar(name)}: "


def _indented_entry(entry: dict[str, Any]) -> bytes:
    """One entry of the manifest's "files" list, byte for byte as json.dumps(indent=2) places it
    there. Written field by field: json's indenting encoder is pure Python, and ran a fifth of the
    time of building a package of 10,000 items. Values are scalars or lists of scalars."""
    fields = []
    for name, value in entry.items():
        if type(value) is str:
            text = encode_basestring(value)
        elif isinstance(value, list):
            text = (
                "[\n" + ",\n".join(f"        {_json_scalar(item)}" for item in value) + "\n      ]" if value else "[]"
            )
        else:
            text = _json_scalar(value)
        fields.append(_field_prefix(name) + text)
    return ("    {\n" + ",\n".join(fields) + "\n    }" if fields else "    {}").encode("utf-8")


def package_filename(engagement: Engagement, at: datetime) -> str:
    return f"evidence-package-engagement-{engagement.id}-{at.strftime('%Y%m%dT%H%M%SZ')}.zip"


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str) + "\n").encode("utf-8")


def _generated_entry(generated: GeneratedFile | SpooledFile) -> dict[str, Any]:
    return {"path": generated.path, "sha256": generated.sha256, "size": generated.size, "kind": generated.kind}


def _source(f: EvidenceFile) -> str:
    evidence = f.evidence
    if evidence.source_kind == SOURCE_UPLOAD:
        return f"upload by {f.uploaded_by}" if f.uploaded_by else "upload"
    run = f" run {evidence.collector_run_id}" if evidence.collector_run_id is not None else ""
    return f"{evidence.source_kind} {evidence.collector_instance or ''}{run}".strip()


def _period(evidence: repository.PackagedEvidence) -> str:
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


def _manifest_row(f: EvidenceFile) -> list[object]:
    evidence = f.evidence
    return [
        f.path,
        evidence.id,
        f.control_ref,
        "; ".join(f.requirements),
        f.sha256,
        f.size,
        _source(f),
        evidence.collected_at.isoformat(),
        _period(evidence),
        f.review,
        f.superseded_by or ("yes" if evidence.superseded_at else ""),
        evidence.title,
    ]


def _labels():
    from audit_portal.findings.service import CATEGORY_LABELS, STATUS_LABELS
    from audit_portal.soa.service import STATUS_LABELS as SOA_LABELS

    return CATEGORY_LABELS, STATUS_LABELS, SOA_LABELS


def _soa_rows(contents: PackageContents) -> Iterator[list[object]]:
    _, _, SOA_STATUS_LABELS = _labels()
    files_by_control = {c.coverage.control_id: c.file_count for c in contents.controls}
    for control in contents.coverage.controls:
        entry = contents.soa.get(control.control_id)
        applicable = entry.applicable if entry else control.status != NOT_APPLICABLE
        yield [
            control.ref,
            control.title,
            "yes" if applicable else "no",
            entry.justification if entry and entry.justification else "",
            SOA_STATUS_LABELS.get(entry.status, entry.status) if entry else "",
            entry.owner if entry and entry.owner else "",
            status_label(control.status),
            control.reason.english,
            control.newest_at.date().isoformat() if control.newest_at else "",
            files_by_control.get(control.control_id, 0),
        ]


def _finding_record(finding: Finding, refs: list[str], contents: PackageContents) -> dict[str, Any]:
    record = finding.model_dump(mode="json")
    record["controls"] = refs
    record["remediation_evidence"] = contents.finding_evidence.get(finding.id, [])
    record["history"] = [
        {
            "at": t.at.isoformat(),
            "actor": t.actor,
            "role": t.actor_role,
            "from": t.from_status,
            "to": t.to_status,
            "note": t.note,
        }
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
            finding.id,
            finding.source,
            CATEGORY_LABELS.get(finding.category or "", finding.category or ""),
            finding.severity,
            FINDING_STATUS_LABELS.get(finding.status, finding.status),
            finding.title,
            "; ".join(refs),
            finding.evidence_id or "",
            finding.collector_instance or "",
            finding.owner or "",
            finding.corrective_action or "",
            finding.due_date.isoformat() if finding.due_date else "",
            finding.created_at.isoformat(),
            finding.created_by or "",
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
    install_i18n(environment)  # no language in its context: the signed package's report stays English
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
    samples = len(contents.samples)
    return f"""Evidence package: {engagement.name}
Framework {engagement.framework_key}, period {engagement.period_start} to {engagement.period_end}.
Generated {signer.generated_at.isoformat()} by {signer.generated_by} at {signer.portal_url}.

{contents.evidence_items} evidence items in {contents.file_count} files, one folder per in-scope
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
  review_signoffs.csv who signed off each collector run's review, when, and whether it was late
  rule_decisions.csv  each firewall rule's decision (keep, change, remove) with its reason
  samples/        each sample drawn in the engagement ({samples} here): the sample sheet (XLSX)
                  and the same as JSON, with the population, method, seed, size rule, every
                  item's test result and note, and the conclusion
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

    def __init__(self, store: ObjectStore, body: EvidenceBodyRecord, chunk_size: int) -> None:
        self._store = store
        self._body = body
        self._chunk_size = chunk_size

    def __iter__(self) -> Iterator[bytes]:
        body = self._body
        # The last chunk is withheld unless the whole object verifies, so a damaged file never
        # lands complete in the archive; the archive stops there, unsigned and unfinished.
        try:
            yield from iter_verified(
                self._store, body.store_key, body.sha256, size=body.size, chunk_size=self._chunk_size
            )
        except IntegrityError as error:
            raise IntegrityError(
                f"evidence {body.evidence_id} ({body.title!r}) is corrupted, the export stopped: {error}"
            ) from error


class ArchiveStream:
    """The ZIP as an iterable of byte chunks; ``len()`` of it is the exact archive size, known
    before streaming because every entry is stored (evidence is mostly compressed already)."""

    def __init__(self, package: Package, store: ObjectStore, chunk_size: int) -> None:
        self._package = package
        self._store = store
        self._chunk_size = chunk_size

    def __len__(self) -> int:
        return self._package.archive_size

    def _members(self) -> Iterator[Member]:
        for generated in self._package.leading:
            yield Member(generated.path, generated.size, generated.chunks())
        for body in self._package.evidence_bodies():
            yield Member(body.path, body.size, EvidenceBody(self._store, body, self._chunk_size))

    def __iter__(self) -> Iterator[bytes]:
        return write_stored_zip(self._members(), self._package.generated_at, self._package.archive_size)


def archive_stream(package: Package, store: ObjectStore, chunk_size: int = STREAM_CHUNK) -> ArchiveStream:
    return ArchiveStream(package, store, chunk_size)


class TransportChunks:
    """``stream`` regrouped into chunks of at least ``min_size`` bytes (the last may be smaller).
    Sized like the stream it wraps, so the response still carries an exact Content-Length;
    holds at most ``min_size`` plus one piece of the stream, and passes a piece that is large
    enough on its own without copying it."""

    def __init__(self, stream: ArchiveStream, min_size: int = TRANSPORT_CHUNK) -> None:
        if min_size < 1:
            raise ValueError("min_size must be at least 1")
        self._stream = stream
        self._min_size = min_size

    def __len__(self) -> int:
        return len(self._stream)

    def __iter__(self) -> Iterator[bytes]:
        pending: list[bytes] = []
        pending_size = 0
        for piece in self._stream:
            if not pending and len(piece) >= self._min_size:
                yield piece
                continue
            pending.append(piece)
            pending_size += len(piece)
            if pending_size >= self._min_size:
                yield b"".join(pending)  # the one copy a gathered chunk costs
                pending.clear()
                pending_size = 0
        if pending:
            yield b"".join(pending)
