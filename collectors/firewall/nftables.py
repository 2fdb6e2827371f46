"""Parser for ``nft -j list ruleset`` output. Pure: text in, :class:`Ruleset` out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from collectors.firewall.directions import HOOK_DIRECTIONS, resolve_directions
from collectors.firewall.model import ANY, Chain, FirewallParseError, Rule, Ruleset

VERDICTS = ("accept", "drop", "reject", "return", "queue", "continue")
NAT_STATEMENTS = ("masquerade", "snat", "dnat", "redirect")
TRANSPORT_PROTOCOLS = ("tcp", "udp", "sctp", "dccp", "udplite", "th")
INTERFACE_KEYS = {"iif": "in", "iifname": "in", "oif": "out", "oifname": "out"}


def parse_nft_json(text: str, input_label: str) -> Ruleset:
    """Parse the JSON document ``nft -j list ruleset`` prints.

    A document holding only the ``metainfo`` object is an empty ruleset. Text that is not
    such a document, including one cut off part way, raises :class:`FirewallParseError`.
    """
    if not text.strip():
        raise FirewallParseError("empty input: 'nft -j list ruleset' always prints at least its metainfo")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise FirewallParseError(
            f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno}); the file may be truncated"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("nftables"), list):
        raise FirewallParseError("not nft JSON output: no top-level 'nftables' list")
    objects = document["nftables"]
    # nft writes its metainfo object first, always; a list without it was not written by
    # 'nft -j list ruleset' (or was assembled from parts), so its completeness is unknown.
    first = objects[0] if objects else None
    if not (isinstance(first, dict) and isinstance(first.get("metainfo"), dict)):
        raise FirewallParseError("object 0 is not nft's metainfo: 'nft -j list ruleset' always writes it first")
    if "json_schema_version" not in first["metainfo"]:
        raise FirewallParseError("the metainfo object has no json_schema_version")
    return _Document.read(objects).ruleset(input_label)


@dataclass
class _Document:
    chains: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # (family/table) -> chain objects
    rules: list[dict[str, Any]] = field(default_factory=list)
    sets: dict[tuple[str, str], list[Any]] = field(default_factory=dict)  # (family/table, name) -> elements

    @classmethod
    def read(cls, objects: list[Any]) -> _Document:
        document = cls()
        for index, item in enumerate(objects):
            if not isinstance(item, dict) or len(item) != 1:
                raise FirewallParseError(f"object {index} is not a single-key nftables object")
            kind, body = next(iter(item.items()))
            if kind in ("rule", "chain", "set", "map") and not isinstance(body, dict):
                raise FirewallParseError(f"object {index} ({kind}) has no attributes")
            if kind == "chain":
                document.chains.setdefault(_table_of(body), []).append(body)
            elif kind == "rule":
                document.rules.append(body)
            elif kind == "set":
                document.sets[(_table_of(body), body.get("name", ""))] = body.get("elem", [])
        return document

    def ruleset(self, input_label: str) -> Ruleset:
        ruleset = Ruleset()
        for table, chain_objects in self.chains.items():
            directions = self._directions(table, chain_objects)
            for body in chain_objects:
                ruleset.chains.append(
                    Chain(
                        input=input_label,
                        table=table,
                        name=body["name"],
                        policy=body.get("policy", ""),
                        hook=body.get("hook", ""),
                        kind=body.get("type", ""),
                        direction=directions[body["name"]],
                        description=body.get("comment", ""),
                    )
                )
        positions: dict[tuple[str, str], int] = {}
        declared = {(table, body["name"]) for table, bodies in self.chains.items() for body in bodies}
        for body in self.rules:
            table, chain = _table_of(body), body.get("chain", "")
            if (table, chain) not in declared:
                raise FirewallParseError(f"rule handle {body.get('handle')} is in undeclared chain {table}/{chain}")
            positions[(table, chain)] = positions.get((table, chain), 0) + 1
            direction = next(c.direction for c in ruleset.chains if c.table == table and c.name == chain)
            ruleset.rules.append(self._rule(body, input_label, table, positions[(table, chain)], direction))
        return ruleset

    def _directions(self, table: str, chain_objects: list[dict[str, Any]]) -> dict[str, str]:
        if any("name" not in body for body in chain_objects):
            raise FirewallParseError(f"a chain in table {table} has no name")
        base = {
            body["name"]: HOOK_DIRECTIONS.get(body["hook"], body["hook"]) for body in chain_objects if "hook" in body
        }
        jumps: dict[str, set[str]] = {}
        for body in self.rules:
            if _table_of(body) != table:
                continue
            for statement in body.get("expr", []):
                for verdict in ("jump", "goto"):
                    if isinstance(statement, dict) and verdict in statement:
                        jumps.setdefault(body.get("chain", ""), set()).add(statement[verdict]["target"])
        return resolve_directions(base, jumps, {body["name"] for body in chain_objects})

    def _rule(self, body: dict[str, Any], input_label: str, table: str, position: int, direction: str) -> Rule:
        expressions = body.get("expr")
        if not isinstance(expressions, list):
            raise FirewallParseError(f"rule handle {body.get('handle')} has no expression list")
        builder = _RuleBuilder(sets={name: elems for (t, name), elems in self.sets.items() if t == table})
        for statement in expressions:
            builder.add(statement)
        return Rule(
            input=input_label,
            table=table,
            chain=body["chain"],
            position=position,
            direction=direction,
            protocol=builder.protocol,
            source=tuple(builder.source) or (ANY,),
            destination=tuple(builder.destination) or (ANY,),
            ports=tuple(builder.ports),
            source_ports=tuple(builder.source_ports),
            in_interface=builder.in_interface,
            out_interface=builder.out_interface,
            states=tuple(builder.states),
            conditions=tuple(builder.conditions),
            action=builder.action or "none",
            comment=body.get("comment", ""),
            text=" ".join([*builder.text, *([f'comment "{body["comment"]}"'] if body.get("comment") else [])]),
        )


def _table_of(body: dict[str, Any]) -> str:
    return f"{body.get('family', '')}/{body.get('table', '')}"


@dataclass
class _RuleBuilder:
    sets: dict[str, list[Any]]
    protocol: str = ANY
    source: list[str] = field(default_factory=list)
    destination: list[str] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)
    source_ports: list[str] = field(default_factory=list)
    in_interface: str = ""
    out_interface: str = ""
    states: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    action: str = ""
    text: list[str] = field(default_factory=list)

    def add(self, statement: Any) -> None:
        if not isinstance(statement, dict) or len(statement) != 1:
            raise FirewallParseError(f"unexpected rule statement {statement!r}")
        kind, value = next(iter(statement.items()))
        if kind == "match":
            if not isinstance(value, dict):
                raise FirewallParseError(f"match without operands: {statement!r}")
            self._match(value)
        elif kind in VERDICTS or kind in NAT_STATEMENTS:
            self.action = kind
            self.text.append(kind)
        elif kind in ("jump", "goto"):
            self.action = f"{kind}:{value['target']}"
            self.text.append(f"{kind} {value['target']}")
        elif kind == "counter":
            self.text.append("counter")
        elif kind == "log":
            self.action = self.action or "log"
            prefix = value.get("prefix") if isinstance(value, dict) else None
            self.text.append(f'log prefix "{prefix}"' if prefix else "log")
        else:
            rendered = f"{kind} {json.dumps(value, sort_keys=True)}"
            self.conditions.append(rendered)
            self.text.append(rendered)

    def _match(self, match: dict[str, Any]) -> None:
        left, right, op = match.get("left"), match.get("right"), match.get("op", "==")
        negated = op == "!="
        values = [f"!{v}" if negated else v for v in self._values(right)]
        self.text.append(f"{_render_left(left)} {'' if op in ('==', 'in') else op + ' '}{_render_right(right)}")
        if not isinstance(left, dict):
            self.conditions.append(self.text[-1])
            return
        if "payload" in left:
            self._payload(left["payload"], values)
        elif "meta" in left and left["meta"].get("key") == "l4proto":
            self.protocol = ",".join(values)
        elif "meta" in left and left["meta"].get("key") in INTERFACE_KEYS:
            name = ",".join(values)
            if INTERFACE_KEYS[left["meta"]["key"]] == "in":
                self.in_interface = name
            else:
                self.out_interface = name
        elif "ct" in left and left["ct"].get("key") == "state":
            self.states = [v.upper() for v in values]
        else:
            self.conditions.append(self.text[-1])

    def _payload(self, payload: dict[str, Any], values: list[str]) -> None:
        protocol, field_name = payload.get("protocol", ""), payload.get("field", "")
        if protocol in ("ip", "ip6") and field_name == "saddr":
            self.source.extend(values)
        elif protocol in ("ip", "ip6") and field_name == "daddr":
            self.destination.extend(values)
        elif protocol in TRANSPORT_PROTOCOLS and field_name in ("dport", "sport"):
            if protocol != "th":
                self.protocol = protocol
            (self.ports if field_name == "dport" else self.source_ports).extend(values)
        else:
            self.conditions.append(self.text[-1])

    def _values(self, right: Any) -> list[str]:
        """The members a match compares against, named sets resolved to their elements."""
        if isinstance(right, str) and right.startswith("@"):
            if right[1:] not in self.sets:
                return [right]
            return [member for element in self.sets[right[1:]] for member in self._values(element)]
        if isinstance(right, dict) and "set" in right:
            return [member for element in right["set"] for member in self._values(element)]
        if isinstance(right, dict) and "elem" in right:
            return self._values(right["elem"].get("val"))
        if isinstance(right, list):
            return [member for element in right for member in self._values(element)]
        return [_render_value(right)]


def _render_value(value: Any) -> str:
    if isinstance(value, dict) and "prefix" in value:
        return f"{value['prefix']['addr']}/{value['prefix']['len']}"
    if isinstance(value, dict) and "range" in value:
        low, high = value["range"]
        return f"{_render_value(low)}-{_render_value(high)}"
    if isinstance(value, str | int):
        return str(value)
    return json.dumps(value, sort_keys=True)


def _render_right(right: Any) -> str:
    if isinstance(right, dict) and "set" in right:
        return "{ " + ", ".join(_render_value(v) for v in right["set"]) + " }"
    if isinstance(right, list):
        return ",".join(_render_value(v) for v in right)
    return _render_value(right)


def _render_left(left: Any) -> str:
    if isinstance(left, dict) and "payload" in left:
        return f"{left['payload'].get('protocol', '')} {left['payload'].get('field', '')}".strip()
    if isinstance(left, dict) and "meta" in left:
        key = left["meta"].get("key", "")
        return key if key in INTERFACE_KEYS else f"meta {key}"
    if isinstance(left, dict) and "ct" in left:
        return f"ct {left['ct'].get('key', '')}"
    return json.dumps(left, sort_keys=True)
