from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from collectors.base import Severity
from collectors.firewall.analysis import covers, find_all
from collectors.firewall.aws import parse_security_groups
from collectors.firewall.iptables import parse_iptables_save
from collectors.firewall.model import Chain, ParsedInput, Rule, Ruleset
from collectors.firewall.nftables import parse_nft_json


def _host_a(recording: Callable[[str], Path]) -> list[ParsedInput]:
    return [
        ParsedInput(
            "iptables/ipv4",
            "iptables",
            "f",
            parse_iptables_save(recording("iptables/host-a.rules").read_text(), "ipv4", "iptables/ipv4"),
        ),
        ParsedInput(
            "iptables/ipv6",
            "iptables",
            "f",
            parse_iptables_save(recording("iptables/host-a.v6.rules").read_text(), "ipv6", "iptables/ipv6"),
        ),
    ]


def _rule(position: int, **fields) -> Rule:
    defaults = {
        "input": "t",
        "table": "filter",
        "chain": "INPUT",
        "direction": "in",
        "source": ("0.0.0.0/0",),
        "destination": ("0.0.0.0/0",),
    }
    return Rule(position=position, **{**defaults, **fields})


def _one_chain(*rules: Rule, policy: str = "drop", kind: str = "filter") -> list[ParsedInput]:
    chain = Chain(
        input="t",
        table="filter",
        name="INPUT",
        policy=policy,
        hook="input",
        kind=kind,
        direction="in",
    )
    return [ParsedInput("t", "iptables", "f", Ruleset(chains=[chain], rules=list(rules)))]


class TestRecordedHost:
    def test_findings_of_host_a(self, recording: Callable[[str], Path]) -> None:
        found = {f.key: f.severity for f in find_all(_host_a(recording))}
        assert found == {
            "accept-all:iptables/ipv6:filter/INPUT:any/all:::/0@eth0": Severity.critical,
            "admin-port-open:iptables/ipv4:filter/INPUT:tcp/3389:0.0.0.0/0": Severity.high,
            "admin-port-open:iptables/ipv4:filter/INPUT:tcp/5432:0.0.0.0/0": Severity.high,
            "admin-port-open:iptables/ipv6:filter/INPUT:tcp/27017:::/0": Severity.high,
            "policy-accept:iptables/ipv6:filter/FORWARD": Severity.high,
            "shadowed-rule:iptables/ipv4:filter/INPUT:tcp/3306:10.30.0.64/26": Severity.low,
            "shadowed-rule:iptables/ipv4:filter/INPUT:tcp/80:0.0.0.0/0": Severity.low,
            "no-comment:iptables/ipv4": Severity.info,
            "no-comment:iptables/ipv6": Severity.info,
        }

    def test_most_severe_first_and_uncommented_rules_listed(self, recording: Callable[[str], Path]) -> None:
        findings = find_all(_host_a(recording))
        assert [f.severity.rank for f in findings] == sorted((f.severity.rank for f in findings), reverse=True)
        no_comment = next(f for f in findings if f.key == "no-comment:iptables/ipv4")
        assert no_comment.title == "5 rule(s) without a comment in iptables/ipv4"
        assert "-A INPUT -p tcp -m tcp --dport 5432 -j ACCEPT" in no_comment.detail
        assert "ADMIN_SSH" not in no_comment.detail  # the LOG rule is not a verdict

    def test_edge_firewall(self, recording: Callable[[str], Path]) -> None:
        parsed = ParsedInput(
            "nftables",
            "nftables",
            "f",
            parse_nft_json(recording("nftables/edge.json").read_text(), "nftables"),
        )
        found = {f.key: f.severity for f in find_all([parsed])}
        assert found == {
            "admin-port-open:nftables:inet/filter/input:tcp/23:any": Severity.high,
            "policy-accept:nftables:inet/filter/forward": Severity.high,
            "shadowed-rule:nftables:inet/filter/input:tcp/3306:10.30.0.0/24": Severity.low,
            "no-comment:nftables": Severity.info,
        }

    def test_security_groups(self, recording: Callable[[str], Path]) -> None:
        ruleset = parse_security_groups(recording("aws/describe_security_groups.json").read_text(), "aws/eu-west-1")
        findings = find_all([ParsedInput("aws/eu-west-1", "aws", "f", ruleset)])
        kinds = sorted((f.key.split(":")[0], f.severity, f.key.rsplit(":", 2)[-2]) for f in findings)
        assert kinds == [
            ("accept-all", Severity.critical, "any/all"),
            ("admin-port-open", Severity.high, "tcp/3389"),
            ("admin-port-open", Severity.high, "tcp/5432"),
            ("no-comment", Severity.info, "no-comment"),
            ("shadowed-rule", Severity.low, "tcp/22"),
        ]
        # the two https rules (0.0.0.0/0 and ::/0) are different families, neither contains the other
        assert not any("tcp/443" in f.key for f in findings)


