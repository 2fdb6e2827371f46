"""The normalised shape every firewall input is parsed into.

iptables, nftables and AWS security groups all end up as :class:`Chain` and :class:`Rule`
values, so analysis and diffing never need to know where a rule came from.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

ANY = "any"

# Actions that end the evaluation of a packet: a later rule in the same chain never sees
# a packet such a rule matched.
TERMINAL_ACTIONS = frozenset({"accept", "drop", "reject"})


def subnet_of(
    inner: ipaddress.IPv4Network | ipaddress.IPv6Network, outer: ipaddress.IPv4Network | ipaddress.IPv6Network
) -> bool:
    """Whether ``inner`` lies inside ``outer``; networks of different IP versions never do."""
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


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
        values: dict[str, Any] = {}
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


# Interfaces of container and VM bridges and overlays that Docker, libvirt, LXC/LXD, podman
# and the common Kubernetes CNI plugins create. ``+`` ends a prefix, as in iptables.
DEFAULT_INTERNAL_INTERFACES = (
    "lo",
    "docker0",
    "br-+",  # Docker user-defined networks
    "veth+",
    "virbr+",  # libvirt
    "vnet+",
    "lxcbr+",
    "lxdbr+",
    "podman+",
    "cni+",  # CNI bridge plugin (cni0), podman's cni-podman0
    "flannel+",
    "cali+",  # Calico
    "vxlan.calico",
    "tunl0",
    "cilium_+",
    "lxc+",  # Cilium's per-endpoint interfaces
    "weave",
    "kube-bridge",
)
# Default address ranges of the same tools' internal networks: Docker's docker0, flannel's and
# k3s' pod networks, podman's and libvirt's default networks.
DEFAULT_INTERNAL_NETWORKS = (
    "172.17.0.0/16",
    "10.244.0.0/16",
    "10.42.0.0/16",
    "10.88.0.0/16",
    "192.168.122.0/24",
)


@dataclass(frozen=True)
class InternalSide:
    """What counts as inside the host: traffic entering from one of these interfaces, or only
    leaving towards one (or towards one of these networks), is not traffic "from anywhere"."""

    interfaces: tuple[str, ...] = DEFAULT_INTERNAL_INTERFACES
    networks: tuple[str, ...] = DEFAULT_INTERNAL_NETWORKS

    def is_internal_interface(self, name: str) -> bool:
        """True when ``name`` (an iptables ``-i``/``-o`` value or an nft name or set of names)
        only ever matches internal interfaces. A negation ("!docker0": every interface but
        docker0) or no interface at all never does."""
        if not name or name.startswith("!"):
            return False
        return all(self._listed(part.strip().strip('"')) for part in name.split(","))

    def _listed(self, name: str) -> bool:
        for pattern in self.interfaces:
            if pattern.endswith(("+", "*")):
                if name.rstrip("+*").startswith(pattern[:-1]):
                    return True
            elif name == pattern:
                return True
        return False

    def is_internal_network(self, addresses: tuple[str, ...]) -> bool:
        """True when every address is inside one of the internal networks."""
        networks = [ipaddress.ip_network(n, strict=False) for n in self.networks]
        if not addresses or not networks:
            return False
        for address in addresses:
            try:
                network = ipaddress.ip_network(address, strict=False)
            except ValueError:
                return False  # "any", negations, ranges and set names are not inside
            if not any(subnet_of(network, inside) for inside in networks):
                return False
        return True


@dataclass
class ParsedInput:
    """One input after parsing: where it came from and what it held."""

    label: str  # unique within a run, e.g. "iptables/ipv4", "nftables", "aws/eu-west-1"
    kind: str  # "iptables", "nftables" or "aws"
    origin: str  # the file, command or region it was read from
    ruleset: Ruleset
    internal: InternalSide = field(default_factory=InternalSide)
