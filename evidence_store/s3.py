"""Objects in an S3 bucket (AWS S3, MinIO, Ceph): the production backend.

A put cannot know its key (the SHA-256) before it has read the whole stream, so:

* an object smaller than one part is read into memory, hashed, and written straight to its key
  with one ``put_object`` carrying ``ChecksumSHA256``, which S3 checks;
* a larger object goes up as a multipart upload to ``<prefix>tmp/<uuid>``, every part carrying
  its own ``ChecksumSHA256``; S3's composite checksum of the completed upload is compared with
  ours, then the object is copied server-side to its key (``copy_object``, or ``upload_part_copy``
  above 5 GiB) with a full-object checksum, and the temporary object is deleted (by version).
  Any failure aborts the multipart upload, so no object and no pending upload stay behind.

Retention: with ``object_lock_mode`` set (the bucket must have Object Lock enabled) the final
object carries ``ObjectLockMode``/``ObjectLockRetainUntilDate`` and S3 itself refuses deletion.
Without it, the date is kept in the object's ``retain-until`` tag and this class refuses deletion.
Leave the bucket's *default* retention unset: it would lock the temporary objects too.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, Final
from urllib.parse import urlencode

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

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
    ObjectTooLarge,
    Readable,
    StoredObject,
    StoreError,
    StoreUnavailable,
    iter_stream_chunks,
    key_for,
    require_aware,
    sha256_from_key,
    validate_prefix,
)
from evidence_store.base import validate_key as _validate_key

log = logging.getLogger(__name__)

MiB: Final = 1024 * 1024
GiB: Final = 1024 * MiB
PART_SIZE: Final = 8 * MiB
MIN_PART_SIZE: Final = 5 * MiB
MAX_PARTS: Final = 10_000
MAX_COPY_SIZE: Final = 5 * GiB
"""The largest object ``copy_object`` can copy; above it the copy goes part by part."""
COPY_PART_SIZE: Final = 512 * MiB

TEMP_FOLDER: Final = "tmp/"
PROBE_NAME: Final = "probe-"
_ABSENT, _INTACT, _DAMAGED = "absent", "intact", "damaged"
RETAIN_UNTIL_TAG: Final = "retain-until"
SHA256_METADATA: Final = "sha256"

SSE_MODES: Final = frozenset({"AES256", "aws:kms"})
OBJECT_LOCK_MODES: Final = frozenset({"GOVERNANCE", "COMPLIANCE"})
_NOT_FOUND_CODES: Final = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchVersion"})
_UNAVAILABLE_CODES: Final = frozenset(
    {"NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "403", "AccessDenied"}
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _composite(part_digests: list[bytes]) -> str:
    """S3's checksum of a multipart object: the hash of the parts' hashes, then ``-<parts>``."""
    return f"{_b64(hashlib.sha256(b''.join(part_digests)).digest())}-{len(part_digests)}"


class _RangeHasher:
    """SHA-256 of consecutive fixed-size ranges of a stream: what a part-by-part copy checks."""

    def __init__(self, range_size: int) -> None:
        self._range_size = range_size
        self._current = hashlib.sha256()
        self._filled = 0
        self._digests: list[bytes] = []

    def update(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            take = min(len(view), self._range_size - self._filled)
            self._current.update(view[:take])
            self._filled += take
            view = view[take:]
            if self._filled == self._range_size:
                self._digests.append(self._current.digest())
                self._current = hashlib.sha256()
                self._filled = 0

    def digests(self) -> list[bytes]:
        tail = [self._current.digest()] if self._filled else []
        return self._digests + tail


class _PartFeed:
    """Cuts the metered stream into upload parts, each read into one preallocated buffer."""

    def __init__(self, reader: MeteredReader, ranges: _RangeHasher, part_size: int) -> None:
        self._reader = reader
        self.ranges = ranges
        self._part_size = part_size
        self._pushed_back: bytearray | None = None

    def push_back(self, part: bytearray) -> None:
        self._pushed_back = part

    def next_part(self) -> bytearray:
        """The next part; empty once the stream is exhausted."""
        if self._pushed_back is not None:
            part, self._pushed_back = self._pushed_back, None
            return part
        # Filling a preallocated buffer keeps memory at one part instead of parts plus copies.
        part = bytearray(self._part_size)
        filled = 0
        with memoryview(part) as view:
            while filled < self._part_size:
                chunk = self._reader.read(min(CHUNK_SIZE, self._part_size - filled))
                if not chunk:
                    break
                view[filled : filled + len(chunk)] = chunk
                filled += len(chunk)
                self.ranges.update(chunk)
        del part[filled:]
        return part


class S3Store:
    """An :class:`~evidence_store.base.ObjectStore` in one bucket, under an optional prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        sse: str | None = None,
        kms_key_id: str | None = None,
        object_lock_mode: str | None = None,
        default_retention_days: int | None = None,
        client: Any = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 5,
        part_size: int = PART_SIZE,
        max_copy_size: int = MAX_COPY_SIZE,
        copy_part_size: int = COPY_PART_SIZE,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 bucket name is required")
        if sse is not None and sse not in SSE_MODES:
            raise ValueError(f"sse must be one of {sorted(SSE_MODES)}, not {sse!r}")
        if kms_key_id is not None and sse != "aws:kms":
            raise ValueError("kms_key_id only applies with sse='aws:kms'")
        if object_lock_mode is not None and object_lock_mode not in OBJECT_LOCK_MODES:
            raise ValueError(f"object_lock_mode must be one of {sorted(OBJECT_LOCK_MODES)}, not {object_lock_mode!r}")
        if default_retention_days is not None and default_retention_days < 1:
            raise ValueError("default_retention_days must be at least 1")
        if not MIN_PART_SIZE <= part_size <= MAX_COPY_SIZE:
            raise ValueError(f"part_size must be between {MIN_PART_SIZE} and {MAX_COPY_SIZE}")
        if not MIN_PART_SIZE <= copy_part_size <= MAX_COPY_SIZE:
            raise ValueError(f"copy_part_size must be between {MIN_PART_SIZE} and {MAX_COPY_SIZE}")
        if not 1 <= max_copy_size <= MAX_COPY_SIZE:
            raise ValueError(f"max_copy_size must be between 1 and {MAX_COPY_SIZE}")
        validate_prefix(prefix)
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.endpoint_url = endpoint_url
        self.region = region
        self.sse = sse
        self.kms_key_id = kms_key_id
        self.object_lock_mode = object_lock_mode
        self.default_retention_days = default_retention_days
        self._part_size = part_size
        self._max_copy_size = max_copy_size
        self._copy_part_size = copy_part_size
        self._clock = clock
        self._client = client or self._build_client(connect_timeout, read_timeout, max_attempts)

    def _build_client(self, connect_timeout: float, read_timeout: float, max_attempts: int) -> Any:
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "max_attempts": max_attempts},
            # MinIO and Ceph behind a custom endpoint usually have no per-bucket DNS names.
            s3={"addressing_style": "path"} if self.endpoint_url else None,
            # Checksums are sent explicitly (SHA-256); botocore should not add CRC32 ones.
            request_checksum_calculation="when_required",
        )
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region, config=config
        )

    @property
    def client(self) -> Any:
        return self._client

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
        retain_until = self._retention_for_new_object(retain_until)
        reader = MeteredReader(stream, max_bytes)
        parts = _PartFeed(reader, _RangeHasher(self._copy_part_size), self._part_size)
        with self._translated(None):
            first_part = parts.next_part()
            if reader.exhausted:
                return self._put_small(first_part, reader, retain_until, on_digest)
            # Handing the part back (instead of passing it down) lets it be freed once sent.
            parts.push_back(first_part)
            del first_part
            return self._put_large(parts, reader, retain_until, on_digest)

    def _put_small(
        self,
        data: bytearray,
        reader: MeteredReader,
        retain_until: datetime | None,
        on_digest: DigestHook | None,
    ) -> StoredObject:
        sha256 = reader.sha256
        key = key_for(sha256)
        if on_digest is not None:
            on_digest(sha256)
        stored = StoredObject(key=key, sha256=sha256, size=reader.size)
        existing = self._existing(stored)
        if existing == _INTACT:
            self._extend_retention(stored.key, retain_until)
            return stored
        stored = replace(stored, repaired=existing == _DAMAGED)
        full_checksum = _b64(hashlib.sha256(data).digest())
        response = self._client.put_object(
            Bucket=self.bucket,
            Key=self._full_key(key),
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=full_checksum,
            Metadata={SHA256_METADATA: sha256},
            **self._encryption_args(),
            **self._retention_args(retain_until),
        )
        self._verify(
            self._full_key(key),
            response.get("VersionId"),
            response.get("ChecksumSHA256"),
            accepted={full_checksum},
            sha256=sha256,
        )
        return stored

    def _put_large(
        self,
        parts: _PartFeed,
        reader: MeteredReader,
        retain_until: datetime | None,
        on_digest: DigestHook | None,
    ) -> StoredObject:
        temp_key = f"{self.prefix}{TEMP_FOLDER}{uuid.uuid4().hex}"
        temp_version, part_digests = self._upload_parts(temp_key, parts)
        try:
            sha256 = reader.sha256
            full_checksum = _b64(bytes.fromhex(sha256))
            self._verify(
                temp_key,
                temp_version,
                self._checksum_after_complete(temp_key, temp_version),
                accepted={_composite(part_digests), full_checksum},
                sha256=sha256,
            )
            if on_digest is not None:
                on_digest(sha256)
            stored = StoredObject(key=key_for(sha256), sha256=sha256, size=reader.size)
            existing = self._existing(stored)
            if existing == _INTACT:
                self._extend_retention(stored.key, retain_until)
            else:
                stored = replace(stored, repaired=existing == _DAMAGED)
                self._copy_into_place(temp_key, temp_version, stored, parts.ranges, retain_until)
        finally:
            self._delete_version(temp_key, temp_version)
        return stored

    def _upload_parts(self, temp_key: str, feed: _PartFeed) -> tuple[str | None, list[bytes]]:
        upload_id = self._client.create_multipart_upload(
            Bucket=self.bucket, Key=temp_key, ChecksumAlgorithm="SHA256", **self._encryption_args()
        )["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            digests: list[bytes] = []
            data: bytearray | None = feed.next_part()
            while data:
                if len(parts) == MAX_PARTS:
                    raise ObjectTooLarge(f"object exceeds {MAX_PARTS} parts of {self._part_size} bytes")
                digest = hashlib.sha256(data).digest()
                response = self._client.upload_part(
                    Bucket=self.bucket,
                    Key=temp_key,
                    UploadId=upload_id,
                    PartNumber=len(parts) + 1,
                    Body=data,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=_b64(digest),
                )
                parts.append(
                    {
                        "PartNumber": len(parts) + 1,
                        "ETag": response["ETag"],
                        "ChecksumSHA256": _b64(digest),
                    }
                )
                digests.append(digest)
                data = None  # drop the sent part before the next one is allocated
                data = feed.next_part()
            completed = self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=temp_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            self._abort(temp_key, upload_id)
            raise
        return completed.get("VersionId"), digests

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (ClientError, BotoCoreError):
            # The original failure matters more; a lifecycle rule on tmp/ cleans what is left.
            log.exception("could not abort multipart upload %s of %s", upload_id, key)

    def _checksum_after_complete(self, key: str, version: str | None) -> str | None:
        head = self._client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED", **_version_arg(version))
        return head.get("ChecksumSHA256")

    def _copy_into_place(
        self,
        temp_key: str,
        temp_version: str | None,
        stored: StoredObject,
        ranges: _RangeHasher,
        retain_until: datetime | None,
    ) -> None:
        source = {"Bucket": self.bucket, "Key": temp_key, **_version_arg(temp_version)}
        final_key = self._full_key(stored.key)
        full_checksum = _b64(bytes.fromhex(stored.sha256))
        if stored.size <= self._max_copy_size:
            response = self._client.copy_object(
                Bucket=self.bucket,
                Key=final_key,
                CopySource=source,
                MetadataDirective="REPLACE",
                Metadata={SHA256_METADATA: stored.sha256},
                ChecksumAlgorithm="SHA256",
                **self._copy_tagging_args(retain_until),
                **self._encryption_args(),
                **self._retention_args(retain_until),
            )
            version = response.get("VersionId")
            checksum = response.get("CopyObjectResult", {}).get("ChecksumSHA256")
            accepted = {full_checksum}
        else:
            version = self._copy_in_parts(source, final_key, stored, retain_until)
            checksum = self._checksum_after_complete(final_key, version)
            accepted = {_composite(ranges.digests()), full_checksum}
            self._extend_retention(stored.key, retain_until)
        self._verify(final_key, version, checksum, accepted=accepted, sha256=stored.sha256)

    def _copy_in_parts(
        self,
        source: dict[str, str],
        final_key: str,
        stored: StoredObject,
        retain_until: datetime | None,
    ) -> str | None:
        upload_id = self._client.create_multipart_upload(
            Bucket=self.bucket,
            Key=final_key,
            ChecksumAlgorithm="SHA256",
            Metadata={SHA256_METADATA: stored.sha256},
            **self._create_tagging_args(retain_until),
            **self._encryption_args(),
            **self._retention_args(retain_until),
        )["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, stored.size, self._copy_part_size), 1):
                end = min(start + self._copy_part_size, stored.size) - 1
                response = self._client.upload_part_copy(
                    Bucket=self.bucket,
                    Key=final_key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=source,
                    CopySourceRange=f"bytes={start}-{end}",
                )
                result = response["CopyPartResult"]
                part = {"PartNumber": number, "ETag": result["ETag"]}
                if "ChecksumSHA256" in result:
                    part["ChecksumSHA256"] = result["ChecksumSHA256"]
                parts.append(part)
            completed = self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=final_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            self._abort(final_key, upload_id)
            raise
        return completed.get("VersionId")

    def _verify(
        self,
        full_key: str,
        version: str | None,
        reported: str | None,
        *,
        accepted: set[str],
        sha256: str,
    ) -> None:
        """Check what S3 says it stored against what was sent; re-read it if S3 does not say."""
        if reported is None:
            reported = self._checksum_after_complete(full_key, version)
        if reported is not None:
            matches = reported in accepted or any(reported == value.split("-")[0] for value in accepted if "-" in value)
        else:
            matches = self._sha256_by_reading(full_key, version) == sha256
        if not matches:
            raise IntegrityError(f"s3://{self.bucket}/{full_key} does not hash to the uploaded bytes (sha256 {sha256})")

    def _sha256_by_reading(self, full_key: str, version: str | None) -> str:
        digest = hashlib.sha256()
        body = self._client.get_object(Bucket=self.bucket, Key=full_key, **_version_arg(version))["Body"]
        with body:
            for chunk in body.iter_chunks(CHUNK_SIZE):
                digest.update(chunk)
        return digest.hexdigest()

    def _existing(self, stored: StoredObject) -> str:
        """Whether the key is free, holds these bytes, or holds damaged ones (to be re-written).

        The stored bytes are hashed rather than trusted by size: dedup must never link a new
        record to a damaged copy."""
        full_key = self._full_key(stored.key)
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=full_key)
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND_CODES:
                return _ABSENT
            raise
        if head["ContentLength"] != stored.size:
            return _DAMAGED
        return _INTACT if self._sha256_by_reading(full_key, None) == stored.sha256 else _DAMAGED

    def _extend_retention(self, key: str, retain_until: datetime | None) -> None:
        if retain_until is None:
            return
        current = self._retain_until(key)
        if current is not None and current >= retain_until:
            return
        full_key = self._full_key(key)
        if self.object_lock_mode is not None:
            self._client.put_object_retention(
                Bucket=self.bucket,
                Key=full_key,
                Retention={"Mode": self.object_lock_mode, "RetainUntilDate": retain_until},
            )
            return
        tags = self._tags(full_key)
        tags[RETAIN_UNTIL_TAG] = _tag_date(retain_until)
        self._client.put_object_tagging(
            Bucket=self.bucket,
            Key=full_key,
            Tagging={"TagSet": [{"Key": name, "Value": value} for name, value in tags.items()]},
        )

    def _delete_version(self, full_key: str, version: str | None) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=full_key, **_version_arg(version))
        except (ClientError, BotoCoreError):
            log.exception("could not delete temporary object %s", full_key)

    # -- reading ----------------------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        with self._translated(key):
            response = self._client.get_object(Bucket=self.bucket, Key=self._full_key(key))
        body: BinaryIO = response["Body"]
        return body

    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        return iter_stream_chunks(self.open(key), chunk_size)

    def stat(self, key: str) -> ObjectInfo:
        with self._translated(key):
            head = self._client.head_object(Bucket=self.bucket, Key=self._full_key(key))
            retain_until = head.get("ObjectLockRetainUntilDate")
            if retain_until is None and self.object_lock_mode is None:
                retain_until = _parse_tag_date(self._tags(self._full_key(key)).get(RETAIN_UNTIL_TAG))
        return ObjectInfo(
            key=key,
            size=head["ContentLength"],
            sha256=head.get("Metadata", {}).get(SHA256_METADATA) or sha256_from_key(key),
            last_modified=head["LastModified"],
            retain_until=retain_until,
        )

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        return self._iter_keys(prefix)

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        with self._translated(None):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix) :]
                    if not key.startswith(TEMP_FOLDER):
                        yield key

    # -- deleting ---------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        retain_until = self.stat(key).retain_until
        if retain_until is not None and retain_until > self._clock():
            raise ObjectRetained(f"{key} is retained until {retain_until.isoformat()}")
        full_key = self._full_key(key)
        with self._translated(key):
            # In a versioned (Object Lock) bucket a plain delete only hides the object behind a
            # delete marker; removing every version is what actually deletes the evidence.
            for version in self._versions(full_key):
                try:
                    self._client.delete_object(Bucket=self.bucket, Key=full_key, VersionId=version)
                except ClientError as error:
                    if _error_code(error) == "AccessDenied":
                        raise ObjectRetained(f"{key} is protected by S3 Object Lock") from error
                    raise

    def _versions(self, full_key: str) -> list[str]:
        versions: list[str] = []
        paginator = self._client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full_key):
            for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
                if entry["Key"] == full_key:
                    versions.append(entry["VersionId"])
        return versions

    # -- health -----------------------------------------------------------------------------

    def check(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as error:
            raise StoreUnavailable(f"cannot reach {self.describe()}: {error}") from error

    def check_writable(self) -> None:
        probe = f"{self.prefix}{TEMP_FOLDER}{PROBE_NAME}{uuid.uuid4().hex}"
        try:
            response = self._client.put_object(Bucket=self.bucket, Key=probe, Body=b"probe", **self._encryption_args())
            self._client.delete_object(Bucket=self.bucket, Key=probe, **_version_arg(response.get("VersionId")))
        except (ClientError, BotoCoreError) as error:
            raise StoreUnavailable(f"cannot write to {self.describe()}: {error}") from error

    # -- leftovers of interrupted writes ------------------------------------------------------

    def iter_leftovers(self) -> Iterator[Leftover]:
        found: list[Leftover] = []
        with self._translated(None):
            uploads = self._client.get_paginator("list_multipart_uploads")
            for page in uploads.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for upload in page.get("Uploads", []):
                    name = f"{upload['Key']} {upload['UploadId']}"
                    found.append(Leftover("multipart", name, None, upload["Initiated"]))
            objects = self._client.get_paginator("list_objects_v2")
            for page in objects.paginate(Bucket=self.bucket, Prefix=self.prefix + TEMP_FOLDER):
                for item in page.get("Contents", []):
                    found.append(Leftover("temporary", item["Key"], item["Size"], item["LastModified"]))
        return iter(sorted(found, key=lambda leftover: leftover.started))

    def remove_leftover(self, leftover: Leftover) -> None:
        with self._translated(None):
            if leftover.kind == "multipart":
                key, _, upload_id = leftover.name.partition(" ")
                self._require_own(key, leftover)
                try:
                    self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
                except ClientError as error:
                    if _error_code(error) != "NoSuchUpload":
                        raise
            elif leftover.kind == "temporary":
                self._require_own(leftover.name, leftover, folder=TEMP_FOLDER)
                versions: list[str | None] = [*self._versions(leftover.name)] or [None]
                for version in versions:
                    self._client.delete_object(Bucket=self.bucket, Key=leftover.name, **_version_arg(version))
            else:
                raise InvalidKey(f"not a leftover of this store: {leftover.kind} {leftover.name!r}")

    def _require_own(self, full_key: str, leftover: Leftover, folder: str = "") -> None:
        if not full_key.startswith(self.prefix + folder):
            raise InvalidKey(f"not a leftover of this store: {leftover.kind} {leftover.name!r}")

    def describe(self) -> str:
        return (
            f"S3 bucket {self.bucket!r} prefix {self.prefix!r} at "
            f"{self.endpoint_url or 'the AWS default endpoint'} "
            f"(region {self.region or 'default'}, encryption {self.sse or 'bucket default'}, "
            f"object lock {self.object_lock_mode or 'off'})"
        )

    # -- helpers ----------------------------------------------------------------------------

    def _full_key(self, key: str) -> str:
        return self.prefix + _validate_key(key)

    def _retention_for_new_object(self, retain_until: datetime | None) -> datetime | None:
        if retain_until is None and self.default_retention_days is not None:
            return self._clock() + timedelta(days=self.default_retention_days)
        return retain_until

    def _retain_until(self, key: str) -> datetime | None:
        return self.stat(key).retain_until

    def _tags(self, full_key: str) -> dict[str, str]:
        response = self._client.get_object_tagging(Bucket=self.bucket, Key=full_key)
        return {tag["Key"]: tag["Value"] for tag in response.get("TagSet", [])}

    def _encryption_args(self) -> dict[str, str]:
        args: dict[str, str] = {}
        if self.sse is not None:
            args["ServerSideEncryption"] = self.sse
        if self.kms_key_id is not None:
            args["SSEKMSKeyId"] = self.kms_key_id
        return args

    def _retention_args(self, retain_until: datetime | None) -> dict[str, Any]:
        if retain_until is None or self.object_lock_mode is None:
            return {}
        return {"ObjectLockMode": self.object_lock_mode, "ObjectLockRetainUntilDate": retain_until}

    def _create_tagging_args(self, retain_until: datetime | None) -> dict[str, str]:
        if retain_until is None or self.object_lock_mode is not None:
            return {}
        return {"Tagging": urlencode({RETAIN_UNTIL_TAG: _tag_date(retain_until)})}

    def _copy_tagging_args(self, retain_until: datetime | None) -> dict[str, str]:
        args = self._create_tagging_args(retain_until)
        # REPLACE even without tags so the temporary object's tags never carry over.
        return {"TaggingDirective": "REPLACE", **args}

    @contextmanager
    def _translated(self, key: str | None) -> Iterator[None]:
        """Turn botocore failures into the store's errors, so callers handle one family."""
        try:
            yield
        except StoreError:
            raise
        except ClientError as error:
            code = _error_code(error)
            if key is not None and code in _NOT_FOUND_CODES:
                raise ObjectNotFound(f"no object {key}") from error
            if code in _UNAVAILABLE_CODES:
                raise StoreUnavailable(f"{self.describe()}: {error}") from error
            raise StoreError(f"S3 request failed: {error}") from error
        except BotoCoreError as error:
            raise StoreUnavailable(f"cannot reach {self.describe()}: {error}") from error


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _version_arg(version: str | None) -> dict[str, str]:
    # "null" is the version of every object in an unversioned bucket; naming it adds nothing
    # and some S3-compatible servers reject it.
    return {"VersionId": version} if version and version != "null" else {}


def _tag_date(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        # Rounding up: a retention date may be stored a little late, never early.
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_tag_date(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
