"""The ObjectStore contract, run against every backend (see conftest.py for the ``store`` fixture)."""

from __future__ import annotations

import hashlib
import io
import random
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evidence_store import (
    EmptyObject,
    IntegrityError,
    InvalidKey,
    Leftover,
    LocalStore,
    MemoryStore,
    ObjectNotFound,
    ObjectRetained,
    ObjectStore,
    ObjectTooLarge,
    S3Store,
    StoreUnavailable,
    key_for,
    open_store,
)
from evidence_store.base import iter_verified, sha256_of_object

MiB = 1024 * 1024
BAD_KEYS = ["../../etc/passwd", "/etc/passwd", "a/../../b", "a\\b", "a//b", "", "a/./b"]


class PatternStream:
    """``size`` deterministic pseudo-random bytes, generated a block at a time as they are read.

    The bytes depend only on ``seed`` and position, never on how the reader slices them.
    """

    BLOCK = 1 * MiB

    def __init__(self, size: int, seed: int = 7) -> None:
        self._size = size
        self._seed = seed
        self._position = 0
        self._block_index = -1
        self._block = b""

    def read(self, n: int = -1) -> bytes:
        remaining = self._size - self._position
        if remaining <= 0:
            return b""
        n = remaining if n < 0 else min(n, remaining)
        pieces = []
        while n > 0:
            index, offset = divmod(self._position, self.BLOCK)
            if index != self._block_index:
                self._block = random.Random(self._seed * 1_000_003 + index).randbytes(self.BLOCK)
                self._block_index = index
            piece = self._block[offset : offset + n]
            pieces.append(piece)
            self._position += len(piece)
            n -= len(piece)
        return b"".join(pieces)


class FailingStream:
    """Delivers ``fail_after`` bytes of a PatternStream, then fails like a dropped connection."""

    def __init__(self, fail_after: int) -> None:
        self._inner = PatternStream(fail_after * 2)
        self._left = fail_after

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            raise ConnectionResetError("client went away mid-upload")
        chunk = self._inner.read(min(n, self._left) if n >= 0 else self._left)
        self._left -= len(chunk)
        return chunk


def sha256_of(stream: Any) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(4 * MiB):
        digest.update(chunk)
    return digest.hexdigest()


def leftovers(store: ObjectStore) -> list[str]:
    """Everything the backend holds, including what a user of the store cannot see."""
    if isinstance(store, LocalStore):
        if not store.root.exists():
            return []
        return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())
    if isinstance(store, S3Store):
        client = store.client
        versions = client.list_object_versions(Bucket=store.bucket)
        found = [
            f"version {entry['Key']}" for entry in versions.get("Versions", []) + versions.get("DeleteMarkers", [])
        ]
        uploads = client.list_multipart_uploads(Bucket=store.bucket)
        found += [f"upload {upload['Key']}" for upload in uploads.get("Uploads", [])]
        return found
    return list(store.iter_keys())


def soon(seconds: float = 2.0) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def wait_until_past(moment: datetime) -> None:
    # Retention is judged against the wall clock by S3 itself, so time has to really pass.
    while datetime.now(UTC) <= moment + timedelta(milliseconds=50):
        time.sleep(0.1)


