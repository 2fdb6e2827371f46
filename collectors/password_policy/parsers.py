"""Pure parsers for the files and answers that hold password policies. Each returns the
effective settings of one system as a :class:`Settings`; anything that is not the expected
format raises :class:`ParseError` naming the line."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

UNTIL_UNLOCKED = 0  # lockout_minutes: locked until an administrator unlocks the account


class ParseError(ValueError):
    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass
class Settings:
    """Effective values; ``None`` means the system does not enforce the setting at all.
    ``sources`` says where each value came from, for the report."""

    min_length: int | None = None
    history: int | None = None
    lockout_threshold: int | None = None
    lockout_minutes: int | None = None
    max_age_days: int | None = None
    min_classes: int | None = None
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def set(self, name: str, value: int | None, source: str) -> None:
        setattr(self, name, value)
        self.sources[name] = source


def _key_values(text: str, separator: str | None) -> dict[str, tuple[str, int]]:
    values: dict[str, tuple[str, int]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if separator is None:
            parts = line.split(None, 1)
        else:
            key, found, value = line.partition(separator)
            parts = [key.strip(), value.strip()] if found else [line]
        if len(parts) == 1 and separator == "=":
            values[parts[0]] = ("", number)  # pwquality/faillock flags such as enforce_for_root
            continue
        if len(parts) != 2:
            raise ParseError(f"expected 'KEY VALUE', got {line[:60]!r}", number)
        values[parts[0]] = (parts[1], number)
    return values


def parse_login_defs(text: str) -> dict[str, tuple[str, int]]:
    if not text.strip():
        raise ParseError("empty login.defs: shadow-utils always installs one")
    return _key_values(text, None)


def parse_conf(text: str) -> dict[str, tuple[str, int]]:
    """pwquality.conf / faillock.conf: ``key = value`` or a bare flag; may be all comments."""
    return _key_values(text, "=")


@dataclass(frozen=True)
class PamLine:
    kind: str
    control: str
    module: str
    args: dict[str, str]
    line: int


_PAM_LINE = re.compile(
    r"^(?P<kind>-?(auth|account|password|session))\s+(?P<control>\[[^\]]*\]|\S+)\s+(?P<module>\S+)(?P<args>.*)$"
)


def parse_pam(text: str) -> list[PamLine]:
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("@include"):
            continue
        match = _PAM_LINE.match(line)
        if match is None:
            raise ParseError(f"not a PAM rule: {line[:60]!r}", number)
        args = {}
        for word in match["args"].split():
            key, _, value = word.partition("=")
            args[key] = value
        lines.append(
            PamLine(match["kind"].lstrip("-"), match["control"], match["module"].rsplit("/", 1)[-1], args, number)
        )
    if not lines:
        raise ParseError("no PAM rule at all: the file is empty or truncated")
    return lines


def _int(value: str, what: str, line: int) -> int:
    try:
        return int(value)
    except ValueError:
        raise ParseError(f"{what} is not a number: {value!r}", line) from None


def linux_settings(
    login_defs: str, pam_password: str, pam_auth: str, pwquality_conf: str, faillock_conf: str
) -> Settings:
    """The effective policy of a Linux host with PAM, as pam_pwquality(8), pam_pwhistory(8),
    pam_unix(8), pam_faillock(8) and login.defs(5) define their defaults and precedence."""
    settings = Settings()
    defs = parse_login_defs(login_defs)
    password_stack = [p for p in parse_pam(pam_password) if p.kind == "password"]
    auth_stack = [p for p in parse_pam(pam_auth) if p.kind == "auth"]
    if not any(p.module == "pam_unix.so" for p in password_stack):
        settings.notes.append("pam_unix is not in the password stack; another module sets passwords")

    quality = next((p for p in password_stack if p.module == "pam_pwquality.so"), None)
    unix = next((p for p in password_stack if p.module == "pam_unix.so"), None)
    if quality is not None:
        conf = parse_conf(pwquality_conf)
        minlen = int(quality.args.get("minlen") or conf.get("minlen", ("8", 0))[0] or 8)
        where = (
            "pam_pwquality minlen argument"
            if "minlen" in quality.args
            else ("pwquality.conf minlen" if "minlen" in conf else "pam_pwquality default (8)")
        )
        settings.set("min_length", minlen, where)
        minclass = int(quality.args.get("minclass") or conf.get("minclass", ("0", 0))[0] or 0)
        settings.set(
            "min_classes", minclass or None, "pam_pwquality minclass" if minclass else "pam_pwquality: no minclass"
        )
    elif unix is not None:
        minlen = _int(unix.args.get("minlen", "6"), "pam_unix minlen", unix.line)
        settings.set(
            "min_length",
            minlen,
            "pam_unix minlen" if "minlen" in unix.args else "pam_unix default (6); no pam_pwquality",
        )

    history = next((p for p in password_stack if p.module == "pam_pwhistory.so"), None)
    if history is not None:
        settings.set(
            "history", _int(history.args.get("remember", "10"), "remember", history.line), "pam_pwhistory remember"
        )
    elif unix is not None and "remember" in unix.args:
        settings.set("history", _int(unix.args["remember"], "remember", unix.line), "pam_unix remember")
    else:
        settings.set("history", None, "no pam_pwhistory, no pam_unix remember")

    faillock = [p for p in auth_stack if p.module == "pam_faillock.so"]
    if faillock:
        conf = parse_conf(faillock_conf)
        args = {k: v for p in faillock for k, v in p.args.items()}
        deny = _int(args.get("deny") or conf.get("deny", ("3", 0))[0], "deny", 0)
        unlock = _int(args.get("unlock_time") or conf.get("unlock_time", ("600", 0))[0], "unlock_time", 0)
        settings.set("lockout_threshold", deny or None, "pam_faillock deny")
        # unlock_time 0 keeps the account locked until an administrator unlocks it: written 0
        settings.set("lockout_minutes", unlock // 60 if unlock else UNTIL_UNLOCKED, "pam_faillock unlock_time")
    else:
        settings.set("lockout_threshold", None, "pam_faillock not in the auth stack")
        settings.set("lockout_minutes", None, "pam_faillock not in the auth stack")

    if "PASS_MAX_DAYS" in defs:
        value, line = defs["PASS_MAX_DAYS"]
        days = _int(value, "PASS_MAX_DAYS", line)
        settings.set(
            "max_age_days", None if days >= 99999 or days < 0 else days, "login.defs PASS_MAX_DAYS (new accounts)"
        )
    return settings


def aws_settings(text: str) -> Settings:
    """The JSON the collector stores for GetAccountPasswordPolicy: ``{"PasswordPolicy": {...}}``
    or ``{"PasswordPolicy": null}`` when the account has none (IAM's NoSuchEntity)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParseError(f"not valid JSON ({error.msg}); truncated?", error.lineno) from None
    if not isinstance(document, dict) or "PasswordPolicy" not in document:
        raise ParseError("not a GetAccountPasswordPolicy answer: no 'PasswordPolicy' key")
    policy: dict[str, Any] | None = document["PasswordPolicy"]
    settings = Settings()
    if policy is None:
        settings.set("min_length", 8, "no account password policy: IAM's default minimum (8)")
        settings.set("history", None, "no account password policy")
        settings.notes.append("The account has no password policy; IAM's defaults apply.")
    else:
        settings.set("min_length", int(policy.get("MinimumPasswordLength", 8)), "MinimumPasswordLength")
        reuse = policy.get("PasswordReusePrevention")
        settings.set("history", int(reuse) if reuse else None, "PasswordReusePrevention")
        classes = sum(
            bool(policy.get(k))
            for k in ("RequireSymbols", "RequireNumbers", "RequireUppercaseCharacters", "RequireLowercaseCharacters")
        )
        settings.set("min_classes", classes or None, "Require* flags")
        max_age = policy.get("MaxPasswordAge")
        settings.set("max_age_days", int(max_age) if max_age else None, "MaxPasswordAge")
    settings.notes.append("IAM has no lockout setting; console sign-in is throttled by AWS.")
    settings.sources["lockout_threshold"] = settings.sources["lockout_minutes"] = "not offered by IAM"
    return settings


_NET_ACCOUNTS = {
    "Minimum password length": "min_length",
    "Length of password history maintained": "history",
    "Lockout threshold": "lockout_threshold",
    "Lockout duration (minutes)": "lockout_minutes",
    "Maximum password age (days)": "max_age_days",
}


def windows_net_accounts(text: str) -> Settings:
    """``net accounts`` (English). Output without its closing success line was cut off or the
    command failed."""
    lines = [line.rstrip() for line in text.splitlines()]
    if not any(line == "The command completed successfully." for line in lines):
        raise ParseError(
            "no 'The command completed successfully.' line: net accounts failed or the output is truncated"
        )
    settings = Settings()
    seen = set()
    for number, line in enumerate(lines, start=1):
        label, found, value = line.partition(":")
        if not found or label.strip() not in _NET_ACCOUNTS:
            continue
        value = value.strip()
        name = _NET_ACCOUNTS[label.strip()]
        seen.add(name)
        if value in ("Never", "None", "Unlimited"):
            number_value = None
        else:
            number_value = _int(value, label.strip(), number)
        if name == "lockout_threshold" and number_value == 0:
            number_value = None
        settings.set(name, number_value, f"net accounts: {label.strip()}")
    missing = sorted(set(_NET_ACCOUNTS.values()) - seen)
    if missing:
        raise ParseError(f"net accounts output lacks {', '.join(missing)}")
    if settings.lockout_threshold is None:
        settings.set("lockout_minutes", None, "no lockout threshold")
    return settings


_SECEDIT = {
    "MinimumPasswordLength": "min_length",
    "PasswordHistorySize": "history",
    "LockoutBadCount": "lockout_threshold",
    "LockoutDuration": "lockout_minutes",
    "MaximumPasswordAge": "max_age_days",
}


def windows_secedit(text: str) -> Settings:
    """A ``secedit /export`` security template ([System Access] section)."""
    if "[Version]" not in text or 'signature="$CHICAGO$"' not in text:
        raise ParseError('no [Version] signature="$CHICAGO$": not a complete secedit export')
    settings = Settings()
    section = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lstrip("\ufeff")
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section != "System Access" or "=" not in line:
            continue
        key, _, value = (part.strip() for part in line.partition("="))
        if key in _SECEDIT:
            number_value: int | None = _int(value, key, number)
            if key in ("LockoutBadCount", "PasswordHistorySize") and number_value == 0:
                number_value = None
            if key == "MaximumPasswordAge" and number_value in (-1, 0):
                number_value = None
            settings.set(_SECEDIT[key], number_value, f"secedit {key}")
        if key == "PasswordComplexity":
            settings.set("min_classes", 3 if value == "1" else None, "secedit PasswordComplexity")
    if "min_length" not in settings.sources:
        raise ParseError("no [System Access] MinimumPasswordLength: was the export limited to another area?")
    if "lockout_threshold" not in settings.sources:
        settings.set("lockout_threshold", None, "secedit: no LockoutBadCount")
    if settings.lockout_threshold is None:
        settings.set("lockout_minutes", None, "no lockout threshold")
    return settings
