"""The ``audit-portal`` command. ``audit-portal collect run ... --push URL`` is the host agent and
is dispatched before anything of the portal is imported, so a host that only runs collectors
needs none of the portal's packages (web framework, database driver, ...); every other command
is the portal's typer application."""
from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:2] == ["collect", "run"] and any(arg == "--push" or arg.startswith("--push=") for arg in argv[2:]):
        from audit_portal.agent.cli import main as agent_main

        raise SystemExit(agent_main(argv[2:]))
    from audit_portal.cli import app

    app()
