from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from collectors.firewall.model import FirewallParseError
from collectors.firewall.nftables import parse_nft_json


def _edge(recording: Callable[[str], Path]):
    return parse_nft_json(recording("nftables/edge.json").read_text(), "nftables")


class TestParseRecordedEdge:
    def test_chains_hooks_types_and_policies(self, recording: Callable[[str], Path]) -> None:
        chains = {(c.table, c.name): (c.kind, c.hook, c.policy, c.direction) for c in _edge(recording).chains}
        assert chains == {
            ("inet/filter", "input"): ("filter", "input", "drop", "in"),
            ("inet/filter", "app_ports"): ("", "", "", "in"),
            ("inet/filter", "forward"): ("filter", "forward", "accept", "forward"),
            ("inet/filter", "output"): ("filter", "output", "accept", "out"),
            ("ip/nat", "postrouting"): ("nat", "postrouting", "accept", "out"),
        }

    def test_named_sets_are_resolved(self, recording: Callable[[str], Path]) -> None:
        rules = {r.comment: r for r in _edge(recording).rules if r.comment}
        ssh = rules["ssh from the admin networks"]
        assert (ssh.source, ssh.protocol, ssh.ports, ssh.action) == (
            ("10.20.0.0/24", "192.0.2.10"),
            "tcp",
            ("22",),
            "accept",
        )
        assert ssh.text == 'ip saddr @admin_v4 tcp dport 22 counter accept comment "ssh from the admin networks"'
        assert rules["ssh from the admin networks (v6)"].source == ("2001:db8:20::/64",)
        assert rules["web: http and https"].ports == ("80", "443")

    def test_comment_states_interfaces_and_anonymous_sets(self, recording: Callable[[str], Path]) -> None:
        rules = {r.comment: r for r in _edge(recording).rules if r.comment}
        assert "legacy telnet for the switch console 'sw-core-1'" in rules
        assert rules["return traffic"].states == ("ESTABLISHED", "RELATED")
        assert rules["loopback"].in_interface == "lo"
        assert rules["icmp and neighbour discovery"].protocol == "icmp,ipv6-icmp"
        assert rules["databases from the app subnet"].ports == ("3306", "5432")
        dmz = rules["to the DMZ web server"]
        assert (dmz.in_interface, dmz.out_interface, dmz.destination) == (
            "wan0",
            "dmz0",
            ("198.51.100.10",),
        )

    def test_ranges_jumps_and_log_then_drop(self, recording: Callable[[str], Path]) -> None:
        input_rules = [r for r in _edge(recording).rules if r.chain == "input"]
        assert (input_rules[-2].ports, input_rules[-2].action) == (("8000-8100",), "jump:app_ports")
        assert input_rules[-1].action == "drop"
        assert [r.position for r in input_rules] == list(range(1, 14))


class TestEdgeCases:
    def test_metainfo_only_is_an_empty_ruleset(self, recording: Callable[[str], Path]) -> None:
        ruleset = parse_nft_json(recording("nftables/empty.json").read_text(), "nftables")
        assert (ruleset.chains, ruleset.rules) == ([], [])

    def test_recorded_document_without_its_metainfo(self, recording: Callable[[str], Path]) -> None:
        # a document assembled from parts (or edited) is not what nft wrote: refuse it
        document = json.loads(recording("nftables/edge.json").read_text())
        document["nftables"] = document["nftables"][1:]
        with pytest.raises(FirewallParseError, match="object 0 is not nft's metainfo"):
            parse_nft_json(json.dumps(document), "nftables")

    def test_truncated_json(self, recording: Callable[[str], Path]) -> None:
        with pytest.raises(
            FirewallParseError,
            match=r"not valid JSON .* line 1 column \d+\); the file may be truncated",
        ):
            parse_nft_json(recording("nftables/truncated.json").read_text(), "nftables")

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("", "empty input"),
            ('{"rules": []}', "no top-level 'nftables' list"),
            (
                '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": []}}]}',
                "undeclared chain inet/t/c",
            ),
            (
                (
                    '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"chain": {"family": "inet", "table": "t", "name": "c"}}, '
                    '{"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 4}}]}'
                ),
                "handle 4 has no expression list",
            ),
            (
                '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, "metainfo"]}',
                "object 1 is not a single-key nftables object",
            ),
            ('{"nftables": ["metainfo"]}', "object 0 is not nft's metainfo"),
            ('{"nftables": []}', "object 0 is not nft's metainfo"),
            ('{"nftables": [{"metainfo": {"version": "1.0.6"}}]}', "no json_schema_version"),
        ],
    )
    def test_not_nft_output(self, text: str, message: str) -> None:
        with pytest.raises(FirewallParseError, match=message):
            parse_nft_json(text, "nftables")

    def test_negated_match_and_unknown_statement_are_kept(self) -> None:
        document = {
            "nftables": [
                {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
                {
                    "chain": {
                        "family": "ip",
                        "table": "f",
                        "name": "input",
                        "type": "filter",
                        "hook": "input",
                        "policy": "drop",
                    }
                },
                {
                    "rule": {
                        "family": "ip",
                        "table": "f",
                        "chain": "input",
                        "expr": [
                            {
                                "match": {
                                    "op": "!=",
                                    "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                                    "right": {"prefix": {"addr": "10.0.0.0", "len": 8}},
                                }
                            },
                            {"limit": {"rate": 10, "per": "second"}},
                            {"accept": None},
                        ],
                    }
                },
            ]
        }
        (rule,) = parse_nft_json(json.dumps(document), "n").rules
        assert rule.source == ("!10.0.0.0/8",)
        assert rule.conditions == ('limit {"per": "second", "rate": 10}',)
