"""Evidence object storage: content-addressed, write-once, streamed.

Every evidence file lives in an object store under its **key**, derived from its content:
``sha256/ab/cd/<64 hex digits of the SHA-256>`` (see :func:`key_for`). Keys are relative,
``/``-separated segments of ``[A-Za-z0-9._-]``; anything else (``..``, a leading ``/``, a
backslash, an empty segment) is refused with :class:`InvalidKey` by every method.

Backends (all implement the :class:`ObjectStore` protocol): :class:`LocalStore` (a folder, the
embedded default), :class:`S3Store` (AWS S3, MinIO, Ceph) and :class:`MemoryStore` (tests).
:func:`open_store` builds one from the ``STORE_URL`` setting.

Guarantees, on every backend:

* **Streaming.** ``put`` reads the stream in :data:`CHUNK_SIZE` pieces, hashing as it reads;
  it never holds the whole object (at most one S3 part, 8 MiB). Reads stream via ``open`` or
  ``iter_chunks``. (:class:`MemoryStore` holds objects in memory by nature.)
* **Verified before visible.** An object appears under its key only once written completely
  and checked: the local file is fsynced and re-hashed before an atomic rename; S3 checks the
  SHA-256 checksum of every part and of the whole object. A failure raises and leaves nothing
  behind: no object, no temporary object, no pending multipart upload.
* **Idempotent.** Putting the same bytes again returns the same key and does not rewrite the
  object; a later ``retain_until`` only extends retention, never shortens it. Whether the bytes
  are "already stored" is decided by hashing the stored object: a damaged one is re-written
  (``StoredObject.repaired``), never silently re-used.
* **Pending before visible.** ``put(on_digest=...)`` calls back with the SHA-256 before the
  object is created or re-used, so a caller can record that it is about to use the key.
* **Verified reads.** :func:`~evidence_store.base.iter_verified` streams an object while hashing
  it and withholds the last chunk unless the whole object matches.
* **Leftovers.** ``iter_leftovers()`` lists what interrupted writes left (staging files,
  incomplete S3 multipart uploads, temporary objects); ``remove_leftover()`` removes one.
* **Bounded.** More than ``max_bytes`` raises :class:`ObjectTooLarge`; an empty stream raises
  :class:`EmptyObject`.
* **Retention.** ``delete`` raises :class:`ObjectRetained` until ``retain_until`` has passed
  (enforced by S3 Object Lock too when configured) and :class:`ObjectNotFound` for a missing key.
* **Health.** ``check()`` raises :class:`StoreUnavailable` with a readable reason, and so does
  ``check_writable()`` when a probe cannot be written (and any failing write); ``describe()``
  is a one-line, secret-free description for logs and ``/healthz``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from evidence_store.base import (
    CHUNK_SIZE,
    EmptyObject,
    IntegrityError,
    InvalidKey,
    Leftover,
    ObjectInfo,
    ObjectNotFound,
    ObjectRetained,
    ObjectStore,
    ObjectTooLarge,
    StoredObject,
    StoreError,
    StoreUnavailable,
    key_for,
    validate_key,
)
from evidence_store.local import LocalStore
from evidence_store.memory import MemoryStore

if TYPE_CHECKING:
    from evidence_store.s3 import S3Store

__all__ = [
    "CHUNK_SIZE",
    "EmptyObject",
    "IntegrityError",
    "InvalidKey",
    "Leftover",
    "LocalStore",
    "MemoryStore",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectRetained",
    "ObjectStore",
    "ObjectTooLarge",
    "S3Store",
    "StoreError",
    "StoreUnavailable",
    "StoredObject",
    "key_for",
    "open_store",
    "validate_key",
]


def __getattr__(name: str) -> Any:
    """``S3Store`` is imported when first asked for: boto3 and botocore take about 20 MiB of
    every portal process, and a portal on a local folder never needs them."""
    if name == "S3Store":
        from evidence_store.s3 import S3Store

        return S3Store
    raise AttributeError(f"module 'evidence_store' has no attribute {name!r}")


def open_store(url: str, **s3_options: Any) -> ObjectStore:
    """The store a ``STORE_URL`` names.

    * ``file:///abs/path`` or a plain path (relative to the working directory): :class:`LocalStore`
    * ``s3://bucket/optional/prefix``: :class:`S3Store`, with ``s3_options`` passed on
      (``endpoint_url``, ``region``, ``sse``, ``object_lock_mode``, ...)
    * ``memory://``: :class:`MemoryStore`
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    # A one-letter "scheme" is a Windows drive letter, i.e. a plain path.
    if scheme == "" or len(scheme) == 1:
        return LocalStore(Path(url))
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(
                f"file:// store URL must name a local absolute path, e.g. file:///var/lib/x, not host {parts.netloc!r}"
            )
        return LocalStore(Path(unquote(parts.path)))
    if scheme == "s3":
        if not parts.netloc:
            raise ValueError("s3:// store URL needs a bucket, e.g. s3://my-bucket/evidence")
        from evidence_store.s3 import S3Store

        return S3Store(parts.netloc, unquote(parts.path.lstrip("/")), **s3_options)
    if scheme == "memory":
        return MemoryStore()
    raise ValueError(f"unknown store URL scheme '{parts.scheme}' in STORE_URL; use file://, s3:// or memory://")
