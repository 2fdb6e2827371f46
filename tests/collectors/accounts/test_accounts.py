"""The accounts collector on Linux files recorded with the real tools and IAM over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydantic import ValidationError

from collectors.accounts import AccountsCollector, AccountsConfig
from collectors.accounts.linux import AccountsParseError, parse_lastlog, parse_passwd, parse_sshd_t, redact_shadow
from collectors.base import CollectContext, CollectorError, Severity
from collectors.runner import execute

RECORDED = Path(__file__).resolve().parent.parent / "recordings" / "accounts"
RECORDED_AT = datetime(2026, 12, 1, 8, 13, 39, tzinfo=UTC)  # lastlog -S in record.sh
PEOPLE = [
    {"name": "Alice Admin", "accounts": ["alice"]},
    {"name": "Bob Builder", "accounts": ["bob"]},
    {"name": "Carol Jansen", "accounts": ["web1:carol"], "left_on": "2026-06-30"},
    {"name": "Cloud SDK image owner", "accounts": ["cloudsdk"]},
]


def web1(**extra: Any) -> dict[str, Any]:
    return {
        "type": "linux",
        "name": "web1",
        "passwd": str(RECORDED / "passwd"),
        "group": str(RECORDED / "group"),
        "shadow": str(RECORDED / "shadow.redacted"),
        "lastlog": str(RECORDED / "lastlog.txt"),
        "sudoers": [str(RECORDED / "sudoers"), str(RECORDED / "sudoers.d.txt")],
        "sshd_effective": str(RECORDED / "sshd-T.txt"),
        **extra,
    }


def config(systems: list[dict[str, Any]], **extra: Any) -> AccountsConfig:
    return AccountsConfig.model_validate(
        {
            "people": PEOPLE,
            "service_accounts": [{"account": "deploy", "owner": "Alice Admin", "purpose": "CI deploys"}],
            "shared_accounts": ["support"],
            "systems": systems,
            **extra,
        }
    )


def collect(cfg: AccountsConfig, tmp_path: Path, now: datetime = RECORDED_AT + timedelta(hours=1), previous=None):
    return AccountsCollector().collect(CollectContext("accounts", cfg, now, tmp_path, logging.getLogger("t"), previous))


def keys(result) -> dict[str, Severity]:
    return {f.key: f.severity for f in result.findings}


class TestLinuxRecording:
    def test_access_list_and_findings(self, tmp_path: Path) -> None:
        result = collect(config([web1()]), tmp_path)
        entries = {e["account"]: e for e in result.normalised["access_list"]}
        assert set(entries) == {"root", "cloudsdk", "alice", "bob", "carol", "deploy", "support"}
        assert entries["alice"]["admin"] and entries["alice"]["groups"] == ["alice", "sudo"]
        assert entries["bob"]["admin"]  # the temporary NOPASSWD: ALL drop-in
        assert not entries["deploy"]["admin"] and "systemctl restart app.service" in entries["deploy"]["privileges"][0]
        assert entries["deploy"]["kind"] == "service" and entries["deploy"]["owner"] == "Alice Admin"
        assert entries["alice"]["last_login"] == RECORDED_AT.isoformat()
        assert entries["root"]["password"] == "hash" and entries["alice"]["password"] == "none"
        assert keys(result) == {
            "left:web1:carol": Severity.high,
            "root-login:web1:root": Severity.high,
            "ssh-password-login:web1:sshd": Severity.medium,
            "shared-login:web1:support": Severity.medium,
            "dormant:web1:carol": Severity.medium,  # password last changed 2026-03-02, never logged in
            "dormant:web1:cloudsdk": Severity.medium,  # the recording machine's image account, never used
        }
        assert result.normalised["needs_signoff"] is True
        assert result.normalised["logon_settings"]["web1"]["permitrootlogin"] == "yes"

    def test_accounts_without_an_owner(self, tmp_path: Path) -> None:
        cfg = config([web1()])
        cfg.people = [p for p in cfg.people if p.name != "Cloud SDK image owner"]
        assert keys(collect(cfg, tmp_path))["no-owner:web1:cloudsdk"] == Severity.high

    def test_dormant_after_the_threshold(self, tmp_path: Path) -> None:
        later = collect(config([web1()]), tmp_path, now=RECORDED_AT + timedelta(days=91))
        assert {"dormant:web1:alice", "dormant:web1:bob", "dormant:web1:support"} <= set(keys(later))

    def test_hardened_sshd(self, tmp_path: Path) -> None:
        result = collect(config([web1(sshd_effective=str(RECORDED / "sshd-T.hardened.txt"))]), tmp_path)
        assert not {k for k in keys(result) if k.startswith(("root-login", "ssh-password-login"))}

    def test_no_password_hash_reaches_the_evidence(self, tmp_path: Path) -> None:
        shadow = tmp_path / "shadow"
        shadow.write_text((RECORDED / "shadow.redacted").read_text().replace("<hash>", "$y$j9T$abc$secrethashvalue"))
        result = collect(config([web1(shadow=str(shadow))]), tmp_path / "w")
        import io  # noqa: E401
        import tarfile

        with tarfile.open(fileobj=io.BytesIO(result.artifacts[0].data), mode="r:gz") as archive:
            raw = b"".join(archive.extractfile(m).read() for m in archive.getmembers())
        assert b"secrethashvalue" not in raw and b"root:<hash>:" in raw
        assert "secrethashvalue" not in redact_shadow(shadow.read_text())

    def test_changes_since_the_previous_review(self, tmp_path: Path) -> None:
        first = collect(config([web1()]), tmp_path / "a")
        previous = dict(first.normalised)
        previous["access_list"] = [
            dict(e, admin=False, privileges=[]) if e["account"] == "bob" else e
            for e in first.normalised["access_list"]
            if e["account"] != "support"
        ]
        second = collect(config([web1()]), tmp_path / "b", previous=previous)
        assert second.normalised["changes"]["accounts_added"] == ["web1:support"]
        assert second.normalised["changes"]["privileges_changed"] == ["web1:bob"]


class TestIncompleteInput:
    def test_passwd_cut_mid_line(self) -> None:
        text = (RECORDED / "passwd").read_text()
        with pytest.raises(AccountsParseError, match=r"line \d+: passwd line with \d fields"):
            parse_passwd(text[: text.index("alice") + 12])

    def test_empty_passwd(self) -> None:
        with pytest.raises(AccountsParseError, match="empty passwd"):
            parse_passwd("")

    def test_lastlog_without_header(self) -> None:
        text = (RECORDED / "lastlog.txt").read_text()
        with pytest.raises(AccountsParseError, match="no 'Username Port From Latest' header"):
            parse_lastlog("\n".join(text.splitlines()[5:]))

    def test_sshd_t_cut_off(self) -> None:
        text = (RECORDED / "sshd-T.txt").read_text()
        with pytest.raises(AccountsParseError, match="not complete 'sshd -T' output"):
            parse_sshd_t("\n".join(text.splitlines()[:10]))

    def test_collector_names_the_file(self, tmp_path: Path) -> None:
        lastlog = tmp_path / "lastlog.txt"
        lastlog.write_text("")
        with pytest.raises(CollectorError, match=r"lastlog\.txt: line 1: no 'Username"):
            collect(config([web1(lastlog=str(lastlog))]), tmp_path / "w")


@pytest.fixture(scope="module")
def iam() -> Iterator[tuple[str, Any]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        client.create_group(GroupName="admins")
        admin = client.create_policy(
            PolicyName="Admins",
            PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}',
        )
        client.attach_group_policy(GroupName="admins", PolicyArn=admin["Policy"]["Arn"])
        for user in ("alice", "bob", "ci-deploy", "mallory"):
            client.create_user(UserName=user)
        for user in ("alice", "bob", "mallory"):
            client.create_login_profile(UserName=user, Password="Correct-horse-42!")
        client.add_user_to_group(GroupName="admins", UserName="alice")
        device = client.create_virtual_mfa_device(VirtualMFADeviceName="bob")["VirtualMFADevice"]["SerialNumber"]
        client.enable_mfa_device(
            UserName="bob", SerialNumber=device, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
        client.create_access_key(UserName="ci-deploy")
        yield endpoint, client
    finally:
        server.stop()


class TestAwsOverHttp:
    def test_iam_access_list(self, iam, tmp_path: Path) -> None:
        endpoint, _client = iam
        system = {
            "type": "aws",
            "name": "aws-prod",
            "endpoint_url": endpoint,
            "access_key_id": "test",
            "secret_access_key": "test",
            "admin_policies": ["arn:aws:iam::123456789012:policy/Admins"],
        }
        cfg = AccountsConfig.model_validate(
            {
                "people": [
                    {"name": "Alice Admin", "accounts": ["alice"]},
                    {"name": "Bob Builder", "accounts": ["aws-prod:bob"]},
                ],
                "service_accounts": [{"account": "ci-deploy", "owner": "Alice Admin"}],
                "key_max_age_days": 30,
                "systems": [system],
            }
        )
        now = datetime.now(UTC)
        outcome = execute(AccountsCollector(), cfg, instance_name="accounts", now=now, timeout_seconds=120)
        assert outcome.ok, outcome.error
        result = outcome.result
        entries = {e["account"]: e for e in result.normalised["access_list"]}
        assert entries["alice"]["admin"] and not entries["alice"]["mfa"]
        assert entries["bob"]["mfa"] and not entries["bob"]["admin"]
        assert entries["ci-deploy"]["access_keys"][0]["status"] == "Active"
        assert keys(result) == {
            "admin-without-mfa:aws-prod:alice": Severity.high,
            "no-owner:aws-prod:mallory": Severity.high,
            "console-without-mfa:aws-prod:mallory": Severity.medium,
        }
        later = AccountsCollector().collect(
            CollectContext("a", cfg, now + timedelta(days=45), tmp_path, logging.getLogger("t"))
        )
        assert any(k.startswith("old-key:aws-prod:ci-deploy:") for k in keys(later))
        assert "dormant:aws-prod:bob" not in keys(later)  # created 45 days ago, dormant after 90


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"systems": []}, "at least 1"),
        ({"systems": [{"type": "linux", "name": "a", "lastlog": "x", "command": "getent passwd"}]}, "Extra inputs"),
        ({"systems": [{"type": "linux", "name": "a", "lastlog": "x"}] * 2}, "unique"),
        (
            {
                "people": [{"name": "x", "accounts": ["a b"]}],
                "systems": [{"type": "linux", "name": "a", "lastlog": "x"}],
            },
            "not an account name",
        ),
    ],
)
def test_config_is_validated(extra, message) -> None:
    with pytest.raises(ValidationError, match=message):
        AccountsConfig.model_validate(extra)
