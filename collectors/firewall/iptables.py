"""Parser for ``iptables-save`` / ``ip6tables-save`` output. Pure: text in, :class:`Ruleset` out."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from collectors.firewall.directions import HOOK_DIRECTIONS, resolve_directions
from collectors.firewall.model import ANY, Chain, FirewallParseError, Rule, Ruleset

Family = Literal["ipv4", "ipv6"]

WORLD = {"ipv4": "0.0.0.0/0", "ipv6": "::/0"}

BUILTIN_CHAINS = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}

VERDICTS = {"ACCEPT": "accept", "DROP": "drop", "REJECT": "reject", "RETURN": "return"}

# Modules whose options this parser turns into rule fields; anything they carry beyond
# those options is kept as a condition.
ABSORBED_MODULES = {"tcp", "udp", "sctp", "udplite", "multiport", "comment", "conntrack", "state"}

# Options that never take a value, so the token after them is the next option.
VALUELESS_OPTIONS = {
    "--syn",
    "-f",
    "--fragment",
    "--rsource",
    "--rdest",
    "--set",
    "--rcheck",
    "--update",
    "--remove",
    "--rttl",
    "--log-tcp-sequence",
    "--log-tcp-options",
    "--log-ip-options",
    "--log-uid",
    "--random",
    "--random-fully",
    "--persistent",
    "--physdev-is-in",
    "--physdev-is-out",
    "--physdev-is-bridged",
    "--return-nomatch",
    "--update-counters",
    "--update-subcounters",
}


def tokenize(line: str) -> list[str]:
    """Split a rule line the way iptables-restore does: whitespace separates words, double
    quotes group them, and a backslash takes the next character literally (iptables-save
    writes ``\\"``, ``\\'`` and ``\\\\`` inside quoted comments)."""
    words: list[str] = []
    current: list[str] = []
    in_word = in_quotes = False
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\" and index + 1 < len(line):
            current.append(line[index + 1])
            in_word = True
            index += 2
            continue
        if char == '"':
            in_quotes = not in_quotes
            in_word = True
        elif char.isspace() and not in_quotes:
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            current.append(char)
            in_word = True
        index += 1
    if in_quotes:
        raise FirewallParseError("unterminated quote")
    if in_word:
        words.append("".join(current))
    return words


def parse_ports(value: str, negated: bool) -> tuple[str, ...]:
    prefix = "!" if negated else ""
    return tuple(prefix + part.replace(":", "-") for part in value.split(",") if part)


@dataclass
class _RuleBuilder:
    """Collects the fields of one rule while its options are read left to right."""

    family: Family
    chain: str = ""
    protocol: str = ANY
    source: list[str] = field(default_factory=list)
    destination: list[str] = field(default_factory=list)
    ports: tuple[str, ...] = ()
    source_ports: tuple[str, ...] = ()
    in_interface: str = ""
    out_interface: str = ""
    states: tuple[str, ...] = ()
    comments: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    target: str = ""
    goto: bool = False

    def rule(self, input_label: str, table: str, position: int, text: str, user_chains: set[str]) -> Rule:
        return Rule(
            input=input_label,
            table=table,
            chain=self.chain,
            position=position,
            direction="",
            protocol=self.protocol,
            source=tuple(self.source) or (WORLD[self.family],),
            destination=tuple(self.destination) or (WORLD[self.family],),
            ports=self.ports,
            source_ports=self.source_ports,
            in_interface=self.in_interface,
            out_interface=self.out_interface,
            states=self.states,
            conditions=tuple(self.conditions),
            action=self._action(user_chains),
            comment="; ".join(self.comments),
            text=text,
        )

    def _action(self, user_chains: set[str]) -> str:
        if not self.target:
            return "none"
        if self.goto:
            return f"goto:{self.target}"
        if self.target in VERDICTS:
            return VERDICTS[self.target]
        if self.target in user_chains:
            return f"jump:{self.target}"
        return self.target.lower()


def _apply_option(builder: _RuleBuilder, option: str, value: str, negated: bool, group: list[str]) -> None:
    """Store one option; options the model has no field for go to the current condition."""
    shown = f"!{value}" if negated else value
    if option in ("-s", "--source"):
        builder.source.extend(f"!{part}" if negated else part for part in value.split(","))
    elif option in ("-d", "--destination"):
        builder.destination.extend(f"!{part}" if negated else part for part in value.split(","))
    elif option in ("-p", "--protocol"):
        builder.protocol = ANY if value == "all" else shown
    elif option in ("-i", "--in-interface"):
        builder.in_interface = shown
    elif option in ("-o", "--out-interface"):
        builder.out_interface = shown
    elif option in ("--dport", "--dports", "--destination-port", "--destination-ports"):
        builder.ports = parse_ports(value, negated)
    elif option in ("--sport", "--sports", "--source-port", "--source-ports"):
        builder.source_ports = parse_ports(value, negated)
    elif option in ("--ctstate", "--state"):
        builder.states = tuple(f"!{s}" if negated else s for s in value.split(","))
    elif option == "--comment":
        builder.comments.append(value)
    elif option == "--src-range":
        builder.source.append(f"!{value}" if negated else value)
    elif option == "--dst-range":
        builder.destination.append(f"!{value}" if negated else value)
    else:
        group.extend(["!", option] if negated else [option])
        if value:
            group.append(value)


def parse_rule_line(tokens: list[str], family: Family) -> _RuleBuilder:
    builder = _RuleBuilder(family=family)
    groups: list[list[str]] = []
    group: list[str] = []
    negated = False
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token == "!":
            negated = True
            continue
        if token in ("-A", "--append"):
            builder.chain = _value(tokens, index, token)
            index += 1
        elif token in ("-j", "--jump", "-g", "--goto"):
            builder.target = _value(tokens, index, token)
            builder.goto = token in ("-g", "--goto")
            # Target options (--reject-with, --log-prefix, --to-destination ...) follow the
            # target and say what it does, not which packets match; they stay in ``text``.
            break
        elif token in ("-m", "--match"):
            module = _value(tokens, index, token)
            index += 1
            group = [] if module in ABSORBED_MODULES else ["-m", module]
            groups.append(group)
        elif token == "--match-set":
            # ipset whitelists are how many hosts limit ssh; the set restricts the address
            # just like -s does, so it must not read as "from anywhere".
            name, flags = _value(tokens, index, token), _value(tokens, index + 1, token)
            index += 2
            side = builder.source if flags.split(",")[0] == "src" else builder.destination
            side.append(f"{'!' if negated else ''}ipset:{name}")
        elif token.startswith("-"):
            takes_value = (
                token not in VALUELESS_OPTIONS
                and index < len(tokens)
                and not tokens[index].startswith("-")
                and tokens[index] != "!"
            )
            value = tokens[index] if takes_value else ""
            index += 1 if takes_value else 0
            if not groups:
                group = []
                groups.append(group)
            _apply_option(builder, token, value, negated, group)
        elif groups:
            # An option's second value, as in ``--tcp-flags FIN,SYN,RST,ACK SYN``.
            group.append(token)
        else:
            raise FirewallParseError(f"unexpected word {token!r}")
        negated = False
    if not builder.chain:
        raise FirewallParseError("rule without -A CHAIN")
    builder.conditions = [" ".join(g) for g in groups if len(g) > 2 or (g and g[0] != "-m")]
    return builder


def _value(tokens: list[str], index: int, option: str) -> str:
    if index >= len(tokens):
        raise FirewallParseError(f"{option} without a value")
    return tokens[index]


@dataclass
class _Table:
    name: str
    chains: dict[str, str] = field(default_factory=dict)  # name -> policy ("" for user chains)
    lines: list[tuple[str, _RuleBuilder]] = field(default_factory=list)


def parse_iptables_save(text: str, family: Family, input_label: str) -> Ruleset:
    """Parse the output of ``iptables-save`` (``family="ipv4"``) or ``ip6tables-save``.

    Empty text is a valid ruleset with nothing in it (no table loaded). Anything else that is
    not iptables-save output, including a table cut off before its ``COMMIT``, raises
    :class:`FirewallParseError` naming the line.
    """
    tables: list[_Table] = []
    current: _Table | None = None
    line_number = 0
    for line_number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        try:
            current = _parse_line(line, current, tables, family)
        except FirewallParseError as error:
            raise FirewallParseError(f"line {line_number}: {error}") from None
    if current is not None:
        raise FirewallParseError(f"truncated: table {current.name!r} has no COMMIT (input ends at line {line_number})")
    return _build_ruleset(tables, input_label)


def _parse_line(line: str, current: _Table | None, tables: list[_Table], family: Family) -> _Table | None:
    if not line or line.startswith("#"):
        return current
    if line.startswith("*"):
        if current is not None:
            raise FirewallParseError(f"table {line[1:]!r} starts before table {current.name!r} was committed")
        return _Table(name=line[1:])
    if current is None:
        raise FirewallParseError(f"{line[:40]!r} outside a table (expected '*table')")
    if line == "COMMIT":
        tables.append(current)
        return None
    if line.startswith(":"):
        _declare_chain(line, current)
        return current
    if line.startswith("["):
        # ``iptables-save -c`` prefixes each rule with its [packets:bytes] counters.
        line = line.partition("]")[2].strip()
    if line.startswith(("-A ", "--append ")):
        builder = parse_rule_line(tokenize(line), family)
        if builder.chain not in current.chains:
            raise FirewallParseError(f"rule for chain {builder.chain!r} which table {current.name!r} does not declare")
        current.lines.append((line, builder))
        return current
    raise FirewallParseError(f"unexpected line {line[:60]!r}")


def _declare_chain(line: str, table: _Table) -> None:
    parts = line[1:].split()
    if len(parts) < 2:
        raise FirewallParseError(f"malformed chain declaration {line!r}")
    name, policy = parts[0], parts[1]
    table.chains[name] = "" if policy == "-" else policy.lower()


def _build_ruleset(tables: list[_Table], input_label: str) -> Ruleset:
    ruleset = Ruleset()
    for table in tables:
        user_chains = {name for name, policy in table.chains.items() if name not in BUILTIN_CHAINS}
        jumps: dict[str, set[str]] = {}
        for _, builder in table.lines:
            if builder.target in user_chains:
                jumps.setdefault(builder.chain, set()).add(builder.target)
        base = {name: HOOK_DIRECTIONS[name.lower()] for name in table.chains if name in BUILTIN_CHAINS}
        directions = resolve_directions(base, jumps, set(table.chains))
        for name, policy in table.chains.items():
            ruleset.chains.append(
                Chain(
                    input=input_label,
                    table=table.name,
                    name=name,
                    policy=policy,
                    hook=name.lower() if name in BUILTIN_CHAINS else "",
                    kind=table.name,
                    direction=directions[name],
                )
            )
        positions: dict[str, int] = {}
        for line, builder in table.lines:
            positions[builder.chain] = positions.get(builder.chain, 0) + 1
            rule = builder.rule(input_label, table.name, positions[builder.chain], line, user_chains)
            ruleset.rules.append(replace(rule, direction=directions[builder.chain]))
    return ruleset
