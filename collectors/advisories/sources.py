"""Where CSAF documents come from: a provider's ``provider-metadata.json`` (directory
distributions: ``changes.csv`` lists each document's path and last change) or a mirrored
folder (as ``csaf_downloader`` or a plain rsync leaves it)."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from collectors.base import CollectorError
from collectors.common import RawInput

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024


def _get(http: httpx.Client, url: str) -> bytes:
    try:
        response = http.get(url)
    except httpx.HTTPError as error:
        raise CollectorError(f"cannot fetch {url}: {error}") from None
    if response.status_code != 200:
        raise CollectorError(f"{url} answered {response.status_code}")
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise CollectorError(f"{url} is larger than {MAX_DOCUMENT_BYTES} bytes")
    return response.content


def fetch_provider(
    metadata_url: str, since: datetime, *, timeout: float, max_documents: int, client: httpx.Client | None = None
) -> list[RawInput]:
    """The provider metadata, each distribution's changes.csv, and every document changed
    since ``since``. Document paths must stay below their directory (no scheme, no '..')."""
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)
    origin = urlsplit(metadata_url)
    try:
        metadata_bytes = _get(http, metadata_url)
        inputs = [RawInput("provider", "provider-metadata", metadata_url, metadata_bytes)]
        try:
            metadata = json.loads(metadata_bytes)
            distributions = metadata.get("distributions") or []
        except (ValueError, AttributeError):
            raise CollectorError(f"{metadata_url}: not a CSAF provider metadata document") from None
        directories = [
            str(item["directory_url"]).rstrip("/") + "/"
            for item in distributions
            if isinstance(item, dict) and item.get("directory_url")
        ]
        if not directories:
            raise CollectorError(f"{metadata_url}: no directory distribution (ROLIE-only providers are not supported)")
        for directory in directories:
            if urlsplit(directory).scheme != "https" and urlsplit(directory).netloc != origin.netloc:
                raise CollectorError(f"{metadata_url}: distribution {directory} is neither https nor on the same host")
            changes = _get(http, urljoin(directory, "changes.csv"))
            inputs.append(RawInput("provider", "changes-csv", urljoin(directory, "changes.csv"), changes))
            wanted = _changed_since(changes.decode("utf-8", "replace"), since)
            if len(wanted) > max_documents:
                raise CollectorError(
                    f"{directory}: {len(wanted)} documents changed, more than max_documents ({max_documents})"
                )
            for path in wanted:
                url = urljoin(directory, path)
                inputs.append(RawInput("provider", "csaf", url, _get(http, url)))
        return inputs
    finally:
        if client is None:
            http.close()


def _changed_since(text: str, since: datetime) -> list[str]:
    paths: list[str] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if len(row) < 2:
            continue
        path, stamp = row[0].strip(), row[1].strip()
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts or "://" in path or not path.endswith(".json"):
            raise CollectorError(f"changes.csv line {number}: refusing path {path!r}")
        try:
            changed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            raise CollectorError(f"changes.csv line {number}: unreadable time {stamp!r}") from None
        if changed >= since:
            paths.append(path)
    return paths


def read_folder(folder: str) -> list[RawInput]:
    root = Path(os.path.expanduser(folder))
    if not root.is_dir():
        raise CollectorError(f"CSAF folder {folder} does not exist")
    inputs: list[RawInput] = []
    for path in sorted(root.rglob("*.json")):
        if path.name in ("provider-metadata.json", "aggregator.json") or not path.is_file():
            continue
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise CollectorError(f"{path} is larger than {MAX_DOCUMENT_BYTES} bytes")
        inputs.append(RawInput("folder", "csaf", str(path), path.read_bytes()))
    return inputs


def load_json(raw: RawInput) -> Any:
    try:
        return json.loads(raw.data)
    except ValueError as error:
        raise CollectorError(f"{raw.origin}: not JSON ({error})") from None
