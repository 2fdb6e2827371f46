"""The normalised shape every firewall input is parsed into.

iptables, nftables and AWS security groups all end up as :class:`Chain` and :class:`Rule`
values, so analysis and diffing never need to know where a rule came from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ANY = "any"

# Actions that end the evaluation of a packet: a later rule in the same chain never sees
# a packet such a rule matched.
TERMINAL_ACTIONS = frozenset({"accept", "drop", "reject"})


class FirewallParseError(ValueError):
    """Input that is not what the named tool prints. The message says where and what."""


@dataclass(frozen=True)
class Rule:
    """One rule, as the packet filter evaluates it.

    Address and port lists are strings so the value round-trips through JSON unchanged:
    ``"any"`` means unrestricted, ``"!x"`` a negated match, ``"@name"`` an nftables set whose
    members could not be resolved, ``"ipset:name"`` an iptables ipset match, and port ranges
    are written ``"8000-8100"``. Empty ``ports`` means every port.
    """

    input: str
    table: str
    chain: str
    position: int
    direction: str
    protocol: str = ANY
    source: tuple[str, ...] = (ANY,)
    destination: tuple[str, ...] = (ANY,)
    ports: tuple[str, ...] = ()
    source_ports: tuple[str, ...] = ()
    in_interface: str = ""
    out_interface: str = ""
    states: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    action: str = ""
    comment: str = ""
    text: str = ""

    @property
    def scope(self) -> str:
        return f"{self.input}:{self.table}/{self.chain}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rule:
        values = {}
        for name in cls.__dataclass_fields__:
            if name not in data:
                continue
            value = data[name]
            values[name] = tuple(value) if isinstance(value, list) else value
        return cls(**values)

    def match_fields(self) -> dict[str, Any]:
        """What decides which packets the rule matches (neither the verdict nor the comment)."""
        return {
            "protocol": self.protocol,
            "source": self.source,
            "destination": self.destination,
            "ports": self.ports,
            "source_ports": self.source_ports,
            "in_interface": self.in_interface,
            "out_interface": self.out_interface,
            "states": self.states,
            "conditions": self.conditions,
        }

    def content_fields(self) -> dict[str, Any]:
        """Everything that makes the rule what it is, apart from where it sits in the chain."""
        return {**self.match_fields(), "action": self.action, "comment": self.comment}


@dataclass(frozen=True)
class Chain:
    """A chain (iptables, nftables) or one direction of a security group (AWS). ``policy`` is
    empty for chains without one (user chains, security groups); ``hook`` names the built-in
    entry point the chain is attached to, empty for user chains."""

    input: str
    table: str
    name: str
    policy: str = ""
    hook: str = ""
    kind: str = ""  # what the chain does: "filter", "nat", "security-group", ...
    direction: str = ""
    description: str = ""

    @property
    def scope(self) -> str:
        return f"{self.input}:{self.table}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chain:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


@dataclass
class Ruleset:
    """Everything one input held."""

    chains: list[Chain] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)


@dataclass
class ParsedInput:
    """One input after parsing: where it came from and what it held."""

    label: str  # unique within a run, e.g. "iptables/ipv4", "nftables", "aws/eu-west-1"
    kind: str  # "iptables", "nftables" or "aws"
    origin: str  # the file, command or region it was read from
    ruleset: Ruleset
