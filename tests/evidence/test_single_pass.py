"""An upload's bytes are read and hashed once on their way into the store: no second pass over
the staged file, no second digest."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from evidence_store import LocalStore, ObjectStore
from tests.evidence.conftest import metadata, push_body

SIZE = 3 * 1024 * 1024 + 17  # several store chunks and a ragged end


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return LocalStore(tmp_path / "evidence")


class _CountingHash:
    def __init__(self, real, counter: list[int]) -> None:  # type: ignore[no-untyped-def]
        self._real = real
        self._counter = counter

    def update(self, data: bytes) -> None:
        self._counter[0] += len(data)
        self._real.update(data)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._real, name)


def test_an_upload_is_hashed_once_while_it_streams_into_the_store(push_client, store, monkeypatch):
    content = bytes(range(256)) * (SIZE // 256) + b"x" * (SIZE % 256)
    body, headers = push_body(metadata(requirements=["PHY-3/backup"]), "backup.bin", content)
    hashed = [0]
    real_sha256 = hashlib.sha256
    monkeypatch.setattr(hashlib, "sha256", lambda *args, **kwargs: _CountingHash(real_sha256(*args, **kwargs), hashed))

    response = push_client.post("/api/v1/evidence", content=body, headers=headers)

    assert response.status_code == 201, response.text
    assert response.json()["sha256"] == real_sha256(content).hexdigest()
    # The file's bytes once, plus the small records every request hashes (the audit chain, the
    # token lookup): far less than a second pass over the file would add.
    assert SIZE <= hashed[0] < SIZE + 64 * 1024, f"{hashed[0]} bytes hashed for a {SIZE}-byte upload"


def test_the_store_reads_the_callers_stream_once(store):
    reads: list[int] = []

    class Source:
        def __init__(self) -> None:
            self._left = SIZE

        def read(self, size: int = -1) -> bytes:
            wanted = self._left if size < 0 else min(size, self._left)
            self._left -= wanted
            reads.append(wanted)
            return b"e" * wanted

    stored = store.put(Source())
    assert stored.size == SIZE
    assert sum(reads) == SIZE and reads[-1] == 0  # every byte once, then the end of the stream
