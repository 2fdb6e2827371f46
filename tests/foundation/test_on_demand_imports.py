"""A portal process imports what serving pages needs, and no more: a library that only some
requests use (the workbooks, an S3 store) is imported by the request that uses it. Each library
imported at start is resident memory of every portal process, for its whole life, and the
export's and the upload's memory bound (docs/performance.md) is measured on top of it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ON_DEMAND = ("openpyxl", "boto3", "botocore")
STARTUP = """
import sys
from pathlib import Path
from fastapi.testclient import TestClient
from audit_portal.app import create_app
from audit_portal.config import Settings

data = Path(sys.argv[1])
settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'portal.db'}", store_url=(data / "evidence").as_uri(),
                    scheduler_enabled=False, secret_key="on-demand-imports-test-secret-key-0123456789")
with TestClient(create_app(settings)) as client:
    assert client.get("/login").status_code == 200
print(" ".join(name for name in sys.argv[2:] if name in sys.modules))
"""


def imported_at_start(data_dir: Path, names: tuple[str, ...]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", STARTUP, str(data_dir), *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()


def test_a_started_portal_has_not_imported_the_on_demand_libraries(tmp_path: Path) -> None:
    assert imported_at_start(tmp_path, ON_DEMAND) == []


def test_the_check_sees_a_library_the_start_imports(tmp_path: Path) -> None:
    assert imported_at_start(tmp_path, ("jinja2", "a_library_nobody_imports")) == ["jinja2"]
