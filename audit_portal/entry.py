"""The ``audit-portal`` command. ``audit-portal collect run ... --push URL`` is the host agent and
is dispatched before anything of the portal is imported, so a host that only runs collectors
needs none of the portal's packages (web framework, database driver, ...); every other command
is the portal's typer application, available once ``audit-portal[portal]`` is installed."""

from __future__ import annotations

import sys


def _agent(argv: list[str]) -> None:
    from audit_portal.agent.cli import main as agent_main

    raise SystemExit(agent_main(argv))


def main() -> None:
    argv = sys.argv[1:]
    is_collect_run = argv[:2] == ["collect", "run"]
    if is_collect_run and any(arg == "--push" or arg.startswith("--push=") for arg in argv[2:]):
        _agent(argv[2:])
    try:
        from audit_portal.cli import app
    except ModuleNotFoundError as error:
        if is_collect_run:  # an agent-only install: its help and usage errors come from the agent
            _agent(argv[2:])
        print(
            f"audit-portal: the portal's packages are not installed ({error.name} is missing). This is an "
            "agent install: only `audit-portal collect run ... --push URL` works here; install "
            "'audit-portal[portal]' for the portal.",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    app()
