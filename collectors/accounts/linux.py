"""Parsers for the Linux account inputs. Pure: text in, records out; anything incomplete or
foreign raises :class:`AccountsParseError` naming the line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta


class AccountsParseError(ValueError):
    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass
class LinuxAccount:
    login: str
    uid: int
    gid: int
    gecos: str
    shell: str
    groups: list[str] = field(default_factory=list)
    password: str = "unknown"  # "hash", "locked", "none", "empty", "unknown"
    password_changed: date | None = None
    expires: date | None = None
    last_login: datetime | None = None
    sudo: list[str] = field(default_factory=list)  # the sudoers lines that grant this account anything

    @property
    def interactive(self) -> bool:
        return not self.shell.endswith(("nologin", "/false", "/sync", "/shutdown", "/halt"))


def _fields(text: str, count: int, what: str) -> list[tuple[int, list[str]]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(":")
        if len(parts) != count:
            raise AccountsParseError(f"{what} line with {len(parts)} fields, expected {count}: cut off?", number)
        rows.append((number, parts))
    if not rows:
        raise AccountsParseError(f"empty {what}: every system has at least root")
    return rows


def parse_passwd(text: str) -> dict[str, LinuxAccount]:
    accounts = {}
    for number, (login, _pw, uid, gid, gecos, _home, shell) in _fields(text, 7, "passwd"):
        try:
            accounts[login] = LinuxAccount(login, int(uid), int(gid), gecos, shell)
        except ValueError:
            raise AccountsParseError(f"uid/gid of {login!r} is not a number", number) from None
    if "root" not in accounts:
        raise AccountsParseError("no root account: not a complete passwd database")
    return accounts


def parse_group(text: str) -> dict[str, tuple[int, list[str]]]:
    groups = {}
    for number, (name, _pw, gid, members) in _fields(text, 4, "group"):
        try:
            groups[name] = (int(gid), [m for m in members.split(",") if m])
        except ValueError:
            raise AccountsParseError(f"gid of {name!r} is not a number", number) from None
    return groups


def _day(value: str) -> date | None:
    return date(1970, 1, 1) + timedelta(days=int(value)) if value.strip() else None


def parse_shadow(text: str) -> dict[str, tuple[str, date | None, date | None]]:
    """login -> (password kind, last change, account expiry). The hash itself is not kept."""
    entries = {}
    for number, parts in _fields(text, 9, "shadow"):
        login, password, changed, *_rest = parts
        expires = parts[7]
        if password in ("",):
            kind = "empty"
        elif password.startswith("!") or password.startswith("*"):
            kind = "locked" if len(password) > 1 and password not in ("!", "*", "!*") else "none"
        else:
            kind = "hash"
        try:
            entries[login] = (kind, _day(changed), _day(expires))
        except ValueError:
            raise AccountsParseError(f"dates of {login!r} are not day numbers", number) from None
    return entries


def redact_shadow(text: str) -> str:
    """The shadow file with every password hash replaced by ``<hash>``, for the raw evidence."""
    lines = []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) == 9 and parts[1] and parts[1][0] not in "!*<":
            parts[1] = "<hash>"
        elif len(parts) == 9 and parts[1].startswith("!") and len(parts[1]) > 2:
            parts[1] = "!<hash>"
        lines.append(":".join(parts))
    return "\n".join(lines) + "\n"


_LASTLOG_HEADER = re.compile(r"^Username\s+Port\s+(From\s+)?Latest\s*$")


def parse_lastlog(text: str) -> dict[str, datetime | None]:
    """``lastlog`` with LC_ALL=C: a header, then one line per account ending in the time of the
    last login (``Tue Dec  1 08:13:39 +0000 2026``) or ``**Never logged in**``."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not _LASTLOG_HEADER.match(lines[0]):
        raise AccountsParseError("no 'Username Port From Latest' header: not lastlog output, or empty", 1)
    result: dict[str, datetime | None] = {}
    for number, line in enumerate(lines[1:], start=2):
        login = line.split()[0]
        if line.rstrip().endswith("**Never logged in**"):
            result[login] = None
            continue
        match = re.search(r"(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d [+-]\d{4} \d{4})\s*$", line)
        if match is None:
            raise AccountsParseError(f"no login time at the end of {line[:60]!r}", number)
        result[login] = datetime.strptime(" ".join(match[1].split()), "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
    return result


@dataclass(frozen=True)
class SudoRule:
    who: str  # a login or %group
    line: str
    full: bool  # may run every command as root


def parse_sudoers(text: str) -> list[SudoRule]:
    rules = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if raw.startswith("# file:"):
            continue
        if not line or line.startswith(
            ("Defaults", "@include", "#include", "User_Alias", "Cmnd_Alias", "Host_Alias", "Runas_Alias")
        ):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or "=" not in parts[1]:
            continue
        who, rest = parts
        if "=" not in rest:
            continue
        commands = rest.split("=", 1)[1]
        commands = re.sub(r"^\s*\([^)]*\)\s*", "", commands)
        commands = re.sub(r"^(NOPASSWD|PASSWD|SETENV|NOEXEC):\s*", "", commands.strip())
        rules.append(SudoRule(who.strip(), line, commands.strip() == "ALL"))
    return rules


def parse_sshd_t(text: str) -> dict[str, str]:
    """``sshd -T``: one ``keyword value`` per line, keywords in lower case. It always prints
    every keyword; output without permitrootlogin and passwordauthentication is incomplete."""
    settings = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            settings[key.lower()] = value.strip()
    for required in ("permitrootlogin", "passwordauthentication", "pubkeyauthentication"):
        if required not in settings:
            raise AccountsParseError(f"no '{required}' line: not complete 'sshd -T' output")
    return settings
