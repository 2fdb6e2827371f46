from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.base import CollectContext
from collectors.patches import PatchConfig

RECORDINGS = Path(__file__).resolve().parent.parent / "recordings"
APT = RECORDINGS / "apt"
WINDOWS = RECORDINGS / "windows"
# the recordings were made on 2026-11-28 around 10:53 UTC (see apt/versions.txt)
RECORDED_AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def recorded_config() -> dict[str, Any]:
    return {
        "hosts": [
            {
                "name": "deb1",
                "os": "debian",
                "apt_history": [str(APT / "history.log*")],
                "dpkg_log": [str(APT / "dpkg.log")],
                "unattended_upgrades_log": [str(APT / "unattended-upgrades.log")],
                "apt_list_upgradable": {"path": str(APT / "apt-list-upgradable.txt")},
                "apt_get_simulate": {"path": str(APT / "apt-get-s-upgrade.txt")},
            },
            {
                "name": "WEB01",
                "os": "windows",
                "hotfix_csv": {"path": str(WINDOWS / "get-hotfix.csv")},
            },
        ]
    }


@pytest.fixture
def make_context(tmp_path: Path) -> Callable[..., CollectContext]:
    def make(
        config: Mapping[str, Any],
        now: datetime = RECORDED_AT,
        previous: Mapping[str, Any] | None = None,
    ) -> CollectContext:
        workdir = tmp_path / f"work-{now:%Y%m%d%H%M%S}"
        workdir.mkdir(exist_ok=True)
        return CollectContext(
            instance_name="patches-test",
            config=PatchConfig.model_validate(config),
            now=now,
            workdir=workdir,
            log=logging.getLogger("tests.patches"),
            previous=previous,
        )

    return make
