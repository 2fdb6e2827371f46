from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from collectors.firewall.aws import parse_security_groups
from collectors.firewall.model import FirewallParseError


def _groups(recording: Callable[[str], Path]):
    return parse_security_groups(recording("aws/describe_security_groups.json").read_text(), "aws/eu-west-1")


class TestParseRecordedGroups:
    def test_one_rule_per_peer_in_ingress_and_egress_chains(self, recording: Callable[[str], Path]) -> None:
        ruleset = _groups(recording)
        web = next(c for c in ruleset.chains if c.description == "web: web tier" and c.hook == "ingress")
        rules = [r for r in ruleset.rules if r.chain == web.name]
        assert [(r.protocol, r.ports, r.source, r.comment) for r in rules] == [
            ("tcp", ("443",), ("0.0.0.0/0",), "https from anywhere"),
            ("tcp", ("443",), ("::/0",), "https from anywhere"),
            ("tcp", ("80",), ("0.0.0.0/0",), "http redirect to https"),
            ("tcp", ("22",), ("10.20.0.0/24",), 'ssh from admin network "mgmt"'),
            ("tcp", ("22",), ("10.20.0.128/25",), ""),
        ]
        assert {r.direction for r in rules} == {"in"}

    def test_group_peer_all_protocols_and_egress(self, recording: Callable[[str], Path]) -> None:
        ruleset = _groups(recording)
        db = next(r for r in ruleset.rules if r.comment == "MySQL from the web tier")
        assert db.source[0].startswith("sg-")
        debug = next(r for r in ruleset.rules if r.comment == "debug: allow everything")
        assert (debug.protocol, debug.ports) == ("any", ())
        egress = [r for r in ruleset.rules if r.direction == "out"]
        assert egress and all(r.destination == ("0.0.0.0/0",) and r.source == ("any",) for r in egress)

    def test_group_description_keeps_quotes(self, recording: Callable[[str], Path]) -> None:
        descriptions = {c.description for c in _groups(recording).chains}
        assert 'vendor-rdp: RDP for the vendor\'s "remote" support' in descriptions


class TestEdgeCases:
    def test_no_groups(self) -> None:
        assert parse_security_groups('{"SecurityGroups": []}', "aws/x").rules == []

    def test_icmp_type_and_port_range(self) -> None:
        text = (
            '{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": ['
            '{"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},'
            '{"IpProtocol": "6", "FromPort": 8000, "ToPort": 8100, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]}]}'
        )
        icmp, tcp = parse_security_groups(text, "aws/x").rules
        assert (icmp.protocol, icmp.ports, icmp.conditions) == (
            "icmp",
            (),
            ("icmp type 8 code any",),
        )
        assert (tcp.protocol, tcp.ports, tcp.chain, tcp.table) == (
            "tcp",
            ("8000-8100",),
            "sg-1/ingress",
            "ec2-classic",
        )

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ('{"SecurityGroups": [{"GroupName": "x"', "not valid JSON"),
            ("[]", "no 'SecurityGroups' list"),
            ('{"SecurityGroups": [{"GroupName": "x"}]}', "security group 0 has no GroupId"),
        ],
    )
    def test_not_a_describe_result(self, text: str, message: str) -> None:
        with pytest.raises(FirewallParseError, match=message):
            parse_security_groups(text, "aws/x")
