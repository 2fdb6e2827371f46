"""``audit-portal collect run ... --push URL`` on a host: the agent's command line. Parsed with
argparse so that nothing of the portal (typer, rich, the database) is imported.

    audit-portal collect run --due --push https://portal.example.com --token T --config instances.yaml
    audit-portal collect run NAME --push URL --config instances.yaml      (token from AUDIT_PORTAL_PUSH_TOKEN)

Runs are spooled first (``--spool``, default /var/spool/audit-portal-agent), then everything in
the spool is delivered, oldest first. Exit codes: 0 all delivered (or nothing due), 1 a run
failed or a push was refused (the entry is kept under rejected/), 2 usage or configuration
error, 75 the portal could not be reached: the runs stay spooled for the next invocation."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TEMPFAIL = 75  # sysexits.h EX_TEMPFAIL: try again later
DEFAULT_SPOOL = "/var/spool/audit-portal-agent"
DEFAULT_STATE = "/var/lib/audit-portal-agent/state.json"


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="audit-portal collect run", description="Run collector instances here and push the results to the portal."
    )
    parse.add_argument("name", nargs="?", help="instance to run (or --due)")
    parse.add_argument("--due", action="store_true", help="run every instance of --config whose schedule is due")
    parse.add_argument("--push", required=True, metavar="URL", help="the portal's base URL")
    parse.add_argument("--token", help="service token (default: AUDIT_PORTAL_PUSH_TOKEN)")
    parse.add_argument("--config", required=True, type=Path, help="YAML file defining the instances")
    parse.add_argument("--spool", type=Path, default=Path(os.environ.get("AUDIT_PORTAL_AGENT_SPOOL", DEFAULT_SPOOL)))
    parse.add_argument("--state", type=Path, default=Path(os.environ.get("AUDIT_PORTAL_AGENT_STATE", DEFAULT_STATE)))
    return parse


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)  # before the imports below: --help and usage errors answer at once
    from audit_portal.agent import deliver, runs
    from audit_portal.agent.spool import Spool

    token = args.token or os.environ.get("AUDIT_PORTAL_PUSH_TOKEN", "")
    if (args.name is None) == (not args.due):
        print("give an instance NAME or --due (not both)", file=sys.stderr)
        return EXIT_USAGE
    if not token:
        print("--push needs --token (or AUDIT_PORTAL_PUSH_TOKEN)", file=sys.stderr)
        return EXIT_USAGE
    code = 0
    try:
        specs = runs.read_instances(args.config.read_text(encoding="utf-8"))
        spool = Spool(args.spool)
        state = runs.State(args.state)
        now = datetime.now(UTC)
        if args.due:
            chosen = runs.due(specs, state, now)
        else:
            chosen = [spec for spec in specs if spec.name == args.name]
            if not chosen:
                print(f"{args.config} defines no instance {args.name!r}", file=sys.stderr)
                return EXIT_USAGE
        for spec in chosen:
            entry = runs.run_to_spool(spec, spool, token=token, now=now)
            state.ran(spec.name, now)
            status = entry.manifest["status"]
            print(f"{spec.name}: ran ({status}), spooled as {entry.path.name}")
            if status != "ok":
                code = EXIT_FAILED
    except (runs.AgentError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:  # noqa: BLE001 - e.g. an unusable collector plugin
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_USAGE
    drained = deliver.drain(spool, args.push, token)
    for item in drained.delivered:
        print(f"{item.instance}: run {item.run_id} {item.status}, {item.uploaded} artifact(s) pushed to {args.push}")
    for reason in drained.rejected:
        print(f"refused, kept in {spool.root / 'rejected'}: {reason}", file=sys.stderr)
        code = EXIT_FAILED
    if drained.unreachable:
        print(f"{drained.waiting} run(s) stay spooled in {spool.root}: {drained.unreachable}", file=sys.stderr)
        return EXIT_TEMPFAIL
    return code


if __name__ == "__main__":
    raise SystemExit(main())
