from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from collectors.firewall.diff import diff_policies, diff_rules
from collectors.firewall.iptables import parse_iptables_save
from collectors.firewall.model import Chain, Rule


def _rules(recording: Callable[[str], Path], name: str) -> list[Rule]:
    return parse_iptables_save(recording(name).read_text(), "ipv4", "iptables/ipv4").rules


def _rule(position: int, **fields) -> Rule:
    return Rule(input="t", table="filter", chain="INPUT", position=position, direction="in", **fields)


class TestRecordedChange:
    def test_added_removed_and_changed_between_two_recordings(self, recording: Callable[[str], Path]) -> None:
        diff = diff_rules(
            _rules(recording, "iptables/host-a.previous.rules"),
            _rules(recording, "iptables/host-a.rules"),
        )
        assert [(r.chain, r.ports, r.comment) for r in diff.added] == [
            ("INPUT", ("3389",), 'temp: RDP for vendor\'s "remote" session'),
            ("INPUT", ("5432",), ""),
        ]
        assert [(r.chain, r.ports, r.comment) for r in diff.removed] == [("INPUT", ("8081",), "legacy status page")]
        (change,) = diff.changed
        assert change.fields == ("source",)
        assert (change.before.source, change.after.source) == (("10.20.0.0/16",), ("10.20.0.0/24",))
        assert change.after.chain == "ADMIN_SSH"

    def test_same_rules_give_an_empty_diff(self, recording: Callable[[str], Path]) -> None:
        rules = _rules(recording, "iptables/host-a.rules")
        assert diff_rules(rules, rules).is_empty


class TestPairing:
    def test_a_moved_rule_is_unchanged(self) -> None:
        a = _rule(1, protocol="tcp", ports=("80",), action="accept", comment="web")
        b = _rule(2, protocol="tcp", ports=("22",), action="accept", comment="ssh")
        assert diff_rules([a, b], [replace(b, position=1), replace(a, position=2)]).is_empty

    def test_new_verdict_for_the_same_match_is_a_change(self) -> None:
        before = _rule(1, protocol="tcp", ports=("23",), action="accept")
        diff = diff_rules([before], [replace(before, action="drop", comment="telnet closed")])
        assert [c.fields for c in diff.changed] == [("action", "comment")]
        assert not diff.added and not diff.removed

    def test_rules_in_other_chains_never_pair(self) -> None:
        before = _rule(1, protocol="tcp", ports=("22",), action="accept", comment="ssh")
        after = replace(before, chain="FORWARD")
        diff = diff_rules([before], [after])
        assert (diff.removed, diff.added, diff.changed) == ([before], [after], [])

    def test_when_the_chain_length_changed_position_pairs_nothing(self) -> None:
        before = _rule(1, protocol="tcp", ports=("22",), action="accept")
        after = _rule(1, protocol="tcp", ports=("2222",), action="accept")
        extra = _rule(2, protocol="tcp", ports=("443",), action="accept", comment="web")
        diff = diff_rules([before], [after, extra])
        assert (diff.removed, diff.added, diff.changed) == ([before], [after, extra], [])

    def test_same_position_in_a_chain_of_the_same_length_is_a_change_in_place(self) -> None:
        before = _rule(1, protocol="tcp", ports=("22",), action="accept")
        after = _rule(1, protocol="tcp", ports=("2222",), action="accept", comment="new")
        (change,) = diff_rules([before], [after]).changed
        assert (change.paired_by, change.fields) == ("position", ("ports", "comment"))

    def test_the_pairing_used_is_reported(self, recording: Callable[[str], Path]) -> None:
        diff = diff_rules(
            _rules(recording, "iptables/host-a.previous.rules"),
            _rules(recording, "iptables/host-a.rules"),
        )
        assert [c.paired_by for c in diff.changed] == ["comment"]
        assert diff.to_json()["changed"][0]["paired_by"] == "comment"


class TestReplacedInPlace:
    """iptables -R INPUT 3 with a new match and a new comment (recordings/docker)."""

    def test_one_changed_rule_with_before_and_after(self, recording: Callable[[str], Path]) -> None:
        diff = diff_rules(
            _rules(recording, "docker/docker-host.rules"),
            _rules(recording, "docker/docker-host.replaced.rules"),
        )
        assert (diff.added, diff.removed) == ([], [])
        (change,) = diff.changed
        assert change.paired_by == "position"
        assert change.fields == ("ports", "comment")
        assert (change.before.position, change.after.position) == (3, 3)
        assert (change.before.ports, change.after.ports) == (("22",), ("2222",))
        assert (change.before.comment, change.after.comment) == (
            "ssh from admin network",
            "ssh on the alternative port",
        )

    def test_an_insert_in_the_same_chain_is_not_paired_by_position(self, recording: Callable[[str], Path]) -> None:
        diff = diff_rules(
            _rules(recording, "docker/docker-host.replaced.rules"),
            _rules(recording, "docker/docker-host.open.rules"),
        )
        assert diff.changed == []
        assert [(r.chain, r.in_interface, r.position) for r in diff.added] == [
            ("INPUT", "eth0", 1),
            ("FORWARD", "eth0", 1),
        ]


def test_policy_changes() -> None:
    before = [
        Chain("t", "filter", "INPUT", policy="drop"),
        Chain("t", "filter", "OUTPUT", policy="accept"),
    ]
    after = [
        Chain("t", "filter", "INPUT", policy="accept"),
        Chain("t", "filter", "OUTPUT", policy="accept"),
    ]
    (change,) = diff_policies(before, after)
    assert (change.scope, change.before, change.after) == ("t:filter/INPUT", "drop", "accept")
