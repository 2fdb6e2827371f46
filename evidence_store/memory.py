"""A dict-backed store with the full contract, for tests of the modules that use a store.

It necessarily holds every object in memory, so it is not for production data.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from evidence_store.base import (
    CHUNK_SIZE,
    DigestHook,
    InvalidKey,
    Leftover,
    MeteredReader,
    ObjectInfo,
    ObjectNotFound,
    ObjectRetained,
    Readable,
    StoredObject,
    iter_stream_chunks,
    key_for,
    later_of,
    require_aware,
    sha256_from_key,
    validate_key,
    validate_prefix,
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Entry:
    data: bytes
    last_modified: datetime
    retain_until: datetime | None


class MemoryStore:
    """An :class:`~evidence_store.base.ObjectStore` in a dict, safe to share between threads."""

    def __init__(self, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def put(
        self,
        stream: Readable,
        *,
        max_bytes: int | None = None,
        retain_until: datetime | None = None,
        on_digest: DigestHook | None = None,
    ) -> StoredObject:
        require_aware(retain_until, "retain_until")
        reader = MeteredReader(stream, max_bytes)
        buffer = io.BytesIO()
        for chunk in reader.chunks():
            buffer.write(chunk)
        key = key_for(reader.sha256)
        if on_digest is not None:
            on_digest(reader.sha256)
        data = buffer.getvalue()
        repaired = False
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self._entries[key] = _Entry(data, self._clock(), retain_until)
            else:
                if hashlib.sha256(entry.data).hexdigest() != reader.sha256:
                    entry.data, repaired = data, True
                entry.retain_until = later_of(entry.retain_until, retain_until)
        return StoredObject(key=key, sha256=reader.sha256, size=reader.size, repaired=repaired)

    def open(self, key: str) -> BinaryIO:
        return io.BytesIO(self._entry(key).data)

    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        return iter_stream_chunks(self.open(key), chunk_size)

    def stat(self, key: str) -> ObjectInfo:
        entry = self._entry(key)
        return ObjectInfo(
            key=key,
            size=len(entry.data),
            sha256=sha256_from_key(key),
            last_modified=entry.last_modified,
            retain_until=entry.retain_until,
        )

    def exists(self, key: str) -> bool:
        validate_key(key)
        with self._lock:
            return key in self._entries

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                raise ObjectNotFound(f"no object {key}")
            if entry.retain_until is not None and entry.retain_until > self._clock():
                raise ObjectRetained(f"{key} is retained until {entry.retain_until.isoformat()}")
            del self._entries[key]

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        with self._lock:
            keys = sorted(key for key in self._entries if key.startswith(prefix))
        return iter(keys)

    def check(self) -> None:
        """Always usable: there is nothing to reach."""

    def check_writable(self) -> None:
        """Always writable while memory lasts."""

    def iter_leftovers(self) -> Iterator[Leftover]:
        """A put either completes or leaves nothing: there is no intermediate state."""
        return iter(())

    def remove_leftover(self, leftover: Leftover) -> None:
        raise InvalidKey(f"not a leftover of this store: {leftover.kind} {leftover.name!r}")

    def describe(self) -> str:
        return "in-memory store (not persistent)"

    def _entry(self, key: str) -> _Entry:
        validate_key(key)
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            raise ObjectNotFound(f"no object {key}")
        return entry
