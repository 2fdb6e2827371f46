"""What changed since the previous run. Pure: two rule lists in, a :class:`RuleDiff` out.

Firewall rules carry no identity that survives a reload (positions shift, nft handles are
reassigned), so rules are paired by content, within the same input, table and chain:
1. identical rules are unchanged, wherever they moved;
2. left-over rules with the same non-empty comment are the same rule, changed;
3. left-over rules that match the same packets are the same rule with a new verdict or comment;
4. when the chain holds as many rules as before, left-over rules at the same position are the
   same rule changed in place (``iptables -R`` replaces match and comment at once);
5. whatever is still unpaired was added or removed.

Every change says which of steps 2-4 paired it (``paired_by``: ``comment``, ``match`` or
``position``), so a reviewer can judge a pairing by position for themselves.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from collectors.firewall.model import Chain, Rule

PAIRED_BY = {
    "comment": "same comment",
    "match": "same match",
    "position": "same chain and position, chain length unchanged",
}


@dataclass(frozen=True)
class RuleChange:
    before: Rule
    after: Rule
    fields: tuple[str, ...]
    paired_by: str = "match"  # a key of PAIRED_BY

    @property
    def pairing(self) -> str:
        return PAIRED_BY.get(self.paired_by, self.paired_by)

    def to_json(self) -> dict[str, Any]:
        return {
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "fields": list(self.fields),
            "paired_by": self.paired_by,
        }


@dataclass(frozen=True)
class PolicyChange:
    scope: str
    before: str
    after: str

    def to_json(self) -> dict[str, Any]:
        return {"scope": self.scope, "before": self.before, "after": self.after}


@dataclass
class RuleDiff:
    added: list[Rule] = field(default_factory=list)
    removed: list[Rule] = field(default_factory=list)
    changed: list[RuleChange] = field(default_factory=list)
    policy_changes: list[PolicyChange] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.policy_changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": [r.to_json() for r in self.added],
            "removed": [r.to_json() for r in self.removed],
            "changed": [c.to_json() for c in self.changed],
            "policy_changes": [p.to_json() for p in self.policy_changes],
        }


def _fingerprint(rule: Rule, fields: Callable[[Rule], Mapping[str, Any]]) -> str:
    return json.dumps(fields(rule), sort_keys=True, default=list)


def _comment(rule: Rule) -> Mapping[str, Any]:
    return {"comment": rule.comment}


def _pair(
    before: list[Rule],
    after: list[Rule],
    fields: Callable[[Rule], Mapping[str, Any]],
    skip_blank_comment: bool = False,
) -> list[tuple[Rule, Rule]]:
    """Pair rules with equal ``fields`` in order, removing the paired ones from both lists."""
    pairs = []
    for new in list(after):
        if skip_blank_comment and not new.comment.strip():
            continue
        wanted = _fingerprint(new, fields)
        old = next((r for r in before if _fingerprint(r, fields) == wanted), None)
        if old is not None:
            before.remove(old)
            after.remove(new)
            pairs.append((old, new))
    return pairs


def _changed_fields(before: Rule, after: Rule) -> tuple[str, ...]:
    old, new = before.content_fields(), after.content_fields()
    return tuple(name for name in old if old[name] != new[name])


def _position(rule: Rule) -> Mapping[str, Any]:
    return {"position": rule.position}


def diff_rules(previous: Sequence[Rule], current: Sequence[Rule]) -> RuleDiff:
    diff = RuleDiff()
    scopes = dict.fromkeys([r.scope for r in previous] + [r.scope for r in current])
    for scope in scopes:
        before = [r for r in previous if r.scope == scope]
        after = [r for r in current if r.scope == scope]
        same_length = len(before) == len(after)
        _pair(before, after, Rule.content_fields)
        pairs = [(old, new, "comment") for old, new in _pair(before, after, _comment, skip_blank_comment=True)]
        pairs += [(old, new, "match") for old, new in _pair(before, after, Rule.match_fields)]
        if same_length:
            pairs += [(old, new, "position") for old, new in _pair(before, after, _position)]
        diff.changed.extend(RuleChange(old, new, _changed_fields(old, new), paired_by) for old, new, paired_by in pairs)
        diff.removed.extend(before)
        diff.added.extend(after)
    return diff


def diff_policies(previous: Iterable[Chain], current: Iterable[Chain]) -> list[PolicyChange]:
    def scoped(chains: Iterable[Chain]) -> dict[str, str]:
        return {c.scope: c.policy for c in chains}

    old, new = scoped(previous), scoped(current)
    return [PolicyChange(scope, old[scope], new[scope]) for scope in new if scope in old and old[scope] != new[scope]]


def diff_runs(
    previous_rules: Sequence[Rule],
    previous_chains: Sequence[Chain],
    rules: Sequence[Rule],
    chains: Sequence[Chain],
) -> RuleDiff:
    diff = diff_rules(previous_rules, rules)
    diff.policy_changes = diff_policies(previous_chains, chains)
    return diff