class TestRoundTrip:
    def test_put_read_list_delete(self, store: ObjectStore) -> None:
        data = b"firewall export 2024-05-01\n"
        stored = store.put(io.BytesIO(data))
        digest = hashlib.sha256(data).hexdigest()

        assert (stored.key, stored.sha256, stored.size) == (key_for(digest), digest, len(data))
        assert stored.key == f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"
        assert store.exists(stored.key)
        with store.open(stored.key) as handle:
            assert handle.read() == data
        assert b"".join(store.iter_chunks(stored.key, chunk_size=5)) == data
        info = store.stat(stored.key)
        assert (info.key, info.size, info.sha256, info.retain_until) == (
            stored.key,
            len(data),
            digest,
            None,
        )
        assert info.last_modified.tzinfo is not None
        assert list(store.iter_keys()) == [stored.key]
        assert list(store.iter_keys(f"sha256/{digest[:2]}/")) == [stored.key]
        assert list(store.iter_keys("other/")) == []

        store.delete(stored.key)

        assert not store.exists(stored.key)
        assert leftovers(store) == []
        with pytest.raises(ObjectNotFound):
            store.stat(stored.key)
        with pytest.raises(ObjectNotFound):
            store.open(stored.key)
        with pytest.raises(ObjectNotFound):
            store.delete(stored.key)

    def test_same_bytes_twice_is_one_object(self, store: ObjectStore) -> None:
        first = store.put(io.BytesIO(b"same evidence"))
        second = store.put(io.BytesIO(b"same evidence"))

        assert first == second
        assert list(store.iter_keys()) == [first.key]
        assert len(leftovers(store)) == 1

    def test_large_multipart_object_same_bytes_twice(self, store: ObjectStore) -> None:
        first = store.put(PatternStream(20 * MiB))
        second = store.put(PatternStream(20 * MiB))

        assert first == second
        assert len(leftovers(store)) == 1

    def test_short_reads_are_not_mistaken_for_the_end(self, store: ObjectStore) -> None:
        class Trickle:
            def __init__(self) -> None:
                self._inner = io.BytesIO(b"x" * 1000)

            def read(self, n: int = -1) -> bytes:
                return self._inner.read(min(n, 7))

        stored = store.put(Trickle())

        assert stored.size == 1000
        assert stored.sha256 == hashlib.sha256(b"x" * 1000).hexdigest()


class TestLargeObjects:
    def test_64_mib_streams_in_and_out_intact(self, store: ObjectStore) -> None:
        size = 64 * MiB
        expected = sha256_of(PatternStream(size))

        stored = store.put(PatternStream(size))

        assert (stored.sha256, stored.size) == (expected, size)
        read_back = hashlib.sha256()
        for chunk in store.iter_chunks(stored.key):
            read_back.update(chunk)
        assert read_back.hexdigest() == expected
        assert store.stat(stored.key).size == size

    @pytest.mark.parametrize("backend", ["local", "s3"])
    def test_put_memory_stays_well_under_the_object_size(
        self, backend: str, tmp_path: Path, request: pytest.FixtureRequest
    ) -> None:
        # MemoryStore is left out on purpose: holding the object is what it is for.
        if backend == "local":
            store: ObjectStore = LocalStore(tmp_path / "store")
        else:
            store = request.getfixturevalue("make_s3_store")()
        store.check()  # builds connection pools and caches outside the measurement
        tracemalloc.start()
        try:
            stored = store.put(PatternStream(64 * MiB))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

        assert stored.size == 64 * MiB
        assert peak < 24 * MiB, f"put peaked at {peak / MiB:.1f} MiB"


class TestNothingLeftBehind:
    def test_interrupted_upload(self, store: ObjectStore) -> None:
        with pytest.raises(ConnectionResetError):
            store.put(FailingStream(fail_after=20 * MiB))

        assert leftovers(store) == []

    def test_max_bytes_exceeded_mid_stream(self, store: ObjectStore) -> None:
        with pytest.raises(ObjectTooLarge):
            store.put(PatternStream(20 * MiB), max_bytes=10 * MiB)

        assert leftovers(store) == []

    def test_max_bytes_exceeded_in_a_small_object(self, store: ObjectStore) -> None:
        with pytest.raises(ObjectTooLarge):
            store.put(io.BytesIO(b"0123456789"), max_bytes=9)

        assert leftovers(store) == []

    def test_exactly_max_bytes_is_accepted(self, store: ObjectStore) -> None:
        assert store.put(io.BytesIO(b"0123456789"), max_bytes=10).size == 10

    def test_empty_stream(self, store: ObjectStore) -> None:
        with pytest.raises(EmptyObject):
            store.put(io.BytesIO(b""))

        assert leftovers(store) == []


