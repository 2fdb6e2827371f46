"""``audit-portal collectors import|list`` and ``audit-portal collect run``, run as real
processes against a database of their own; two of them at once show the job lease at work."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session, select

from audit_portal.collection.models import CollectorInstance, CollectorRun
from audit_portal.db import unit_of_work

REPO = Path(__file__).resolve().parents[2]
PROCESS_LIMIT = 120  # seconds a CLI process may take before the test gives up on it
SECRET_KEY = "cli-test-secret-key-that-is-long-enough-for-it"


@pytest.fixture
def cli_env(own_database: str, own_engine, plugin_path: Path, tmp_path: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from audit_portal.catalogue.service import load_catalogue

    with unit_of_work(own_engine) as session:
        load_catalogue(session)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AUDIT_PORTAL_")}
    env.update(
        {
            "AUDIT_PORTAL_DATABASE_URL": own_database,
            "AUDIT_PORTAL_DATA_DIR": str(tmp_path / "data"),
            "AUDIT_PORTAL_STORE_URL": (tmp_path / "evidence").as_uri(),
            "AUDIT_PORTAL_SECRET_KEY": SECRET_KEY,
            "AUDIT_PORTAL_ENVIRONMENT": "test",
            "AUDIT_PORTAL_COLLECTOR_PATH_ROOTS": str(tmp_path),
            "COLUMNS": "200",  # rich wraps tables to the terminal width
            "PYTHONPATH": os.pathsep.join([str(plugin_path), str(REPO)]),
        }
    )
    return env


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "audit_portal.cli", *args],
        env=env,
        cwd=env["AUDIT_PORTAL_DATA_DIR"].rsplit("/", 1)[0],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit_portal.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=PROCESS_LIMIT,
        cwd=env["AUDIT_PORTAL_DATA_DIR"].rsplit("/", 1)[0],
    )


def write_instances(tmp_path: Path, text: str) -> str:
    path = tmp_path / "instances.yaml"
    path.write_text(text)
    return str(path)


def test_import_list_and_run_one_instance(cli_env, tmp_path, own_engine):
    imported = cli(
        cli_env,
        "collectors",
        "import",
        write_instances(
            tmp_path,
            """
- name: tiny-cli
  collector: tiny
  schedule: "0 6 * * *"
  timeout_seconds: 60
  config: {items: [a], token: cli-secret-value}
""",
        ),
    )
    assert imported.returncode == 0, imported.stderr
    assert "imported 1 instance(s): tiny-cli" in imported.stdout
    ran = cli(cli_env, "collect", "run", "tiny-cli")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "tiny-cli: run 1 ok" in ran.stdout
    listed = cli(cli_env, "collectors", "list")
    assert "tiny-cli" in listed.stdout and "ok" in listed.stdout and "cli-secret-value" not in listed.stdout
    plugins = cli(cli_env, "collectors", "list", "--plugins")
    assert "tiny" in plugins.stdout and "audit-portal-test-plugin" in plugins.stdout


def test_a_bad_import_file_changes_nothing(cli_env, tmp_path, own_engine):
    result = cli(
        cli_env,
        "collectors",
        "import",
        write_instances(
            tmp_path,
            """
- {name: fine, collector: tiny}
- {name: broken, collector: tiny, config: {items: 7}}
""",
        ),
    )
    assert result.returncode == 1
    assert "config.items" in result.stderr
    assert cli(cli_env, "collectors", "list").stdout.count("fine") == 0


def test_run_due_runs_only_what_is_due_and_a_failed_run_exits_non_zero(cli_env, tmp_path, own_engine):
    cli(
        cli_env,
        "collectors",
        "import",
        write_instances(
            tmp_path,
            """
- {name: never-due, collector: tiny, schedule: "0 0 1 1 *"}
- {name: bad, collector: raising, schedule: "0 0 1 1 *"}
""",
        ),
    )
    assert "nothing is due" in cli(cli_env, "collect", "run", "--due").stdout
    failed = cli(cli_env, "collect", "run", "bad")
    assert failed.returncode == 1 and "bad: run 1 failed" in failed.stdout
    with Session(own_engine) as session:
        run = session.exec(select(CollectorRun)).one()
        assert "disk on fire" in run.error and run.next_retry_at is not None


def test_two_processes_one_run(cli_env, tmp_path, own_engine):
    """Two ``collect run`` processes at once: the job lease lets exactly one of them run."""
    release = tmp_path / "release"
    cli(
        cli_env,
        "collectors",
        "import",
        write_instances(
            tmp_path,
            f"""
- name: slow
  collector: waiting
  config: {{release_file: "{release}", wait_seconds: {PROCESS_LIMIT}}}
""",
        ),
    )
    processes = [start(cli_env, "collect", "run", "slow") for _ in range(2)]
    try:
        # The winner waits in collect() for the release file, holding the lease, so the other
        # one must give up; only then is the winner let go.
        deadline = time.monotonic() + PROCESS_LIMIT
        while all(p.poll() is None for p in processes):
            assert time.monotonic() < deadline, "neither process gave up on the held lease"
            time.sleep(0.1)
        loser = next(p for p in processes if p.poll() is not None)
        winner = next(p for p in processes if p is not loser)
        loser_output = loser.communicate()[0]
        assert loser.returncode == 3, loser_output
        assert "running elsewhere" in loser_output
        release.write_text("go")
        winner_output = winner.communicate(timeout=PROCESS_LIMIT)[0]
        assert winner.returncode == 0, winner_output
    finally:
        release.write_text("go")
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    with Session(own_engine) as session:
        runs = session.exec(select(CollectorRun)).all()
        assert [(r.instance_name, r.status) for r in runs] == [("slow", "ok")]


def test_import_confines_paths_to_the_roots_and_makes_instances_host_managed(cli_env, tmp_path, own_engine):
    data_dir = Path(cli_env["AUDIT_PORTAL_DATA_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "secret_key").write_text("not for collectors")
    release = tmp_path / "release"
    release.write_text("go")
    refused = cli(
        cli_env,
        "collectors",
        "import",
        write_instances(
            tmp_path,
            f"""
- name: sneaky
  collector: waiting
  config: {{release_file: "{data_dir / "secret_key"}"}}
""",
        ),
    )
    assert refused.returncode == 1
    assert "config.release_file" in refused.stderr and "portal's own files" in refused.stderr
    outside = cli(
        cli_env,
        "collectors",
        "import",
        write_instances(
            tmp_path,
            """
- {name: outside, collector: waiting, config: {release_file: /etc/hostname}}
""",
        ),
    )
    assert outside.returncode == 1 and "outside the folders" in outside.stderr
    imported = cli(
        cli_env,
        "collectors",
        "import",
        write_instances(
            tmp_path,
            f"""
- {{name: fine, collector: waiting, config: {{release_file: "{release}"}}}}
""",
        ),
    )
    assert imported.returncode == 0, imported.stderr
    with Session(own_engine) as session:
        instances = session.exec(select(CollectorInstance)).all()
        assert [(i.name, i.host_managed) for i in instances] == [("fine", True)]
