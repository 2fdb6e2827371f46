"""Objects as files under one folder: the embedded default.

Layout under ``root``::

    objects/<key>            the object's bytes, read-only once written
    retention/<key>.json     {"retain_until": ISO 8601} while the object has a retention date
    staging/<random>         a put in progress; never visible under objects/

Staging lives on the same file system as ``objects/`` so that moving a finished, verified file
into place is one atomic ``os.replace``: a reader sees the whole object or none.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import queue
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from evidence_store.base import (
    CHUNK_SIZE,
    DigestHook,
    IntegrityError,
    InvalidKey,
    Leftover,
    MeteredReader,
    ObjectInfo,
    ObjectNotFound,
    ObjectRetained,
    Readable,
    StoredObject,
    StoreUnavailable,
    iter_stream_chunks,
    key_for,
    require_aware,
    sha256_from_key,
    validate_key,
    validate_prefix,
)

_RETENTION_SUFFIX = ".json"
STAGING_PREFIX = "put-"
PROBE_PREFIX = "probe-"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _fsync_directory(path: Path) -> None:
    # Without this a crash right after os.replace can lose the new directory entry.
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


class _WriteFailed(Exception):
    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


class _StagingWriter:
    """Writes batches of chunks to the staging file in a thread of its own, so that hashing the
    next chunk (in the caller's thread, as it is read) and writing this one overlap: both leave
    the GIL while they work. One thread doing both in turn reached 0.3 of ``cp`` + fsync.

    At most ``QUEUED`` batches wait, so memory stays a few chunks whatever the size. Only the
    store's own writes mean "cannot write" (``_WriteFailed``); a read error is the client's and
    stops the writer without a word."""

    QUEUED = 4

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._batches: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=self.QUEUED)
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="audit-portal-staging-writer", daemon=True)

    def __enter__(self) -> _StagingWriter:
        self._thread.start()
        return self

    def write(self, batch: list[bytes]) -> None:
        self._raise_if_failed()
        if batch:
            self._batches.put(batch)

    def finish(self) -> None:
        """Every batch written and the file synced, or ``_WriteFailed``."""
        self._stop()
        self._raise_if_failed()
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as error:
            raise _WriteFailed(error) from error

    def __exit__(self, *_: object) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._batches.put(None)
            self._thread.join()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise _WriteFailed(self._error)

    def _run(self) -> None:
        while (batch := self._batches.get()) is not None:
            if self._error is None:
                try:
                    self._handle.writelines(batch)
                except OSError as error:
                    self._error = error  # the rest is drained unwritten; the caller raises it


class LocalStore:
    """An :class:`~evidence_store.base.ObjectStore` on a local (or mounted) file system."""

    def __init__(self, root: Path | str, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self.root = Path(root).absolute()
        self._objects = self.root / "objects"
        self._retention = self.root / "retention"
        self._staging = self.root / "staging"
        self._clock = clock

    # -- writing ----------------------------------------------------------------------------

    def put(
        self,
        stream: Readable,
        *,
        max_bytes: int | None = None,
        retain_until: datetime | None = None,
        on_digest: DigestHook | None = None,
    ) -> StoredObject:
        require_aware(retain_until, "retain_until")
        self._ensure_layout()
        reader = MeteredReader(stream, max_bytes)
        staged = self._stage(reader)
        repaired = False
        try:
            sha256 = reader.sha256
            # The bytes were hashed once, as they were read and written. Reading the staged file
            # back to hash it again cost a second pass over every upload and proved little: after
            # fsync the read comes from the page cache, not the disk. A short or lost write shows
            # in the size; what rots on disk later is caught by the hash check on every read and
            # by the scrub.
            if staged.stat().st_size != reader.size:
                raise IntegrityError("the staged file is not as long as the bytes that were read")
            key = key_for(sha256)
            if on_digest is not None:
                on_digest(sha256)
            target = self._path_for(key, self._objects)
            if target.is_file():
                repaired = not self._holds(target, sha256, reader.size)
            if not target.is_file() or repaired:
                try:
                    self._move_into_place(staged, target)
                except OSError as error:
                    raise self._unwritable(error) from error
        finally:
            staged.unlink(missing_ok=True)
        if retain_until is not None:
            self._extend_retention(key, retain_until)
        return StoredObject(key=key, sha256=sha256, size=reader.size, repaired=repaired)

    def _stage(self, reader: MeteredReader) -> Path:
        try:
            descriptor, name = tempfile.mkstemp(dir=self._staging, prefix=STAGING_PREFIX)
        except OSError as error:
            raise self._unwritable(error) from error
        staged = Path(name)
        handle = os.fdopen(descriptor, "wb")
        try:
            with _StagingWriter(handle) as writer:
                batch: list[bytes] = []
                batched = 0
                for chunk in reader.chunks():
                    batch.append(chunk)
                    batched += len(chunk)
                    if batched >= CHUNK_SIZE:
                        writer.write(batch)
                        batch, batched = [], 0
                writer.write(batch)
                writer.finish()
        except BaseException as error:
            with contextlib.suppress(OSError):  # what failed is raised, not the close after it
                handle.close()
            staged.unlink(missing_ok=True)
            if isinstance(error, _WriteFailed):
                raise self._unwritable(error.error) from error.error
            raise
        try:
            handle.close()  # NFS may report a failed write only here
        except OSError as error:
            staged.unlink(missing_ok=True)
            raise self._unwritable(error) from error
        return staged

    def _unwritable(self, error: OSError) -> StoreUnavailable:
        reason = error.strerror or str(error)
        return StoreUnavailable(f"cannot write to the evidence folder {self.root}: {reason}")

    @staticmethod
    def _holds(target: Path, sha256: str, size: int) -> bool:
        """Whether the stored file really holds these bytes: the key promises it, the disk may
        have broken the promise (bit rot, a restore gone wrong, tampering)."""
        return target.stat().st_size == size and _sha256_of_file(target) == sha256

    def _move_into_place(self, staged: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        staged.chmod(0o444)
        # Replacing a damaged copy is atomic too: a reader sees the old file or the new one.
        os.replace(staged, target)
        _fsync_directory(target.parent)

    def _extend_retention(self, key: str, retain_until: datetime) -> None:
        current = self._read_retention(key)
        wanted = retain_until if current is None else max(current, retain_until)
        if wanted == current:
            return
        sidecar = self._retention_path(key)
        sidecar.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"retain_until": wanted.astimezone(UTC).isoformat()})
        descriptor, name = tempfile.mkstemp(dir=sidecar.parent, prefix=".retention-")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(name, sidecar)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        _fsync_directory(sidecar.parent)

    # -- reading ----------------------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        descriptor = self._open_object(key)
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise ObjectNotFound(f"no object {key}")
            return os.fdopen(descriptor, "rb")
        except BaseException:
            os.close(descriptor)
            raise

    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        return iter_stream_chunks(self.open(key), chunk_size)

    def stat(self, key: str) -> ObjectInfo:
        path = self._existing_object(key)
        try:
            status = path.stat()
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key}") from None
        return ObjectInfo(
            key=key,
            size=status.st_size,
            sha256=sha256_from_key(key),
            last_modified=datetime.fromtimestamp(status.st_mtime, UTC),
            retain_until=self._read_retention(key),
        )

    def exists(self, key: str) -> bool:
        return self._path_for(key, self._objects).is_file()

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        if not self._objects.is_dir():
            return
        for directory, subdirectories, files in os.walk(self._objects):
            subdirectories.sort()
            relative = Path(directory).relative_to(self._objects)
            for name in sorted(files):
                key = (relative / name).as_posix()
                if key.startswith(prefix):
                    yield key

    # -- deleting ---------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        path = self._existing_object(key)
        retain_until = self._read_retention(key)
        if retain_until is not None and retain_until > self._clock():
            raise ObjectRetained(f"{key} is retained until {retain_until.isoformat()}")
        try:
            path.unlink()
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key}") from None
        _fsync_directory(path.parent)
        self._retention_path(key).unlink(missing_ok=True)

    # -- health -----------------------------------------------------------------------------

    def check(self) -> None:
        # A fresh install has no folder yet; creating it is what the first put would do anyway.
        self._ensure_layout()
        for folder in (self._objects, self._retention, self._staging):
            if not os.access(folder, os.W_OK | os.X_OK):
                raise StoreUnavailable(f"{folder} is not writable by this process")

    def check_writable(self) -> None:
        self.check()
        try:
            descriptor, name = tempfile.mkstemp(dir=self._staging, prefix=PROBE_PREFIX)
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(b"probe")
                    handle.flush()
                    os.fsync(handle.fileno())
            finally:
                Path(name).unlink(missing_ok=True)
        except OSError as error:
            raise self._unwritable(error) from error

    def describe(self) -> str:
        return f"local folder {self.root}"

    # -- leftovers of interrupted writes ------------------------------------------------------

    def iter_leftovers(self) -> Iterator[Leftover]:
        if not self._staging.is_dir():
            return iter(())
        found = []
        for path in self._staging.iterdir():
            try:
                status = path.stat()
            except FileNotFoundError:
                continue  # a put finished while we looked
            found.append(Leftover("staging", path.name, status.st_size, datetime.fromtimestamp(status.st_mtime, UTC)))
        return iter(sorted(found, key=lambda leftover: leftover.started))

    def remove_leftover(self, leftover: Leftover) -> None:
        if leftover.kind != "staging" or "/" in leftover.name or leftover.name in ("", ".", ".."):
            raise InvalidKey(f"not a leftover of this store: {leftover.kind} {leftover.name!r}")
        (self._staging / leftover.name).unlink(missing_ok=True)

    # -- paths ------------------------------------------------------------------------------

    def _ensure_layout(self) -> None:
        try:
            for folder in (self._objects, self._retention, self._staging):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreUnavailable(f"cannot prepare evidence folder {self.root}: {error}") from error

    def _path_for(self, key: str, base: Path) -> Path:
        validate_key(key)
        path = base / key
        # Resolving follows symlinks, so a link planted inside the tree that points elsewhere
        # is caught here as well as a key that escapes by itself.
        if not path.resolve().is_relative_to(base.resolve()):
            raise InvalidKey(f"object key {key!r} points outside the store")
        return path

    def _open_object(self, key: str) -> int:
        """A descriptor of the object, opened one segment at a time beneath ``objects/`` and never
        through a link: the read path's guard against a link planted in the tree. Unlike resolving
        the path first (a dozen ``lstat`` calls per read, a third of an export's time spent on
        them at 10,000 small files), it leaves no moment between the check and the open."""
        validate_key(key)
        *folders, name = key.split("/")
        try:
            directory = os.open(self._objects, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key}") from None
        try:
            for folder in folders:
                try:
                    inner = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=directory)
                except NotADirectoryError:
                    # a file where a folder should be, or (O_NOFOLLOW's answer for a folder) a link
                    if stat.S_ISLNK(os.lstat(folder, dir_fd=directory).st_mode):
                        raise self._through_a_link(key) from None
                    raise
                os.close(directory)
                directory = inner
            return os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=directory)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(f"no object {key}") from None
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise self._through_a_link(key) from None
            raise
        finally:
            os.close(directory)

    @staticmethod
    def _through_a_link(key: str) -> InvalidKey:
        return InvalidKey(f"object key {key!r} passes through a link, which the store never makes")

    def _existing_object(self, key: str) -> Path:
        path = self._path_for(key, self._objects)
        if not path.is_file():
            raise ObjectNotFound(f"no object {key}")
        return path

    def _retention_path(self, key: str) -> Path:
        return self._path_for(key + _RETENTION_SUFFIX, self._retention)

    def _read_retention(self, key: str) -> datetime | None:
        try:
            text = self._retention_path(key).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return datetime.fromisoformat(json.loads(text)["retain_until"])