KEY_METHODS = {
    "open": lambda store, key: store.open(key),
    "iter_chunks": lambda store, key: list(store.iter_chunks(key)),
    "stat": lambda store, key: store.stat(key),
    "exists": lambda store, key: store.exists(key),
    "delete": lambda store, key: store.delete(key),
    "iter_keys": lambda store, key: list(store.iter_keys(key)),
}


class TestKeyValidation:
    @pytest.mark.parametrize("method", sorted(KEY_METHODS))
    @pytest.mark.parametrize("key", [k for k in BAD_KEYS if k])
    def test_unsafe_keys_are_refused(self, store: ObjectStore, method: str, key: str) -> None:
        with pytest.raises(InvalidKey):
            KEY_METHODS[method](store, key)

    @pytest.mark.parametrize("method", sorted(set(KEY_METHODS) - {"iter_keys"}))
    def test_empty_key_is_refused(self, store: ObjectStore, method: str) -> None:
        with pytest.raises(InvalidKey):
            KEY_METHODS[method](store, "")

    def test_local_store_refuses_a_symlink_out_of_its_root(self, tmp_path: Path) -> None:
        store = LocalStore(tmp_path / "store")
        store.put(io.BytesIO(b"inside"))
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "secret").write_bytes(b"not evidence")
        (store.root / "objects" / "escape").symlink_to(outside)

        with pytest.raises(InvalidKey):
            store.open("escape/secret")
        with pytest.raises(InvalidKey):
            store.delete("escape/secret")
        assert (outside / "secret").exists()

    def test_local_store_reads_no_object_through_a_link(self, tmp_path: Path) -> None:
        """Reads open the key one segment at a time without following links: a link at the end
        of the key or in its middle is refused, wherever it points (the store never makes one)."""
        store = LocalStore(tmp_path / "store")
        stored = store.put(io.BytesIO(b"inside"))
        objects = store.root / "objects"
        outside = tmp_path / "outside.txt"
        outside.write_bytes(b"not evidence")
        (objects / "to-outside").symlink_to(outside)
        (objects / "to-inside").symlink_to(objects / stored.key)
        (objects / "folder-link").symlink_to(objects / stored.key.rsplit("/", 1)[0])

        for key in ("to-outside", "to-inside", f"folder-link/{stored.sha256}"):
            with pytest.raises(InvalidKey):
                store.open(key)
        assert store.open(stored.key).read() == b"inside"

    def test_local_store_finds_no_object_where_a_folder_or_file_is_in_the_way(self, tmp_path: Path) -> None:
        store = LocalStore(tmp_path / "store")
        stored = store.put(io.BytesIO(b"inside"))
        folder = stored.key.rsplit("/", 1)[0]

        for key in (folder, f"{stored.key}/below", "sha256/ff/ff/missing"):
            with pytest.raises(ObjectNotFound):
                store.open(key)
        with pytest.raises(ObjectNotFound):
            LocalStore(tmp_path / "never-written").open(stored.key)


