"""Parser for EC2 ``DescribeSecurityGroups`` results. Pure: JSON text in, :class:`Ruleset` out.

The text is ``{"SecurityGroups": [...]}`` with the groups of every page, as the collector
stores it in the raw artifact.
"""

from __future__ import annotations

import json
from typing import Any

from collectors.firewall.model import ANY, Chain, FirewallParseError, Rule, Ruleset

PROTOCOL_NUMBERS = {"-1": ANY, "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
ALL_PORTS = (0, 65535)


def parse_security_groups(text: str, input_label: str) -> Ruleset:
    """Turn every permission of every group into rules, one per peer (CIDR, group or prefix
    list), in two chains per group: ``<group id>/ingress`` and ``<group id>/egress``."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise FirewallParseError(
            f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno}); the file may be truncated"
        ) from None
    groups = document.get("SecurityGroups") if isinstance(document, dict) else None
    if not isinstance(groups, list):
        raise FirewallParseError("not a DescribeSecurityGroups result: no 'SecurityGroups' list")
    ruleset = Ruleset()
    for index, group in enumerate(groups):
        if not isinstance(group, dict) or "GroupId" not in group:
            raise FirewallParseError(f"security group {index} has no GroupId")
        _add_group(ruleset, group, input_label)
    return ruleset


def _add_group(ruleset: Ruleset, group: dict[str, Any], input_label: str) -> None:
    table = group.get("VpcId") or "ec2-classic"
    description = f"{group.get('GroupName', '')}: {group.get('Description', '')}".strip(": ")
    for key, suffix, direction in (
        ("IpPermissions", "ingress", "in"),
        ("IpPermissionsEgress", "egress", "out"),
    ):
        chain = f"{group['GroupId']}/{suffix}"
        ruleset.chains.append(
            Chain(
                input=input_label,
                table=table,
                name=chain,
                hook=suffix,
                kind="security-group",
                direction=direction,
                description=description,
            )
        )
        position = 0
        for permission in group.get(key, []):
            for peer, comment in _peers(permission):
                position += 1
                ruleset.rules.append(_rule(permission, peer, comment, input_label, table, chain, position, direction))


def _peers(permission: dict[str, Any]) -> list[tuple[str, str]]:
    peers = [(r["CidrIp"], r.get("Description", "")) for r in permission.get("IpRanges", [])]
    peers += [(r["CidrIpv6"], r.get("Description", "")) for r in permission.get("Ipv6Ranges", [])]
    peers += [(p["GroupId"], p.get("Description", "")) for p in permission.get("UserIdGroupPairs", [])]
    peers += [(p["PrefixListId"], p.get("Description", "")) for p in permission.get("PrefixListIds", [])]
    return peers


def _rule(
    permission: dict[str, Any],
    peer: str,
    comment: str,
    input_label: str,
    table: str,
    chain: str,
    position: int,
    direction: str,
) -> Rule:
    raw_protocol = str(permission.get("IpProtocol", "-1"))
    protocol = PROTOCOL_NUMBERS.get(raw_protocol, raw_protocol)
    ports, conditions = _ports(protocol, permission.get("FromPort"), permission.get("ToPort"))
    inbound = direction == "in"
    port_text = ",".join(ports) if ports else "all"
    return Rule(
        input=input_label,
        table=table,
        chain=chain,
        position=position,
        direction=direction,
        protocol=protocol,
        source=(peer,) if inbound else (ANY,),
        destination=(ANY,) if inbound else (peer,),
        ports=ports,
        conditions=conditions,
        action="accept",
        comment=comment,
        text=f"{'from' if inbound else 'to'} {peer} allow {protocol} {port_text}",
    )


def _ports(protocol: str, from_port: Any, to_port: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if protocol in ("icmp", "icmpv6"):
        if from_port in (None, -1):
            return (), ()
        code = "any" if to_port in (None, -1) else to_port
        return (), (f"{protocol} type {from_port} code {code}",)
    if from_port is None or to_port is None or (from_port, to_port) == ALL_PORTS or from_port == -1:
        return (), ()
    return ((str(from_port) if from_port == to_port else f"{from_port}-{to_port}"),), ()
