"""The access list an auditor samples, and its findings. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from collectors.accounts.config import AccountsConfig
from collectors.accounts.linux import LinuxAccount
from collectors.base import FindingDraft, Severity


class Owners:
    """Who owns an account, from the people and service accounts in the configuration."""

    def __init__(self, config: AccountsConfig) -> None:
        self.config = config

    def owner(self, system: str, login: str) -> tuple[str | None, str, Any]:
        """(owner, kind, person or None); kind is person/service/shared/unowned."""
        for person in self.config.people:
            if login in person.accounts or f"{system}:{login}" in person.accounts:
                return person.name, "person", person
        for service in self.config.service_accounts:
            if service.account in (login, f"{system}:{login}"):
                return service.owner, "service", None
        if login in self.config.shared_accounts or f"{system}:{login}" in self.config.shared_accounts:
            return None, "shared", None
        return None, "unowned", None


def _finding(kind: str, system: str, login: str, severity: Severity, title: str, detail: str) -> FindingDraft:
    return FindingDraft(
        key=f"{kind}:{system}:{login}",
        title=f"{title} ({system}: {login})",
        severity=severity,
        detail=detail,
        subject=f"{system}:{login}",
    )


def linux_access_list(
    system: str,
    accounts: Mapping[str, LinuxAccount],
    config: AccountsConfig,
    min_uid: int,
    sshd: Mapping[str, str] | None,
    now: datetime,
) -> tuple[list[dict[str, Any]], list[FindingDraft]]:
    owners = Owners(config)
    entries, findings = [], []
    dormant = timedelta(days=config.dormant_days)
    for account in sorted(accounts.values(), key=lambda a: a.uid):
        personal = account.uid == 0 or account.uid >= min_uid and account.uid != 65534
        listed = any(
            account.login in (p.accounts or []) or f"{system}:{account.login}" in p.accounts for p in config.people
        )
        if not account.interactive and not listed:
            continue  # system and nologin accounts cannot log in
        if (
            not personal
            and not listed
            and not any(s.account in (account.login, f"{system}:{account.login}") for s in config.service_accounts)
            and not account.sudo
        ):
            continue
        owner, kind, person = owners.owner(system, account.login)
        expired = account.expires is not None and account.expires <= now.date()
        admin = account.uid == 0 or any(rule for rule in account.sudo if "(full)" in rule)
        entry = {
            "system": system,
            "account": account.login,
            "uid": account.uid,
            "name": account.gecos,
            "owner": owner,
            "kind": "root" if account.uid == 0 else kind,
            "admin": admin,
            "groups": account.groups,
            "privileges": account.sudo,
            "password": account.password,
            "password_changed": account.password_changed.isoformat() if account.password_changed else None,
            "last_login": account.last_login.isoformat() if account.last_login else None,
            "disabled": expired,
            "mfa": None,
        }
        entries.append(entry)
        if expired:
            continue
        if account.uid == 0:
            continue  # root is judged through the sshd settings below
        if kind == "unowned":
            findings.append(
                _finding(
                    "no-owner",
                    system,
                    account.login,
                    Severity.high,
                    "Account without an owner",
                    f"{account.login} ({account.gecos or 'no name'}, uid {account.uid}) belongs to no person or service account in the portal's list.",
                )
            )
        if person is not None and person.left_on is not None and person.left_on <= now.date():
            findings.append(
                _finding(
                    "left",
                    system,
                    account.login,
                    Severity.high,
                    f"Account of {person.name}, who left on {person.left_on}",
                    "The account can still log in; it should have been removed or disabled when its owner left.",
                )
            )
        if kind == "shared":
            findings.append(
                _finding(
                    "shared-login",
                    system,
                    account.login,
                    Severity.medium,
                    "Shared login",
                    "Several people use this login, so its actions cannot be traced to a person.",
                )
            )
        if kind in ("person", "shared", "unowned"):
            seen = account.last_login or (
                datetime.combine(account.password_changed, datetime.min.time(), now.tzinfo)
                if account.password_changed
                else None
            )
            if seen is None or now - seen > dormant:
                last = account.last_login.date().isoformat() if account.last_login else "never"
                findings.append(
                    _finding(
                        "dormant",
                        system,
                        account.login,
                        Severity.medium,
                        f"No log-in for {config.dormant_days} days",
                        f"Last log-in: {last}; account (password) last changed {entry['password_changed']}.",
                    )
                )
    findings += sshd_findings(system, accounts, sshd)
    return entries, findings


def sshd_findings(
    system: str, accounts: Mapping[str, LinuxAccount], sshd: Mapping[str, str] | None
) -> list[FindingDraft]:
    if sshd is None:
        return []
    findings = []
    root = sshd.get("permitrootlogin", "")
    if root == "yes":
        findings.append(
            _finding(
                "root-login",
                system,
                "root",
                Severity.high,
                "Direct root log-in over SSH allowed",
                "sshd -T: permitrootlogin yes. Administrators should log in personally and use sudo.",
            )
        )
    methods = sshd.get("authenticationmethods", "any")
    # each space-separated chain is one way in; a chain without publickey lets a password do
    password_alone = sshd.get("passwordauthentication") == "yes" and (
        methods == "any" or any("publickey" not in chain for chain in methods.split())
    )
    if password_alone:
        findings.append(
            _finding(
                "ssh-password-login",
                system,
                "sshd",
                Severity.medium,
                "SSH log-on with a password alone",
                f"sshd -T: passwordauthentication yes, authenticationmethods {methods}: a stolen password is enough to log in.",
            )
        )
    return findings


def aws_access_list(
    system: str,
    rows: Sequence[Mapping[str, str]],
    users: Mapping[str, Any],
    admin_policies: Sequence[str],
    config: AccountsConfig,
    now: datetime,
) -> tuple[list[dict[str, Any]], list[FindingDraft]]:
    owners = Owners(config)
    entries, findings = [], []
    key_limit = timedelta(days=config.key_max_age_days)
    dormant = timedelta(days=config.dormant_days)
    for row in rows:
        login = row["user"]
        if login == "<root_account>":
            if row.get("access_key_1_active") == "true" or row.get("access_key_2_active") == "true":
                findings.append(
                    _finding(
                        "root-keys",
                        system,
                        "root",
                        Severity.critical,
                        "The root user has access keys",
                        "Access keys on the AWS root user cannot be limited by any policy.",
                    )
                )
            if row.get("mfa_active") != "true":
                findings.append(
                    _finding("admin-without-mfa", system, "root", Severity.critical, "The root user has no MFA", "")
                )
            continue
        detail = users.get(login, {})
        owner, kind, person = owners.owner(system, login)
        admin = bool(set(detail.get("policies", [])) & set(admin_policies))
        console = row.get("password_enabled") == "true"
        mfa = row.get("mfa_active") == "true" or bool(detail.get("mfa_devices"))
        keys = []
        for key in detail.get("access_keys", []):
            created = datetime.fromisoformat(key["created"])
            keys.append({**key, "age_days": (now - created).days})
        last_used = row.get("password_last_used", "")
        entries.append(
            {
                "system": system,
                "account": login,
                "uid": None,
                "name": row.get("arn", ""),
                "owner": owner,
                "kind": kind,
                "admin": admin,
                "groups": detail.get("groups", []),
                "privileges": detail.get("policies", []),
                "password": "console" if console else "none",
                "password_changed": row.get("password_last_changed"),
                "last_login": last_used if last_used.startswith("2") else None,
                "disabled": False,
                "mfa": mfa,
                "access_keys": keys,
            }
        )
        if kind == "unowned":
            findings.append(
                _finding(
                    "no-owner",
                    system,
                    login,
                    Severity.high,
                    "IAM user without an owner",
                    f"{login} belongs to no person or service account in the portal's list.",
                )
            )
        if person is not None and person.left_on is not None and person.left_on <= now.date():
            findings.append(
                _finding(
                    "left", system, login, Severity.high, f"IAM user of {person.name}, who left on {person.left_on}", ""
                )
            )
        if kind == "shared":
            findings.append(_finding("shared-login", system, login, Severity.medium, "Shared IAM user", ""))
        if console and not mfa:
            findings.append(
                _finding(
                    "admin-without-mfa" if admin else "console-without-mfa",
                    system,
                    login,
                    Severity.high if admin else Severity.medium,
                    "Administrator without MFA" if admin else "Console user without MFA",
                    "The user can sign in to the console with a password alone.",
                )
            )
        for key in keys:
            if key["status"] == "Active" and now - datetime.fromisoformat(key["created"]) > key_limit:
                findings.append(
                    FindingDraft(
                        key=f"old-key:{system}:{login}:{key['id']}",
                        severity=Severity.medium,
                        subject=f"{system}:{login}",
                        title=f"Access key {key['age_days']} days old ({system}: {login})",
                        detail=f"Active key {key['id']} created {key['created']}; keys must be rotated within {config.key_max_age_days} days.",
                    )
                )
        if console and kind in ("person", "shared", "unowned"):
            created_text = row.get("user_creation_time", "")
            seen = (
                datetime.fromisoformat(last_used)
                if last_used.startswith("2")
                else (datetime.fromisoformat(created_text) if created_text.startswith("2") else None)
            )
            if seen is None or now - seen > dormant:
                findings.append(
                    _finding(
                        "dormant",
                        system,
                        login,
                        Severity.medium,
                        f"No console sign-in for {config.dormant_days} days",
                        f"Password last used: {last_used or 'never'}.",
                    )
                )
    return entries, findings
