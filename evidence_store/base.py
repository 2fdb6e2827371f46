"""The store contract shared by every backend: keys, results, errors and the streaming reader."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable

CHUNK_SIZE = 4 * 1024 * 1024
"""How much is read from a stream at a time; a put holds about this much (one S3 part at most)."""

MAX_KEY_LENGTH = 1024
"""S3's own limit on key length; applied everywhere so a key valid for one backend is for all."""

_SEGMENT = r"[A-Za-z0-9._-]+"
_KEY_PATTERN = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
_SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


class StoreError(Exception):
    """Base class of every error an object store raises on purpose."""


class InvalidKey(StoreError, ValueError):
    """The key is not a relative, `/`-separated path of safe segments."""


class ObjectNotFound(StoreError, KeyError):
    """No object exists under the key."""

    def __str__(self) -> str:
        # KeyError quotes its argument; a message reads better without the repr.
        return str(self.args[0]) if self.args else "object not found"


class ObjectTooLarge(StoreError):
    """The stream held more bytes than the caller (or the backend) allows."""


class EmptyObject(StoreError):
    """The stream held no bytes; an empty file is never evidence."""


class ObjectRetained(StoreError):
    """The object is under retention and may not be deleted yet."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached or used (network, permissions, missing folder)."""


class IntegrityError(StoreError):
    """What the backend holds does not hash to what was sent."""


@dataclass(frozen=True)
class StoredObject:
    """The result of a put: where the bytes are and what they hash to.

    ``repaired`` is true when an object already stored under the key no longer hashed to it
    and this put re-wrote it with the bytes it was meant to hold.
    """

    key: str
    sha256: str
    size: int
    repaired: bool = False


@dataclass(frozen=True)
class Leftover:
    """What an interrupted write left behind: never visible as an object, safe to remove once
    no write can still be using it (see ``store reconcile``)."""

    kind: str  # "staging" (a local temp file), "multipart" (an S3 upload), "temporary" (an S3 object)
    name: str  # how the backend names it, as shown to an administrator
    size: int | None
    started: datetime


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one object, without reading it."""

    key: str
    size: int
    sha256: str | None
    last_modified: datetime
    retain_until: datetime | None


DigestHook = Callable[[str], None]
"""Called by ``put`` with the SHA-256 of the bytes once they are read and checked, before the
object is created or an existing one is re-used; if it raises, the put stores nothing."""


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@runtime_checkable
class ObjectStore(Protocol):
    """Content-addressed, write-once object storage for evidence files.

    Every method that takes a key validates it first and raises :class:`InvalidKey` for an
    unsafe one. Datetimes given or returned are timezone-aware (UTC).
    """

    def put(
        self,
        stream: Readable,
        *,
        max_bytes: int | None = None,
        retain_until: datetime | None = None,
        on_digest: DigestHook | None = None,
    ) -> StoredObject:
        """Stream ``stream`` in, hashing as it goes, and store it under ``key_for(sha256)``.

        Putting bytes that are already stored returns the same key and leaves the object as it
        was, except that a later ``retain_until`` extends its retention. "Already stored" is
        decided by hashing what is stored: an object that no longer hashes to its key is
        re-written from these bytes (``repaired``).
        """
        ...

    def open(self, key: str) -> BinaryIO:
        """A readable stream of the object, to be used as a context manager."""
        ...

    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]: ...

    def stat(self, key: str) -> ObjectInfo: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object for good; :class:`ObjectRetained` while under retention."""
        ...

    def iter_keys(self, prefix: str = "") -> Iterator[str]: ...

    def check(self) -> None:
        """Raise :class:`StoreUnavailable` with a readable reason when the store cannot work."""
        ...

    def check_writable(self) -> None:
        """Write and remove a small probe; :class:`StoreUnavailable` when that fails (read-only
        or full disk, missing permissions, S3 refusing writes)."""
        ...

    def iter_leftovers(self) -> Iterator[Leftover]:
        """Leftovers of interrupted writes, oldest first."""
        ...

    def remove_leftover(self, leftover: Leftover) -> None:
        """Remove one leftover; one already gone is not an error."""
        ...

    def describe(self) -> str:
        """One line saying where objects go, safe to log or show (no secrets)."""
        ...


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise :class:`InvalidKey`."""
    if not isinstance(key, str) or not key:
        raise InvalidKey("an object key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"object key is longer than {MAX_KEY_LENGTH} characters")
    if not _KEY_PATTERN.fullmatch(key):
        raise InvalidKey(
            f"invalid object key {key!r}: use relative '/'-separated segments of letters, digits, '.', '_' and '-'"
        )
    if any(segment in {".", ".."} for segment in key.split("/")):
        raise InvalidKey(f"invalid object key {key!r}: '.' and '..' segments are not allowed")
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix: empty, or a key, optionally ending in ``/``."""
    if prefix == "":
        return prefix
    validate_key(prefix.removesuffix("/"))
    return prefix


