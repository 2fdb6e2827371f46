"""A 200 MiB upload through the HTTP API into S3Store on moto's S3 server: streamed end to end,
the stored SHA-256 equal to the file's."""

from __future__ import annotations

import hashlib
import json
import random
import tracemalloc
from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import Session

from audit_portal.auth import tokens
from audit_portal.principals import Actor
from evidence_store import ObjectStore, key_for
from tests.evidence.conftest import BOUNDARY, COLLECTOR_INSTANCE, LiveServer

MiB = 1024 * 1024
SIZE = 200 * MiB


@pytest.fixture
def store(make_s3_store) -> ObjectStore:  # type: ignore[no-untyped-def]
    """This module's app stores into S3 (moto) instead of memory."""
    return make_s3_store()


class DeterministicBody:
    """The multipart body, generated piece by piece (never held whole), hashing the file part."""

    def __init__(self, size: int, seed: int = 27001) -> None:
        self.size = size
        self.file_digest = hashlib.sha256()
        rng = random.Random(seed)
        self._blocks = [rng.randbytes(MiB) for _ in range(3)]

    def __iter__(self) -> Iterator[bytes]:
        meta = {"title": "Full backup image", "collector_instance": COLLECTOR_INSTANCE}
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
            f"{json.dumps(meta)}\r\n--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="backup.img"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        sent = 0
        index = 0
        while sent < self.size:
            block = self._blocks[index % 3][: self.size - sent]
            # The block index in front keeps every MiB distinct without generating 200 MiB of randomness.
            piece = index.to_bytes(8, "big") + block[8:]
            self.file_digest.update(piece)
            sent += len(piece)
            index += 1
            yield piece
        yield f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.mark.slow
def test_200_mib_upload_streams_into_s3_with_the_right_digest(app, session: Session, store, catalogue):
    issued = tokens.create(session, name="nas", scopes=[COLLECTOR_INSTANCE], days=1, actor=Actor.system("test"))
    session.commit()
    body = DeterministicBody(SIZE)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=600) as http:
        # Server and client share this process (moto runs in its own), so the traced peak
        # bounds what the upload path held at once: a few parts, never the file.
        tracemalloc.start()
        try:
            response = http.post(
                "/api/v1/evidence",
                content=iter(body),
                headers={
                    "Authorization": f"Bearer {issued.secret}",
                    "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                },
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.status_code == 201, response.text
    assert peak < 64 * MiB, f"the upload held {peak / MiB:.0f} MiB at once"
    expected = body.file_digest.hexdigest()
    item = response.json()
    assert item["size"] == SIZE
    assert item["sha256"] == expected
    info = store.stat(key_for(expected))
    assert info.size == SIZE and info.sha256 == expected
    head = store.client.head_object(Bucket=store.bucket, Key=store.prefix + key_for(expected), ChecksumMode="ENABLED")
    assert head["Metadata"]["sha256"] == expected
