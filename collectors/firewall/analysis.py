"""Findings from normalised rules. Pure: rules in, :class:`FindingDraft` values out.

Finding keys name the input, the chain and what the rule matches, never its position, so a
rule that moves up or down keeps its finding open instead of closing and reopening it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from collectors.base import FindingDraft, Severity
from collectors.firewall.directions import is_inbound
from collectors.firewall.model import (
    ANY,
    TERMINAL_ACTIONS,
    Chain,
    InternalSide,
    ParsedInput,
    Rule,
    subnet_of,
)

WORLD_ADDRESSES = frozenset({ANY, "0.0.0.0/0", "::/0"})

ADMIN_PORTS = {
    22: "ssh",
    23: "telnet",
    3389: "rdp",
    5900: "vnc",
    5985: "winrm-http",
    5986: "winrm-https",
}
DATABASE_PORTS = {1433: "mssql", 3306: "mysql", 5432: "postgresql", 6379: "redis", 27017: "mongodb"}
EXPOSED_PORTS = {**ADMIN_PORTS, **DATABASE_PORTS}

# Protocols that carry ports: a rule for one of these without a port match opens every port.
PORT_PROTOCOLS = frozenset({ANY, "tcp", "udp", "sctp"})
RETURN_STATES = frozenset({"ESTABLISHED", "RELATED"})
DEFAULT_INTERNAL = InternalSide()
FULL_PORT_RANGES = {(0, 65535), (1, 65535)}


# --- what a rule matches -------------------------------------------------------------------


def is_world(address: str) -> bool:
    """True for "anywhere", and for a negated address: "all but X" is the internet too."""
    return address in WORLD_ADDRESSES or address.startswith("!")


def world_source(rule: Rule) -> str | None:
    return next((address for address in rule.source if is_world(address)), None)


def port_range(text: str) -> tuple[int, int] | None:
    low, _, high = text.partition("-")
    if not low.isdigit() or not (high or low).isdigit():
        return None
    return int(low), int(high or low)


def restricts_ports(ports: Sequence[str]) -> bool:
    for text in ports:
        if text.startswith("!"):
            return True
        bounds = port_range(text)
        if bounds is None or bounds not in FULL_PORT_RANGES:
            return True
    return False


def opens_port(rule: Rule, port: int) -> bool:
    positive = [port_range(p) for p in rule.ports if not p.startswith("!")]
    negative = [port_range(p[1:]) for p in rule.ports if p.startswith("!")]
    if positive and not any(r and r[0] <= port <= r[1] for r in positive):
        return False
    return not any(r and r[0] <= port <= r[1] for r in negative)


def protocols(rule: Rule) -> set[str]:
    if rule.protocol == ANY or rule.protocol.startswith("!"):
        return {ANY}
    return set(rule.protocol.split(","))


def carries_tcp(rule: Rule) -> bool:
    return bool(protocols(rule) & {ANY, "tcp"})


def is_return_traffic(rule: Rule) -> bool:
    return bool(rule.states) and set(rule.states) <= RETURN_STATES


def admits_from_anywhere(rule: Rule, internal: InternalSide = DEFAULT_INTERNAL) -> bool:
    """An inbound accept for new connections from any address, entering on an interface that
    is not internal (loopback, a container or VM bridge): traffic coming out of docker0 or
    virbr0 has the containers' or VMs' addresses as its source, not the internet."""
    return (
        rule.action == "accept"
        and is_inbound(rule.direction)
        and world_source(rule) is not None
        and not internal.is_internal_interface(rule.in_interface)
        and not is_return_traffic(rule)
    )


def accepts_everything_from_anywhere(rule: Rule, internal: InternalSide = DEFAULT_INTERNAL) -> bool:
    """Like :func:`admits_from_anywhere`, for a rule that also does not limit where the
    traffic goes: one that only forwards towards an internal bridge or network (Docker's
    ``-o docker0``, flannel's ``-d 10.244.0.0/16``) lets the outside reach the containers
    the way those tools intend, not everything on the host."""
    return (
        admits_from_anywhere(rule, internal)
        and not internal.is_internal_interface(rule.out_interface)
        and not internal.is_internal_network(rule.destination)
    )


def match_key(rule: Rule) -> str:
    """What the rule matches, compactly; part of finding keys."""
    ports = ",".join(rule.ports) if rule.ports else "all"
    key = f"{rule.protocol}/{ports}:{','.join(rule.source)}"
    if rule.destination != (ANY,) and not all(d in WORLD_ADDRESSES for d in rule.destination):
        key += f">{','.join(rule.destination)}"
    return key + interfaces_key(rule)


def interfaces_key(rule: Rule) -> str:
    """``@in`` and ``>out`` interfaces, so two rules differing only by interface never share
    a finding key."""
    key = f"@{rule.in_interface}" if rule.in_interface else ""
    if rule.out_interface:
        key += f"@>{rule.out_interface}"
    return key


def _anywhere(source: str | None) -> str:
    return "anywhere" if source in (None, ANY) else source


def _describe(rule: Rule) -> str:
    comment = f' (comment: "{rule.comment}")' if rule.comment else " (no comment)"
    return f"rule #{rule.position}: {rule.text}{comment}"


# --- findings --------------------------------------------------------------------------------


def accept_all_findings(
    rules: Iterable[Rule], internal: Mapping[str, InternalSide] | None = None
) -> list[FindingDraft]:
    findings = []
    for rule in rules:
        side = (internal or {}).get(rule.input, DEFAULT_INTERNAL)
        if not accepts_everything_from_anywhere(rule, side) or restricts_ports(rule.ports) or rule.conditions:
            continue
        if not protocols(rule) & PORT_PROTOCOLS:
            continue
        source = world_source(rule)
        traffic = "all traffic" if rule.protocol == ANY else f"all {rule.protocol} ports"
        findings.append(
            FindingDraft(
                key=f"accept-all:{rule.scope}:{match_key(rule)}",
                title=f"{traffic} accepted from {_anywhere(source)} in {rule.scope}",
                severity=Severity.critical,
                detail=f"{_describe(rule)} accepts {traffic} from anywhere.",
                subject=rule.scope,
            )
        )
    return findings


def exposed_port_findings(
    rules: Iterable[Rule], internal: Mapping[str, InternalSide] | None = None
) -> list[FindingDraft]:
    findings = []
    for rule in rules:
        side = (internal or {}).get(rule.input, DEFAULT_INTERNAL)
        if not admits_from_anywhere(rule, side) or not restricts_ports(rule.ports) or not carries_tcp(rule):
            continue
        source = world_source(rule)
        for port, service in EXPOSED_PORTS.items():
            if not opens_port(rule, port):
                continue
            kind = "database" if port in DATABASE_PORTS else "administrative"
            findings.append(
                FindingDraft(
                    key=f"admin-port-open:{rule.scope}:tcp/{port}:{source}{interfaces_key(rule)}",
                    title=f"{kind} port tcp/{port} ({service}) open to {_anywhere(source)} in {rule.scope}",
                    severity=Severity.high,
                    detail=f"{_describe(rule)} lets anyone reach {service} (tcp/{port}).",
                    subject=rule.scope,
                )
            )
    return findings


def policy_findings(chains: Iterable[Chain], rules: Sequence[Rule]) -> list[FindingDraft]:
    findings = []
    for chain in chains:
        if chain.kind != "filter" or chain.hook not in ("input", "forward") or chain.policy != "accept":
            continue
        scope = chain.scope
        last = next((r for r in reversed(rules) if r.scope == scope), None)
        closed = last is not None and is_catch_all_block(last)
        detail = (
            f"The chain's last rule ({last.text}) drops everything the rules before it did not accept, "
            "so the policy only matters if that rule is removed."
            if closed and last is not None
            else "Packets no rule matches are accepted: the chain allows by default instead of denying."
        )
        findings.append(
            FindingDraft(
                key=f"policy-accept:{scope}",
                title=f"{chain.name} policy is ACCEPT in {chain.input} {chain.table}",
                severity=Severity.low if closed else Severity.high,
                detail=detail,
                subject=scope,
            )
        )
    return findings


def is_catch_all_block(rule: Rule) -> bool:
    return (
        rule.action in ("drop", "reject")
        and all(is_world(a) and not a.startswith("!") for a in rule.source)
        and rule.protocol == ANY
        and not rule.ports
        and not rule.in_interface
        and not rule.states
        and not rule.conditions
    )


def no_comment_findings(inputs: Iterable[ParsedInput]) -> list[FindingDraft]:
    """One finding per input listing its uncommented rules: a finding per rule would bury
    the real problems under dozens of info items."""
    findings = []
    for parsed in inputs:
        bare = [
            r
            for r in parsed.ruleset.rules
            if r.action in TERMINAL_ACTIONS and not r.comment.strip() and not is_aws_default_egress(r, parsed.kind)
        ]
        if not bare:
            continue
        listing = "\n".join(f"{r.scope} {_describe(r)}" for r in bare)
        findings.append(
            FindingDraft(
                key=f"no-comment:{parsed.label}",
                title=f"{len(bare)} rule(s) without a comment in {parsed.label}",
                severity=Severity.info,
                detail=f"Every rule should say why it exists, so a reviewer can judge it:\n{listing}",
                subject=parsed.label,
            )
        )
    return findings


def is_aws_default_egress(rule: Rule, kind: str) -> bool:
    """AWS gives every group an allow-all egress rule without a description; it is the
    platform's default, not a decision someone forgot to document."""
    return (
        kind == "aws"
        and rule.direction == "out"
        and rule.protocol == ANY
        and all(d in ("0.0.0.0/0", "::/0") for d in rule.destination)
    )


def empty_ruleset_findings(inputs: Iterable[ParsedInput]) -> list[FindingDraft]:
    findings = []
    for parsed in inputs:
        if parsed.kind == "aws" or parsed.ruleset.chains:
            continue
        findings.append(
            FindingDraft(
                key=f"empty-ruleset:{parsed.label}",
                title=f"no firewall rules loaded ({parsed.label})",
                severity=Severity.high,
                detail=f"{parsed.origin} returned no tables: unless another firewall filters this traffic, "
                "everything is accepted.",
                subject=parsed.label,
            )
        )
    return findings


def redundancy_findings(rules: Sequence[Rule], chains: Iterable[Chain]) -> list[FindingDraft]:
    ordered = {(c.input, c.table, c.name): c.kind != "security-group" for c in chains}
    by_scope: dict[str, list[Rule]] = {}
    for rule in rules:
        by_scope.setdefault(rule.scope, []).append(rule)
    findings = []
    for scope_rules in by_scope.values():
        first = scope_rules[0]
        first_match_wins = ordered.get((first.input, first.table, first.chain), True)
        for index, rule in enumerate(scope_rules):
            finding = _redundancy(rule, scope_rules, index, first_match_wins)
            if finding is not None:
                findings.append(finding)
    return findings


def _redundancy(rule: Rule, scope_rules: Sequence[Rule], index: int, first_match_wins: bool) -> FindingDraft | None:
    """A rule an earlier one already decides (iptables, nftables), or in an unordered set of
    allow rules (security groups) a rule another one already contains."""
    candidates = scope_rules[:index] if first_match_wins else [r for r in scope_rules if r is not rule]
    for earlier in candidates:
        if earlier.action not in TERMINAL_ACTIONS or not covers(earlier, rule):
            continue
        identical = earlier.match_fields() == rule.match_fields()
        if identical and not first_match_wins and earlier.position > rule.position:
            continue  # of two identical security-group rules, report the second only
        if identical and earlier.action == rule.action:
            kind, what = "duplicate-rule", f"duplicates rule #{earlier.position}"
        elif identical or earlier.action != rule.action:
            kind, what = (
                "shadowed-rule",
                f"is never reached: rule #{earlier.position} ({earlier.action}) matches all its packets first",
            )
        elif first_match_wins:
            kind, what = (
                "shadowed-rule",
                f"is never reached: rule #{earlier.position} already {earlier.action}s all its packets",
            )
        else:
            kind, what = (
                "shadowed-rule",
                f"adds nothing: rule #{earlier.position} already allows all its traffic",
            )
        return FindingDraft(
            key=f"{kind}:{rule.scope}:{match_key(rule)}",
            title=f"{'duplicate' if kind == 'duplicate-rule' else 'shadowed'} rule in {rule.scope}: {match_key(rule)}",
            severity=Severity.low,
            detail=f"{_describe(rule)} {what}: {earlier.text}.",
            subject=rule.scope,
        )
    return None


def covers(wide: Rule, narrow: Rule) -> bool:
    """True when every packet ``narrow`` matches is also matched by ``wide``."""
    return (
        _protocol_covers(wide, narrow)
        and _addresses_cover(wide.source, narrow.source)
        and _addresses_cover(wide.destination, narrow.destination)
        and _ports_cover(wide.ports, narrow.ports)
        and _ports_cover(wide.source_ports, narrow.source_ports)
        and wide.in_interface in ("", narrow.in_interface)
        and wide.out_interface in ("", narrow.out_interface)
        and (not wide.states or (bool(narrow.states) and set(narrow.states) <= set(wide.states)))
        and set(wide.conditions) <= set(narrow.conditions)
    )


def _protocol_covers(wide: Rule, narrow: Rule) -> bool:
    if wide.protocol == ANY:
        return True
    return wide.protocol == narrow.protocol or (
        ANY not in protocols(narrow) and protocols(narrow) <= protocols(wide) and not wide.protocol.startswith("!")
    )


def _addresses_cover(wide: Sequence[str], narrow: Sequence[str]) -> bool:
    return all(any(_address_covers(w, n) for w in wide) for n in narrow)


def _address_covers(wide: str, narrow: str) -> bool:
    """0.0.0.0/0 covers IPv4 only and ::/0 IPv6 only; "any" covers both."""
    if wide in (ANY, narrow):
        return True
    try:
        wide_net = ipaddress.ip_network(wide, strict=False)
        narrow_net = ipaddress.ip_network(narrow, strict=False)
    except ValueError:
        return False  # negations, ranges, set names and group ids only cover themselves
    return subnet_of(narrow_net, wide_net)


def _ports_cover(wide: Sequence[str], narrow: Sequence[str]) -> bool:
    if not restricts_ports(wide):
        return True
    if not restricts_ports(narrow):
        return False
    if any(p.startswith("!") for p in (*wide, *narrow)):
        return sorted(wide) == sorted(narrow)
    wide_ranges = [port_range(p) for p in wide]
    for text in narrow:
        bounds = port_range(text)
        if bounds is None or not any(w and w[0] <= bounds[0] and bounds[1] <= w[1] for w in wide_ranges):
            return False
    return True


def find_all(inputs: Sequence[ParsedInput]) -> list[FindingDraft]:
    """Every finding for a run, one per key, most severe first."""
    rules = [rule for parsed in inputs for rule in parsed.ruleset.rules]
    chains = [chain for parsed in inputs for chain in parsed.ruleset.chains]
    internal = {parsed.label: parsed.internal for parsed in inputs}
    found = [
        *empty_ruleset_findings(inputs),
        *accept_all_findings(rules, internal),
        *exposed_port_findings(rules, internal),
        *policy_findings(chains, rules),
        *redundancy_findings(rules, chains),
        *no_comment_findings(inputs),
    ]
    unique: dict[str, FindingDraft] = {}
    for finding in found:
        unique.setdefault(finding.key, finding)
    return sorted(unique.values(), key=lambda f: (-f.severity.rank, f.key))
