"""The evidence fixtures (catalogue, a collector's push client) shared with tests/evidence."""

from tests.evidence.conftest import catalogue, push_client  # noqa: F401
