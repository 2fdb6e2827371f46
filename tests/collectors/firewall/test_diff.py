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
    return Rule(
        input="t", table="filter", chain="INPUT", position=position, direction="in", **fields
    )


class TestRecordedChange:
    def test_added_removed_and_changed_between_two_recordings(
        self, recording: Callable[[str], Path]
    ) -> None:
        diff = diff_rules(
            _rules(recording, "iptables/host-a.previous.rules"),
            _rules(recording, "iptables/host-a.rules"),
        )
        assert [(r.chain, r.ports, r.comment) for r in diff.added] == [
            ("INPUT", ("3389",), 'temp: RDP for vendor\'s "remote" session'),
            ("INPUT", ("5432",), ""),
        ]
        assert [(r.chain, r.ports, r.comment) for r in diff.removed] == [
            ("INPUT", ("8081",), "legacy status page")
        ]
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

    def test_uncommented_rules_with_different_matches_are_added_and_removed(self) -> None:
        before = _rule(1, protocol="tcp", ports=("22",), action="accept")
        after = _rule(1, protocol="tcp", ports=("2222",), action="accept")
        diff = diff_rules([before], [after])
        assert (diff.removed, diff.added) == ([before], [after])


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