class TestRetention:
    def test_delete_refused_while_retained_then_allowed(self, store: ObjectStore) -> None:
        retain_until = soon()
        stored = store.put(io.BytesIO(b"access review, signed"), retain_until=retain_until)

        info = store.stat(stored.key)
        assert info.retain_until is not None
        assert info.retain_until >= retain_until.replace(microsecond=0)
        with pytest.raises(ObjectRetained):
            store.delete(stored.key)
        assert store.exists(stored.key)

        wait_until_past(info.retain_until)
        store.delete(stored.key)

        assert leftovers(store) == []

    def test_putting_again_extends_but_never_shortens(self, store: ObjectStore) -> None:
        near, far = soon(3600), soon(7200)
        stored = store.put(io.BytesIO(b"policy v3"), retain_until=near)

        store.put(io.BytesIO(b"policy v3"), retain_until=far)
        extended = store.stat(stored.key).retain_until
        store.put(io.BytesIO(b"policy v3"), retain_until=near)

        assert extended is not None and extended >= far.replace(microsecond=0)
        assert store.stat(stored.key).retain_until == extended

    def test_naive_retention_date_is_refused(self, store: ObjectStore) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            store.put(io.BytesIO(b"x"), retain_until=datetime.now() + timedelta(days=1))

        assert leftovers(store) == []

    def test_s3_object_lock_refuses_deletion_by_itself(self, make_s3_store: Any, s3_bucket: str) -> None:
        store = make_s3_store(object_lock_mode="COMPLIANCE")
        stored = store.put(io.BytesIO(b"locked"), retain_until=soon(3600))
        head = store.client.head_object(Bucket=s3_bucket, Key="evidence/" + stored.key)
        assert head["ObjectLockMode"] == "COMPLIANCE"

        with pytest.raises(ObjectRetained):
            store.delete(stored.key)
        with pytest.raises(Exception, match="AccessDenied"):
            store.client.delete_object(Bucket=s3_bucket, Key="evidence/" + stored.key, VersionId=head["VersionId"])

    def test_s3_without_object_lock_still_refuses(self, make_s3_store: Any, moto_server: Any) -> None:
        # A plain, unversioned bucket: retention is kept in a tag and enforced by the store.
        moto_server.client().create_bucket(Bucket="plain-evidence")
        store = make_s3_store("plain-evidence")
        stored = store.put(PatternStream(12 * MiB), retain_until=soon())

        info = store.stat(stored.key)
        assert info.retain_until is not None
        with pytest.raises(ObjectRetained):
            store.delete(stored.key)
        wait_until_past(info.retain_until)
        store.delete(stored.key)
        assert leftovers(store) == []

    def test_s3_default_retention_days(self, make_s3_store: Any, s3_bucket: str) -> None:
        store = make_s3_store(object_lock_mode="GOVERNANCE", default_retention_days=30)
        stored = store.put(io.BytesIO(b"default retention"))

        retain_until = store.stat(stored.key).retain_until
        assert retain_until is not None
        assert retain_until > datetime.now(UTC) + timedelta(days=29)


class TestS3Copy:
    def test_part_by_part_copy_of_a_large_object(self, make_s3_store: Any, s3_bucket: str) -> None:
        # The real threshold is 5 GiB; lowering it exercises the same upload_part_copy path.
        store = make_s3_store(
            object_lock_mode="GOVERNANCE",
            max_copy_size=16 * MiB,
            copy_part_size=16 * MiB,
        )
        size = 40 * MiB
        stored = store.put(PatternStream(size), retain_until=soon(3600))

        assert stored.sha256 == sha256_of(PatternStream(size))
        with store.open(stored.key) as body:
            assert sha256_of(body) == stored.sha256
        assert store.stat(stored.key).retain_until is not None
        assert leftovers(store) == [f"version evidence/{stored.key}"]


def damage(store: ObjectStore, key: str, data: bytes) -> None:
    """Replace what the backend holds under ``key`` behind the store's back (bit rot, a bad
    restore, tampering)."""
    if isinstance(store, LocalStore):
        path = store.root / "objects" / key
        path.chmod(0o644)
        path.write_bytes(data)
    elif isinstance(store, S3Store):
        store.client.put_object(Bucket=store.bucket, Key=store.prefix + key, Body=data)
    else:
        assert isinstance(store, MemoryStore)
        store._entries[key].data = data


def flip_one_byte(data: bytes) -> bytes:
    return data[:3] + bytes([data[3] ^ 0x01]) + data[4:]