class TestRules:
    def test_return_traffic_and_loopback_are_not_accept_all(self) -> None:
        parsed = _one_chain(
            _rule(1, in_interface="lo", action="accept", comment="c"),
            _rule(2, states=("ESTABLISHED", "RELATED"), action="accept", comment="c"),
        )
        assert find_all(parsed) == []

    def test_new_connections_from_anywhere_are_accept_all(self) -> None:
        (finding,) = find_all(_one_chain(_rule(1, states=("NEW",), protocol="tcp", action="accept", comment="c")))
        assert (finding.key, finding.severity) == (
            "accept-all:t:filter/INPUT:tcp/all:0.0.0.0/0",
            Severity.critical,
        )

    def test_negated_source_counts_as_anywhere(self) -> None:
        (finding,) = find_all(
            _one_chain(
                _rule(
                    1,
                    source=("!10.0.0.0/8",),
                    protocol="tcp",
                    ports=("22",),
                    action="accept",
                    comment="c",
                )
            )
        )
        assert finding.key == "admin-port-open:t:filter/INPUT:tcp/22:!10.0.0.0/8"

    def test_port_range_opens_every_admin_port_inside_it(self) -> None:
        findings = find_all(_one_chain(_rule(1, protocol="tcp", ports=("5900-5990",), action="accept", comment="c")))
        assert [f.key.rsplit(":", 2)[1] for f in findings] == ["tcp/5900", "tcp/5985", "tcp/5986"]

    def test_outbound_and_dropping_rules_are_not_exposure(self) -> None:
        parsed = _one_chain(
            _rule(1, protocol="tcp", ports=("22",), action="drop", comment="c"),
            _rule(2, protocol="tcp", ports=("3389",), action="accept", comment="c", direction="out"),
        )
        assert find_all(parsed) == []

    def test_policy_accept_is_high_unless_chain_ends_in_catch_all_drop(self) -> None:
        (open_policy,) = find_all(_one_chain(policy="accept"))
        assert (open_policy.key, open_policy.severity) == (
            "policy-accept:t:filter/INPUT",
            Severity.high,
        )
        (closed,) = find_all(_one_chain(_rule(1, action="drop", comment="everything else"), policy="accept"))
        assert closed.severity == Severity.low
        assert "drops everything" in closed.detail

    def test_policy_of_nat_chains_is_not_reported(self) -> None:
        assert find_all(_one_chain(policy="accept", kind="nat")) == []

    def test_duplicate_and_conflicting_rules(self) -> None:
        findings = find_all(
            _one_chain(
                _rule(
                    1,
                    source=("10.0.0.0/8",),
                    protocol="tcp",
                    ports=("443",),
                    action="accept",
                    comment="a",
                ),
                _rule(
                    2,
                    source=("10.0.0.0/8",),
                    protocol="tcp",
                    ports=("443",),
                    action="accept",
                    comment="b",
                ),
                _rule(
                    3,
                    source=("10.1.0.0/16",),
                    protocol="tcp",
                    ports=("443",),
                    action="drop",
                    comment="c",
                ),
                _rule(
                    4,
                    source=("10.0.0.0/8",),
                    protocol="udp",
                    ports=("443",),
                    action="drop",
                    comment="d",
                ),
            )
        )
        assert {f.key: f.severity for f in findings} == {
            "duplicate-rule:t:filter/INPUT:tcp/443:10.0.0.0/8": Severity.low,
            "shadowed-rule:t:filter/INPUT:tcp/443:10.1.0.0/16": Severity.low,
        }
        shadowed = next(f for f in findings if f.key.startswith("shadowed"))
        assert "rule #1 (accept) matches all its packets first" in shadowed.detail

    def test_empty_ruleset_is_high(self) -> None:
        (finding,) = find_all([ParsedInput("iptables/ipv6", "iptables", "ip6tables-save", Ruleset())])
        assert (finding.key, finding.severity) == ("empty-ruleset:iptables/ipv6", Severity.high)


class TestCovers:
    @pytest.mark.parametrize(
        ("wide", "narrow", "expected"),
        [
            ({"source": ("10.0.0.0/8",)}, {"source": ("10.1.2.0/24",)}, True),
            ({"source": ("10.1.2.0/24",)}, {"source": ("10.0.0.0/8",)}, False),
            ({"source": ("0.0.0.0/0",)}, {"source": ("::/0",)}, False),
            ({"source": ("any",)}, {"source": ("2001:db8::/32",)}, True),
            ({"ports": ("1-1024",)}, {"ports": ("22", "80")}, True),
            ({"ports": ("22",)}, {"ports": ()}, False),
            ({"states": ("NEW",)}, {"states": ()}, False),
            ({"in_interface": "eth0"}, {}, False),
            ({}, {"conditions": ("-m limit --limit 5/sec",)}, True),
            ({"conditions": ("-m limit --limit 5/sec",)}, {}, False),
            ({"protocol": "tcp"}, {"protocol": "any"}, False),
        ],
    )
    def test_containment(self, wide: dict, narrow: dict, expected: bool) -> None:
        assert covers(_rule(1, action="accept", **wide), _rule(2, action="accept", **narrow)) is expected
