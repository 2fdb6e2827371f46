"""Which way traffic flows through a chain, worked out from the chains that jump to it."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet

HOOK_DIRECTIONS = {
    "prerouting": "in",
    "input": "in",
    "ingress": "in",
    "forward": "forward",
    "output": "out",
    "postrouting": "out",
    "egress": "out",
}

UNREFERENCED = "unreferenced"


def resolve_directions(
    base_directions: Mapping[str, str],
    jumps: Mapping[str, AbstractSet[str]],
    chains: AbstractSet[str],
) -> dict[str, str]:
    """Give every chain the directions of the base chains it is reachable from.

    A user chain reached from INPUT and FORWARD gets ``"forward,in"``; one no base chain
    reaches is ``"unreferenced"``: its rules never see a packet.
    """
    reached: dict[str, set[str]] = {name: set() for name in chains}
    for base, direction in base_directions.items():
        pending = [base]
        seen: set[str] = set()
        while pending:
            chain = pending.pop()
            if chain in seen:
                continue
            seen.add(chain)
            reached.setdefault(chain, set()).add(direction)
            pending.extend(jumps.get(chain, ()))
    return {name: ",".join(sorted(found)) if found else UNREFERENCED for name, found in reached.items()}


def is_inbound(direction: str) -> bool:
    return any(part in ("in", "forward") for part in direction.split(","))
