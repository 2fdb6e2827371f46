"""Safe previews: text, JSON and CSV are read (a bounded start of the object) and rendered by our
templates as escaped text or a table; images and PDF are shown by the browser from the preview
URL; HTML, SVG and everything else are never rendered inline, only downloaded.

What is shown has been verified: the whole object is streamed through its SHA-256 (only the
start is kept), and an object that does not hash to its record is never previewed; the preview
says the item is corrupted instead (kind ``corrupted``, with the store's message)."""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass, field
from typing import BinaryIO

from typing_extensions import Buffer

from audit_portal.evidence.models import INTEGRITY_CORRUPTED, Evidence
from audit_portal.evidence.sniffing import INLINE_IMAGES, NEVER_INLINE, TEXT_PREVIEW
from audit_portal.i18n import N_
from evidence_store import ObjectStore
from evidence_store.base import iter_verified

TEXT_PREVIEW_BYTES = 512 * 1024
CSV_PREVIEW_ROWS = 500
CSV_PREVIEW_BYTES = 4 * 1024 * 1024
JSON_PRETTY_LIMIT = 2 * 1024 * 1024


@dataclass
class Preview:
    kind: str  # text | json | csv | image | pdf | none | corrupted
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)
    truncated: bool = False
    reason: str = ""  # a catalogue message, shown in the reader's language with ``values``
    values: dict[str, str] = field(default_factory=dict)


CORRUPTED_REASON = N_(
    "This item is corrupted: the stored file no longer matches the SHA-256 recorded when it was "
    "collected, so it is not shown and cannot be relied on. Upload the original file again to "
    "repair it, or supersede the item."
)


def build_preview(store: ObjectStore, evidence: Evidence) -> Preview:
    """The preview; raises :class:`IntegrityError` when reading found the object damaged."""
    if evidence.integrity == INTEGRITY_CORRUPTED:
        return Preview("corrupted", reason=CORRUPTED_REASON)
    content_type = evidence.content_type
    if content_type in NEVER_INLINE:
        return Preview("none", reason=N_("Markup (HTML, SVG, XML) is never shown inline; download it to inspect it."))
    if content_type in INLINE_IMAGES:
        return Preview("image")
    if content_type == "application/pdf":
        return Preview("pdf")
    if content_type == "text/csv":
        return _csv_preview(store, evidence)
    if content_type == "application/json":
        return _json_preview(store, evidence)
    if content_type in TEXT_PREVIEW:
        text, truncated = _read_text(store, evidence, TEXT_PREVIEW_BYTES)
        return Preview("text", text=text, truncated=truncated)
    return Preview(
        "none",
        reason=N_("No preview for %(type)s; download the file to open it."),
        values={"type": content_type},
    )


def verified_head(store: ObjectStore, evidence: Evidence, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes of the object's start, returned only once the whole object has
    streamed through its hash (the rest is read and dropped)."""
    head = bytearray()
    for chunk in iter_verified(store, evidence.store_key, evidence.sha256, size=evidence.size):
        if len(head) <= limit:
            head += chunk[: limit + 1 - len(head)]
    return bytes(head)


def _read_text(store: ObjectStore, evidence: Evidence, limit: int) -> tuple[str, bool]:
    data = verified_head(store, evidence, limit)
    truncated = len(data) > limit
    # An incremental decoder drops a multi-byte character cut by the limit instead of failing.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return decoder.decode(data[:limit], final=not truncated), truncated


def _json_preview(store: ObjectStore, evidence: Evidence) -> Preview:
    if evidence.size <= JSON_PRETTY_LIMIT:
        text, _ = _read_text(store, evidence, JSON_PRETTY_LIMIT)
        try:
            pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pretty = None
        if pretty is not None:
            truncated = len(pretty) > TEXT_PREVIEW_BYTES
            return Preview("json", text=pretty[:TEXT_PREVIEW_BYTES], truncated=truncated)
    text, truncated = _read_text(store, evidence, TEXT_PREVIEW_BYTES)
    return Preview("text", text=text, truncated=truncated)


class _BoundedText(io.RawIOBase):
    """The first ``limit`` bytes of a binary stream, so a CSV without line ends cannot make the
    reader swallow the whole object."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream = stream
        self._left = limit
        self.exhausted_limit = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Buffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._left <= 0:
            self.exhausted_limit = True
            return 0
        data = self._stream.read(min(len(view), self._left))
        view[: len(data)] = data
        self._left -= len(data)
        return len(data)


def _csv_preview(store: ObjectStore, evidence: Evidence) -> Preview:
    rows: list[list[str]] = []
    truncated = False
    with io.BytesIO(verified_head(store, evidence, CSV_PREVIEW_BYTES)) as stream:
        bounded = _BoundedText(stream, CSV_PREVIEW_BYTES)
        text = io.TextIOWrapper(io.BufferedReader(bounded), encoding="utf-8", errors="replace", newline="")
        sample = text.read(8192)
        dialect = _dialect(sample)
        reader = csv.reader(_chain(sample, text), dialect)
        try:
            for row in reader:
                if len(rows) == CSV_PREVIEW_ROWS:
                    truncated = True
                    break
                rows.append(row)
        except csv.Error:
            # A field beyond csv's size limit, or a quote never closed: show what parsed.
            truncated = True
        truncated = truncated or bounded.exhausted_limit
    return Preview("csv", rows=rows, truncated=truncated)


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def _chain(sample: str, rest: io.TextIOBase):
    """Lines of ``sample`` followed by the rest of the stream, as one iterator for csv.reader."""
    buffered = io.StringIO(sample)
    pending = ""
    for line in buffered:
        if line.endswith(("\n", "\r")):
            yield pending + line
            pending = ""
        else:
            pending += line
    for line in rest:
        yield pending + line
        pending = ""
    if pending:
        yield pending
