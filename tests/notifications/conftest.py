"""The seeded organisation of tests/dashboard."""

from tests.dashboard.conftest import seeded, today  # noqa: F401
