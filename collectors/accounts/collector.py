"""The accounts collector (ACC-2, ACC-3): the access list of each system with owners,
privileges and last log-ins, and the log-on settings, for a periodic access review that a
person signs off."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from collectors.accounts import aws, linux
from collectors.accounts.analysis import aws_access_list, linux_access_list
from collectors.accounts.config import AccountsConfig, AwsAccount, LinuxSystem
from collectors.artifacts import (
    finding_changes,
    findings_summary,
    most_severe_first,
    report_environment,
    severity_counts,
    standard_artifacts,
)
from collectors.base import CollectContext, CollectorError, CollectResult, FindingDraft

_templates = report_environment(Path(__file__).parent)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise CollectorError(f"{path}: cannot read ({error.strerror or error})") from error
    except UnicodeDecodeError as error:
        raise CollectorError(f"{path}: not UTF-8 text (byte {error.start})") from None


def _parse(path: Path | str, parse: Any, text: str) -> Any:
    try:
        return parse(text)
    except linux.AccountsParseError as error:
        raise CollectorError(f"{path}: {error}") from None


class AccountsCollector:
    name: ClassVar[str] = "accounts"
    version: ClassVar[str] = "1.0.0"
    Config: ClassVar[type[AccountsConfig]] = AccountsConfig
    default_schedule: ClassVar[str] = "0 6 1 * *"  # monthly; ACC-2/ACC-3's frequency is 90 days
    requirements: ClassVar[tuple[str, ...]] = ("ACC-2/accounts", "ACC-3/accounts")

    def collect(self, ctx: CollectContext) -> CollectResult:
        config: AccountsConfig = ctx.config
        raw: list[tuple[str, bytes]] = []
        access_list: list[dict[str, Any]] = []
        logon: dict[str, Any] = {}
        findings: list[FindingDraft] = []
        for system in config.systems:
            if isinstance(system, LinuxSystem):
                entries, found, settings = self._linux(system, raw, config, ctx)
                logon[system.name] = settings
            else:
                entries, found = self._aws(system, raw, config, ctx)
                logon[system.name] = {
                    "console_users_without_mfa": sum(1 for e in entries if e["password"] == "console" and not e["mfa"])
                }
            ctx.log.info("%s: %d accounts, %d findings", system.name, len(entries), len(found))
            access_list += entries
            findings += found
        findings = most_severe_first(findings)
        normalised = {
            "collector": self.name,
            "collector_version": self.version,
            "instance": ctx.instance_name,
            "collected_at": ctx.now.isoformat(),
            "requirements": list(self.requirements),
            # an access review is a person's judgement: the portal holds ACC-2 at "awaiting
            # sign-off" until someone with the it role signs this run off
            "needs_signoff": True,
            "access_list": access_list,
            "logon_settings": logon,
            "findings": findings_summary(findings),
            "summary": {
                "accounts": len(access_list),
                "admins": sum(e["admin"] for e in access_list),
                "findings": severity_counts(findings),
            },
            "changes": _access_changes(ctx.previous, access_list, findings),
        }
        report = _templates.get_template("report.html.j2").render(
            instance=ctx.instance_name, summary=normalised, findings=findings
        )
        return CollectResult(normalised, standard_artifacts(self.name, ctx.now, raw, normalised, report), findings)

    def _linux(self, system: LinuxSystem, raw: list[tuple[str, bytes]], config: AccountsConfig, ctx: CollectContext):
        passwd_text, group_text, shadow_text = _read(system.passwd), _read(system.group), _read(system.shadow)
        lastlog_text = _read(system.lastlog)
        accounts = _parse(system.passwd, linux.parse_passwd, passwd_text)
        groups = _parse(system.group, linux.parse_group, group_text)
        shadow = _parse(system.shadow, linux.parse_shadow, shadow_text)
        lastlog = _parse(system.lastlog, linux.parse_lastlog, lastlog_text)
        sudo_texts = [(path, _read(path)) for path in system.sudoers]
        rules = [rule for path, text in sudo_texts for rule in _parse(path, linux.parse_sudoers, text)]
        sshd = None
        if system.sshd_effective is not None:
            sshd_text = _read(system.sshd_effective)
            sshd = _parse(system.sshd_effective, linux.parse_sshd_t, sshd_text)
            raw.append((f"{system.name}/sshd-T.txt", sshd_text.encode()))
        for name, (_gid, members) in groups.items():
            for member in members:
                if member in accounts:
                    accounts[member].groups.append(name)
        for account in accounts.values():
            primary = next((name for name, (gid, _m) in groups.items() if gid == account.gid), None)
            if primary and primary not in account.groups:
                account.groups.insert(0, primary)
            kind, changed, expires = shadow.get(account.login, ("unknown", None, None))
            account.password, account.password_changed, account.expires = kind, changed, expires
            account.last_login = lastlog.get(account.login)
            for rule in rules:
                if rule.who == account.login or (rule.who.startswith("%") and rule.who[1:] in account.groups):
                    account.sudo.append(("(full) " if rule.full else "") + rule.line)
        raw += [
            (f"{system.name}/passwd", passwd_text.encode()),
            (f"{system.name}/group", group_text.encode()),
            (f"{system.name}/shadow.redacted", linux.redact_shadow(shadow_text).encode()),
            (f"{system.name}/lastlog.txt", lastlog_text.encode()),
        ]
        raw += [
            (f"{system.name}/sudoers/{index}-{path.name}", text.encode())
            for index, (path, text) in enumerate(sudo_texts)
        ]
        entries, found = linux_access_list(system.name, accounts, config, system.min_uid, sshd, ctx.now)
        settings = (
            {
                key: sshd.get(key)
                for key in (
                    "permitrootlogin",
                    "passwordauthentication",
                    "pubkeyauthentication",
                    "kbdinteractiveauthentication",
                    "authenticationmethods",
                )
            }
            if sshd
            else None
        )
        return entries, found, settings

    def _aws(self, system: AwsAccount, raw: list[tuple[str, bytes]], config: AccountsConfig, ctx: CollectContext):
        data = aws.read_iam(system)
        raw.append((f"{system.name}/iam.json", data))
        rows, users = _parse(f"aws {system.name}", aws.parse_iam, data.decode())
        return aws_access_list(system.name, rows, users, system.admin_policies, config, ctx.now)


def _access_changes(
    previous: Any, access_list: list[dict[str, Any]], findings: list[FindingDraft]
) -> dict[str, Any] | None:
    changes = finding_changes(previous, findings)
    if changes is None:
        return None
    before = {(e["system"], e["account"]): e for e in previous.get("access_list") or []}
    now = {(e["system"], e["account"]): e for e in access_list}
    changes["accounts_added"] = [f"{s}:{a}" for s, a in sorted(set(now) - set(before))]
    changes["accounts_removed"] = [f"{s}:{a}" for s, a in sorted(set(before) - set(now))]
    changes["privileges_changed"] = [
        f"{s}:{a}"
        for (s, a) in sorted(set(now) & set(before))
        if now[(s, a)]["admin"] != before[(s, a)].get("admin")
        or now[(s, a)]["privileges"] != before[(s, a)].get("privileges")
    ]
    return changes
