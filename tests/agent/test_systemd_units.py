"""The systemd service and timer shipped in deploy/systemd: systemd-analyze accepts them, and the
service's command line is one the agent understands."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from audit_portal.agent.cli import parser

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"


def unit(name: str) -> configparser.ConfigParser:
    parsed = configparser.ConfigParser(strict=False, interpolation=None, comment_prefixes=("#", ";"))
    parsed.optionxform = str  # type: ignore[assignment,method-assign]
    parsed.read_string((UNITS / name).read_text())
    return parsed


def test_the_service_runs_the_due_instances_and_pushes() -> None:
    service = unit("audit-portal-agent.service")["Service"]
    assert service["Type"] == "oneshot"
    argv = shlex.split(service["ExecStart"].replace("${AUDIT_PORTAL_URL}", "https://portal.example.com"))
    assert argv[0].endswith("/bin/audit-portal") and argv[1:3] == ["collect", "run"]
    args = parser().parse_args(argv[3:])
    assert args.due and args.push == "https://portal.example.com" and args.token is None  # token from the env file
    assert str(args.spool).startswith("/var/lib/" + service["StateDirectory"])
    assert str(args.config) == "/etc/audit-portal-agent/instances.yaml"
    assert service["EnvironmentFile"] == "/etc/audit-portal-agent/agent.env"
    example = (UNITS / "agent.env.example").read_text()
    assert "AUDIT_PORTAL_URL=" in example and "AUDIT_PORTAL_PUSH_TOKEN=" in example


def test_the_timer_starts_the_service() -> None:
    timer = unit("audit-portal-agent.timer")
    assert timer["Timer"]["OnUnitActiveSec"] and timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # the unit names the agent's path on a host; point it at this environment's command
    command = str(Path(sys.executable).parent / "audit-portal")
    text = (
        (UNITS / "audit-portal-agent.service").read_text().replace("/opt/audit-portal-agent/bin/audit-portal", command)
    )
    (tmp_path / "audit-portal-agent.service").write_text(text)
    shutil.copy(UNITS / "audit-portal-agent.timer", tmp_path)
    verified = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            str(tmp_path / "audit-portal-agent.service"),
            str(tmp_path / "audit-portal-agent.timer"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    problems = [line for line in verified.stderr.splitlines() if "audit-portal-agent" in line]
    assert verified.returncode == 0 and problems == [], verified.stderr