class TestIntegrity:
    ORIGINAL = b"original evidence bytes, " * 40

    @pytest.mark.parametrize("damaged", [flip_one_byte, lambda data: data[:-5]], ids=["same-size", "truncated"])
    def test_putting_the_bytes_again_repairs_a_damaged_object(self, store: ObjectStore, damaged: Any) -> None:
        stored = store.put(io.BytesIO(self.ORIGINAL))
        damage(store, stored.key, damaged(self.ORIGINAL))

        again = store.put(io.BytesIO(self.ORIGINAL))

        assert again.key == stored.key and again.repaired
        with store.open(stored.key) as body:
            assert body.read() == self.ORIGINAL
        assert not store.put(io.BytesIO(self.ORIGINAL)).repaired

    def test_large_damaged_object_is_repaired(self, store: ObjectStore) -> None:
        size = 12 * MiB  # multipart on S3
        stored = store.put(PatternStream(size))
        with store.open(stored.key) as body:
            damage(store, stored.key, flip_one_byte(body.read()))

        assert store.put(PatternStream(size)).repaired
        with store.open(stored.key) as body:
            assert sha256_of(body) == stored.sha256

    def test_verified_read_hands_out_an_intact_object_whole(self, store: ObjectStore) -> None:
        stored = store.put(PatternStream(3 * MiB))
        chunks = list(iter_verified(store, stored.key, stored.sha256, size=stored.size, chunk_size=MiB))
        assert hashlib.sha256(b"".join(chunks)).hexdigest() == stored.sha256

    @pytest.mark.parametrize("chunk_size", [MiB, 64 * MiB])
    def test_verified_read_never_hands_out_the_whole_of_a_damaged_object(
        self, store: ObjectStore, chunk_size: int
    ) -> None:
        data = PatternStream(3 * MiB).read()
        stored = store.put(io.BytesIO(data))
        damage(store, stored.key, flip_one_byte(data))

        received = bytearray()
        with pytest.raises(IntegrityError, match="corrupted"):
            for chunk in iter_verified(store, stored.key, stored.sha256, size=stored.size, chunk_size=chunk_size):
                received += chunk
        assert len(received) < len(data)
        assert sha256_of_object(store, stored.key)[0] != stored.sha256

    def test_digest_hook_runs_before_the_object_is_visible(self, store: ObjectStore) -> None:
        seen: list[tuple[str, bool]] = []

        def hook(sha256: str) -> None:
            seen.append((sha256, store.exists(key_for(sha256))))

        stored = store.put(io.BytesIO(b"hooked bytes"), on_digest=hook)
        assert seen == [(stored.sha256, False)]
        store.put(io.BytesIO(b"hooked bytes"), on_digest=hook)
        assert seen[-1] == (stored.sha256, True)

    @pytest.mark.parametrize("size", [100, 12 * MiB], ids=["small", "multipart"])
    def test_a_failing_digest_hook_stores_nothing(self, store: ObjectStore, size: int) -> None:
        def hook(sha256: str) -> None:
            raise RuntimeError("the database refused the pending row")

        with pytest.raises(RuntimeError, match="pending row"):
            store.put(PatternStream(size), on_digest=hook)
        assert leftovers(store) == []


class TestLeftovers:
    def test_interrupted_writes_are_listed_and_removed(self, store: ObjectStore) -> None:
        """What a process killed mid-put leaves: a staging file, or an S3 multipart upload and
        a temporary object."""
        expected = plant_leftovers(store)
        found = list(store.iter_leftovers())
        assert sorted(leftover.kind for leftover in found) == expected
        assert all(leftover.started.tzinfo is not None for leftover in found)

        for leftover in found:
            store.remove_leftover(leftover)
            store.remove_leftover(leftover)  # already gone is fine
        assert list(store.iter_leftovers()) == []
        assert leftovers(store) == []

    def test_a_completed_put_leaves_nothing_to_clean(self, store: ObjectStore) -> None:
        store.put(PatternStream(12 * MiB))
        assert list(store.iter_leftovers()) == []

    def test_only_leftovers_of_the_store_can_be_removed(self, store: ObjectStore) -> None:
        stored = store.put(io.BytesIO(b"kept"))
        for kind in ("staging", "multipart", "temporary", "object"):
            with pytest.raises(InvalidKey):
                store.remove_leftover(Leftover(kind, "../" + stored.key, None, datetime.now(UTC)))
        assert store.exists(stored.key)


