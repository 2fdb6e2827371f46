"""The export hands the transport chunks of at least 1 MiB, not the ZIP stream's small pieces,
without changing a byte of the archive or its announced length."""

from __future__ import annotations

from audit_portal.export.package import TransportChunks, archive_stream
from tests.export.conftest import make_package, seeded  # noqa: F401


def test_transport_chunks_are_large_and_the_archive_is_unchanged(session, settings, store, seeded):  # noqa: F811
    package = make_package(session, settings, seeded.engagement)
    pieces = list(archive_stream(package, store))
    assert sum(1 for piece in pieces if len(piece) < 1024) > 10  # what the transport used to get

    chunks = TransportChunks(archive_stream(package, store), min_size=4096)
    sent = list(chunks)
    assert len(chunks) == sum(len(chunk) for chunk in sent) == sum(len(piece) for piece in pieces)
    assert b"".join(sent) == b"".join(pieces)
    assert all(len(chunk) >= 4096 for chunk in sent[:-1])
    assert len(sent) < len(pieces)
