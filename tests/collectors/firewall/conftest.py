"""Fixtures for the firewall collector tests: recorded inputs and a collect context."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.base import CollectContext
from collectors.firewall import FirewallConfig

RECORDINGS = Path(__file__).parent.parent / "recordings"


@pytest.fixture
def recording() -> Callable[[str], Path]:
    def path(relative: str) -> Path:
        found = RECORDINGS / relative
        assert found.is_file(), f"missing recording {found}"
        return found

    return path


@pytest.fixture
def make_context(tmp_path: Path) -> Callable[..., CollectContext]:
    def make(
        config: dict[str, Any], previous: dict[str, Any] | None = None, now: datetime | None = None
    ) -> CollectContext:
        return CollectContext(
            instance_name="host-a",
            config=FirewallConfig.model_validate(config),
            now=now or datetime(2026, 11, 23, 6, 0, tzinfo=UTC),
            workdir=tmp_path,
            log=logging.getLogger("test.firewall"),
            previous=previous,
        )

    return make
