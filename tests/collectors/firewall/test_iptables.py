from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from collectors.firewall.iptables import parse_iptables_save, tokenize
from collectors.firewall.model import FirewallParseError


def _ipv4(recording: Callable[[str], Path], name: str = "iptables/host-a.rules"):
    return parse_iptables_save(recording(name).read_text(), "ipv4", "iptables/ipv4")


class TestTokenize:
    def test_quoted_comment_keeps_spaces_and_escaped_quotes(self) -> None:
        line = r'-A INPUT -m comment --comment "temp: RDP for vendor\'s \"remote\" session" -j ACCEPT'
        assert tokenize(line) == [
            "-A",
            "INPUT",
            "-m",
            "comment",
            "--comment",
            'temp: RDP for vendor\'s "remote" session',
            "-j",
            "ACCEPT",
        ]

    def test_unterminated_quote_is_an_error(self) -> None:
        with pytest.raises(FirewallParseError, match="unterminated quote"):
            tokenize('-A INPUT -m comment --comment "half')


class TestParseRecordedIpv4:
    def test_tables_chains_and_policies(self, recording: Callable[[str], Path]) -> None:
        ruleset = _ipv4(recording)
        policies = {(c.table, c.name): c.policy for c in ruleset.chains}
        assert policies == {
            ("filter", "INPUT"): "drop",
            ("filter", "FORWARD"): "drop",
            ("filter", "OUTPUT"): "accept",
            ("filter", "ADMIN_SSH"): "",
            ("nat", "PREROUTING"): "accept",
            ("nat", "INPUT"): "accept",
            ("nat", "OUTPUT"): "accept",
            ("nat", "POSTROUTING"): "accept",
        }
        assert len(ruleset.rules) == 25

    def test_comment_with_spaces_and_quotes(self, recording: Callable[[str], Path]) -> None:
        rdp = next(r for r in _ipv4(recording).rules if r.ports == ("3389",))
        assert rdp.comment == 'temp: RDP for vendor\'s "remote" session'
        assert (rdp.protocol, rdp.source, rdp.action, rdp.position) == (
            "tcp",
            ("0.0.0.0/0",),
            "accept",
            11,
        )

    def test_multiport_conntrack_and_interface(self, recording: Callable[[str], Path]) -> None:
        rules = {(r.chain, r.position): r for r in _ipv4(recording).rules if r.table == "filter"}
        assert rules[("INPUT", 6)].ports == ("80", "443")
        assert rules[("INPUT", 2)].states == ("RELATED", "ESTABLISHED")
        assert rules[("INPUT", 1)].in_interface == "lo"
        assert rules[("INPUT", 4)].conditions == ("-m icmp --icmp-type 8", "-m limit --limit 5/sec")
        assert rules[("FORWARD", 2)].out_interface == "eth0"

    def test_user_chain_inherits_direction_and_jump_is_named(self, recording: Callable[[str], Path]) -> None:
        ruleset = _ipv4(recording)
        ssh = next(r for r in ruleset.rules if r.chain == "INPUT" and r.ports == ("22",))
        assert ssh.action == "jump:ADMIN_SSH"
        admin = [r for r in ruleset.rules if r.chain == "ADMIN_SSH"]
        assert {r.direction for r in admin} == {"in"}
        assert [r.action for r in admin] == ["accept", "accept", "log", "drop"]
        assert admin[0].source == ("10.20.0.0/24",)
        assert admin[0].comment == 'ssh from admin network "mgmt"'

    def test_nat_targets(self, recording: Callable[[str], Path]) -> None:
        nat = [r for r in _ipv4(recording).rules if r.table == "nat"]
        assert [(r.chain, r.action, r.direction) for r in nat] == [
            ("PREROUTING", "dnat", "in"),
            ("POSTROUTING", "masquerade", "out"),
        ]


class TestParseRecordedIpv6:
    def test_ipv6_sources_and_world(self, recording: Callable[[str], Path]) -> None:
        ruleset = parse_iptables_save(recording("iptables/host-a.v6.rules").read_text(), "ipv6", "iptables/ipv6")
        by_port = {r.ports: r for r in ruleset.rules if r.ports}
        assert by_port[("22",)].source == ("2001:db8:20::/64",)
        assert by_port[("27017",)].source == ("::/0",)
        assert next(r for r in ruleset.rules if r.protocol == "ipv6-icmp").comment == "neighbour discovery and ping"
        assert {c.name: c.policy for c in ruleset.chains}["FORWARD"] == "accept"


class TestEdgeCases:
    def test_empty_output_is_an_empty_ruleset(self, recording: Callable[[str], Path]) -> None:
        ruleset = parse_iptables_save(recording("iptables/empty.rules").read_text(), "ipv4", "x")
        assert (ruleset.chains, ruleset.rules) == ([], [])

    def test_truncated_file_names_the_table_without_commit(self, recording: Callable[[str], Path]) -> None:
        with pytest.raises(
            FirewallParseError,
            match=r"truncated: table 'filter' has no COMMIT \(input ends at line 20\)",
        ):
            parse_iptables_save(recording("iptables/truncated.rules").read_text(), "ipv4", "x")

    def test_counters_prefix_and_negation(self) -> None:
        text = "*filter\n:INPUT ACCEPT [5:300]\n[3:180] -A INPUT ! -s 10.0.0.0/8 -p tcp ! --dport 22 -j DROP\nCOMMIT\n"
        (rule,) = parse_iptables_save(text, "ipv4", "x").rules
        assert (rule.source, rule.ports, rule.action) == (("!10.0.0.0/8",), ("!22",), "drop")

    def test_options_with_two_values_and_ipset_sources(self) -> None:
        text = (
            "*filter\n:INPUT DROP [0:0]\n"
            "-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m set --match-set admins src"
            " -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"
        )
        (rule,) = parse_iptables_save(text, "ipv4", "x").rules
        assert rule.conditions == ("--tcp-flags FIN,SYN,RST,ACK SYN",)
        assert (rule.source, rule.ports, rule.action) == (("ipset:admins",), ("22",), "accept")

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("-A INPUT -j ACCEPT\n", r"line 1: '-A INPUT -j ACCEPT' outside a table"),
            (
                "*filter\n:INPUT ACCEPT [0:0]\n-A OUTPUT -j ACCEPT\nCOMMIT\n",
                r"line 3: rule for chain 'OUTPUT'",
            ),
            (
                "*filter\n:INPUT ACCEPT [0:0]\nhello world\nCOMMIT\n",
                r"line 3: unexpected line 'hello world'",
            ),
            ("*filter\n:INPUT\nCOMMIT\n", r"line 2: malformed chain declaration"),
            ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j\nCOMMIT\n", r"line 3: -j without a value"),
            ("\x7fELF\x02\x01\x01\n", r"line 1: .* outside a table"),
        ],
    )
    def test_corrupt_input_says_where(self, text: str, message: str) -> None:
        with pytest.raises(FirewallParseError, match=message):
            parse_iptables_save(text, "ipv4", "x")