def key_for(sha256: str) -> str:
    """The content address of an object: ``sha256/ab/cd/<64 hex digits>``."""
    if not _SHA256_PATTERN.fullmatch(sha256):
        raise ValueError(f"not a lowercase hex SHA-256 digest: {sha256!r}")
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def sha256_from_key(key: str) -> str | None:
    """The digest a content-addressed key names, or None for any other key."""
    candidate = key.rsplit("/", 1)[-1]
    if _SHA256_PATTERN.fullmatch(candidate) and key_for(candidate) == key:
        return candidate
    return None


def require_aware(moment: datetime | None, name: str) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (for example datetime.now(UTC))")
    return moment


def later_of(first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None:
        return second
    if second is None:
        return first
    return max(first, second)


class MeteredReader:
    """Reads a caller's stream while hashing and counting it, refusing more than ``max_bytes``.

    Backends pull from this instead of the caller's stream, so the hash, the size limit and the
    empty-stream rule are enforced the same way everywhere.
    """

    def __init__(self, stream: Readable, max_bytes: int | None) -> None:
        if max_bytes is not None and max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self._stream = stream
        self._max_bytes = max_bytes
        self._hash = hashlib.sha256()
        self.size = 0
        self.exhausted = False

    def read(self, size: int = CHUNK_SIZE) -> bytes:
        """Up to ``size`` bytes; ``b""`` only once the stream is exhausted."""
        if self.exhausted:
            return b""
        wanted = size
        if self._max_bytes is not None:
            # One byte beyond the limit is enough to know the stream is too large.
            wanted = min(size, self._max_bytes - self.size + 1)
        chunk = self._stream.read(wanted)
        if not chunk:
            self.exhausted = True
            if self.size == 0:
                raise EmptyObject("the uploaded stream is empty")
            return b""
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError(f"stream.read() returned {type(chunk).__name__}, expected bytes")
        self.size += len(chunk)
        if self._max_bytes is not None and self.size > self._max_bytes:
            raise ObjectTooLarge(f"object is larger than the limit of {self._max_bytes} bytes")
        self._hash.update(chunk)
        return bytes(chunk)

    def chunks(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK_SIZE):
            yield chunk

    @property
    def sha256(self) -> str:
        if not self.exhausted:
            raise RuntimeError("the digest is only known once the stream has been read to its end")
        return self._hash.hexdigest()


def iter_stream_chunks(stream: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    """Chunks of an opened object, closing it however the iteration ends."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    with stream:
        while chunk := stream.read(chunk_size):
            yield chunk


def sha256_of_object(store: ObjectStore, key: str) -> tuple[str, int]:
    """(SHA-256, size) of what the store holds under ``key``, read as a stream."""
    digest = hashlib.sha256()
    size = 0
    for chunk in store.iter_chunks(key):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def iter_verified(
    store: ObjectStore, key: str, sha256: str, *, size: int | None = None, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """The object's chunks, hashed while they stream; the last chunk is handed out only once the
    whole object is known to hash to ``sha256`` (and to be ``size`` bytes long).

    A mismatch raises :class:`IntegrityError` instead of that last chunk, so a reader never
    receives a complete copy of damaged bytes: a download breaks off, an export stops.
    """
    digest = hashlib.sha256()
    total = 0
    held: bytes | None = None
    for chunk in store.iter_chunks(key, chunk_size):
        if held is not None:
            yield held
        digest.update(chunk)
        total += len(chunk)
        held = chunk
    actual = digest.hexdigest()
    if actual != sha256 or (size is not None and total != size):
        raise IntegrityError(
            f"{key} is corrupted: it holds {total} bytes hashing to {actual}, "
            f"expected {size if size is not None else 'any number of'} bytes hashing to {sha256}"
        )
    if held is not None:
        yield held