def plant_leftovers(store: ObjectStore) -> list[str]:
    if isinstance(store, LocalStore):
        store.check()
        (store.root / "staging" / "put-killed").write_bytes(b"half an upload")
        return ["staging"]
    if isinstance(store, S3Store):
        temp = f"{store.prefix}tmp/killed-upload"
        upload = store.client.create_multipart_upload(Bucket=store.bucket, Key=temp)
        store.client.upload_part(
            Bucket=store.bucket, Key=temp, UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024
        )
        store.client.put_object(Bucket=store.bucket, Key=f"{store.prefix}tmp/killed-copy", Body=b"y")
        return ["multipart", "temporary"]
    return []


class TestHealth:
    def test_check_passes_and_describe_is_one_line(self, store: ObjectStore) -> None:
        store.check()
        store.check_writable()
        assert leftovers(store) == []
        description = store.describe()
        assert description and "\n" not in description
        assert "testing" not in description  # the dummy credentials never leak

    def test_unreachable_s3_endpoint(self, closed_port: int, aws_env: None) -> None:
        store = S3Store(
            "evidence",
            endpoint_url=f"http://127.0.0.1:{closed_port}",
            region="us-east-1",
            connect_timeout=0.2,
            read_timeout=0.2,
            max_attempts=1,
        )

        with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{closed_port}"):
            store.check()

    def test_missing_s3_bucket(self, make_s3_store: Any) -> None:
        with pytest.raises(StoreUnavailable, match="no-such-bucket"):
            make_s3_store("no-such-bucket").check()

    def test_unwritable_s3_endpoint(self, closed_port: int, aws_env: None) -> None:
        store = S3Store(
            "evidence",
            endpoint_url=f"http://127.0.0.1:{closed_port}",
            region="us-east-1",
            connect_timeout=0.2,
            read_timeout=0.2,
            max_attempts=1,
        )
        with pytest.raises(StoreUnavailable, match="cannot write"):
            store.check_writable()
        with pytest.raises(StoreUnavailable):
            store.put(io.BytesIO(b"evidence"))

    def test_local_store_that_cannot_be_written(self, tmp_path: Path) -> None:
        store = LocalStore(tmp_path / "store")
        store.check()
        (store.root / "staging").rmdir()
        (store.root / "staging").write_text("not a folder")  # as broken as a read-only mount
        with pytest.raises(StoreUnavailable, match="cannot"):
            store.check_writable()
        with pytest.raises(StoreUnavailable, match="cannot"):
            store.put(io.BytesIO(b"evidence"))

    def test_local_root_that_is_a_file(self, tmp_path: Path) -> None:
        root = tmp_path / "not-a-folder"
        root.write_text("oops")

        with pytest.raises(StoreUnavailable, match="cannot prepare evidence folder"):
            LocalStore(root).check()


class TestOpenStore:
    def test_file_url(self, tmp_path: Path) -> None:
        store = open_store(f"file://{tmp_path}/evidence")
        assert isinstance(store, LocalStore)
        assert store.root == tmp_path / "evidence"

    def test_relative_path(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(tmp_path)
        store = open_store("data/evidence")
        assert isinstance(store, LocalStore)
        assert store.root == tmp_path / "data" / "evidence"

    def test_s3_url(self, aws_env: None) -> None:
        store = open_store(
            "s3://audit-bucket/portal/evidence",
            endpoint_url="http://127.0.0.1:9",
            object_lock_mode="COMPLIANCE",
        )
        assert isinstance(store, S3Store)
        assert (store.bucket, store.prefix, store.object_lock_mode) == (
            "audit-bucket",
            "portal/evidence/",
            "COMPLIANCE",
        )
        assert store.endpoint_url == "http://127.0.0.1:9"

    def test_s3_url_without_prefix(self, aws_env: None) -> None:
        store = open_store("s3://audit-bucket")
        assert isinstance(store, S3Store)
        assert (store.bucket, store.prefix) == ("audit-bucket", "")

    def test_memory_url(self) -> None:
        assert isinstance(open_store("memory://"), MemoryStore)

    def test_unknown_scheme(self) -> None:
        with pytest.raises(ValueError) as raised:
            open_store("xyz://somewhere")
        assert str(raised.value) == ("unknown store URL scheme 'xyz' in STORE_URL; use file://, s3:// or memory://")
