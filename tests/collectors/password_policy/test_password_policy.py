"""The password-policy collector on the recorded Debian files, the documented Windows formats
and IAM over HTTP from moto's server."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydantic import ValidationError

from collectors.base import CollectContext, CollectorError, Severity
from collectors.password_policy import PasswordPolicyCollector, PasswordPolicyConfig
from collectors.password_policy.parsers import ParseError, linux_settings, windows_net_accounts, windows_secedit
from collectors.runner import execute

RECORDED = Path(__file__).resolve().parent.parent / "recordings" / "password-policy"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
FILES = ("login_defs", "pam_password", "pam_auth", "pwquality_conf", "faillock_conf")
NAMES = {
    "login_defs": "login.defs",
    "pam_password": "common-password",
    "pam_auth": "common-auth",
    "pwquality_conf": "pwquality.conf",
    "faillock_conf": "faillock.conf",
}
STANDARD = {"min_length": 12, "history": 5, "lockout_threshold": 10, "lockout_minutes": 15}


def linux(name: str, folder: str) -> dict[str, Any]:
    return {"type": "linux", "name": name, **{f: str(RECORDED / folder / NAMES[f]) for f in FILES}}


def collect(systems: list[dict[str, Any]], tmp_path: Path, standard: dict[str, Any] | None = None):
    config = PasswordPolicyConfig.model_validate({"standard": standard or STANDARD, "systems": systems})
    ctx = CollectContext("pw", config, NOW, tmp_path, logging.getLogger("tests.pw"))
    return PasswordPolicyCollector().collect(ctx)


def keys(result) -> dict[str, Severity]:
    return {f.key: f.severity for f in result.findings}


def texts(folder: str) -> list[str]:
    return [(RECORDED / folder / NAMES[f]).read_text() for f in FILES]


class TestLinux:
    def test_debian_as_shipped(self, tmp_path: Path) -> None:
        result = collect([linux("deb", "debian-default")], tmp_path)
        assert keys(result) == {
            "password-policy:deb:min_length": Severity.high,
            "password-policy:deb:history": Severity.medium,
            "password-policy:deb:lockout": Severity.high,
        }
        deb = result.normalised["systems"]["deb"]
        assert (deb["min_length"], deb["history"], deb["lockout_threshold"]) == (6, None, None)
        assert deb["sources"]["min_length"] == "pam_unix default (6); no pam_pwquality"

    def test_hardened_host_meets_the_standard(self, tmp_path: Path) -> None:
        result = collect([linux("web", "debian-hardened")], tmp_path)
        assert result.findings == []
        web = result.normalised["systems"]["web"]
        assert (web["min_length"], web["history"], web["lockout_threshold"], web["lockout_minutes"]) == (14, 12, 5, 15)
        assert (web["min_classes"], web["max_age_days"]) == (3, 365)

    def test_stricter_standard_finds_each_deviation(self, tmp_path: Path) -> None:
        standard = {
            "min_length": 16,
            "history": 24,
            "lockout_threshold": 3,
            "lockout_minutes": 30,
            "max_age_days": 90,
            "min_classes": 4,
        }
        result = collect([linux("web", "debian-hardened")], tmp_path, standard)
        assert set(keys(result)) == {
            f"password-policy:web:{s}" for s in ("min_length", "history", "lockout", "max_age", "min_classes")
        }

    def test_pam_arguments_override_pwquality_conf(self) -> None:
        login_defs, password, auth, quality, faillock = texts("debian-hardened")
        password = password.replace("pam_pwquality.so retry=3", "pam_pwquality.so retry=3 minlen=9")
        assert linux_settings(login_defs, password, auth, quality, faillock).min_length == 9

    def test_faillock_conf_without_the_module_in_the_stack_enforces_nothing(self) -> None:
        login_defs, password, _auth, quality, faillock = texts("debian-hardened")
        _, _, default_auth, _, _ = texts("debian-default")
        settings = linux_settings(login_defs, password, default_auth, quality, faillock)
        assert settings.lockout_threshold is None

    @pytest.mark.parametrize("which", ["pam_password", "login_defs"])
    def test_empty_file_is_an_error(self, which: str, tmp_path: Path) -> None:
        empty = tmp_path / "empty"
        empty.write_text("")
        system = {**linux("deb", "debian-default"), which: str(empty)}
        with pytest.raises(CollectorError, match="deb: .*(no PAM rule at all|empty login.defs)"):
            collect([system], tmp_path)

    def test_pam_file_that_is_not_pam(self, tmp_path: Path) -> None:
        bad = tmp_path / "common-password"
        bad.write_text("password requisite\n")
        with pytest.raises(CollectorError, match="line 1: not a PAM rule"):
            collect([{**linux("deb", "debian-default"), "pam_password": str(bad)}], tmp_path)


class TestWindowsDocumentedFormat:
    def test_net_accounts(self) -> None:
        settings = windows_net_accounts((RECORDED / "windows" / "net-accounts.documented-format.txt").read_text())
        assert (settings.min_length, settings.history, settings.lockout_threshold, settings.max_age_days) == (
            12,
            24,
            None,
            90,
        )

    def test_secedit_utf16(self, tmp_path: Path) -> None:
        system = {
            "type": "windows",
            "name": "WEB01",
            "secedit": str(RECORDED / "windows" / "secedit.documented-format.inf"),
            "net_accounts": str(RECORDED / "windows" / "net-accounts.documented-format.txt"),
        }
        result = collect([system], tmp_path)
        assert keys(result) == {"password-policy:WEB01:lockout": Severity.high}
        assert result.normalised["systems"]["WEB01"]["min_classes"] == 3

    def test_truncated_net_accounts(self) -> None:
        text = (RECORDED / "windows" / "net-accounts.documented-format.txt").read_text()
        with pytest.raises(ParseError, match="completed successfully"):
            windows_net_accounts("\n".join(text.splitlines()[:5]))

    def test_secedit_without_version_signature(self) -> None:
        raw = (RECORDED / "windows" / "secedit.documented-format.inf").read_bytes().decode("utf-16")
        with pytest.raises(ParseError, match="CHICAGO"):
            windows_secedit(raw.split("[Version]")[0])


@pytest.fixture(scope="module")
def moto_iam() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def aws(endpoint: str) -> dict[str, Any]:
    return {
        "type": "aws",
        "name": "prod",
        "endpoint_url": endpoint,
        "access_key_id": "test",
        "secret_access_key": "test",
    }


class TestAwsOverHttp:
    def test_account_without_policy_then_with_one(self, moto_iam: str, tmp_path: Path) -> None:
        client = boto3.client(
            "iam",
            endpoint_url=moto_iam,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        try:
            client.delete_account_password_policy()
        except client.exceptions.NoSuchEntityException:
            pass
        none = collect([aws(moto_iam)], tmp_path / "a")
        assert keys(none) == {
            "password-policy:prod:min_length": Severity.high,
            "password-policy:prod:history": Severity.medium,
        }
        client.update_account_password_policy(
            MinimumPasswordLength=14,
            PasswordReusePrevention=12,
            RequireSymbols=True,
            RequireNumbers=True,
            RequireUppercaseCharacters=True,
        )
        config = PasswordPolicyConfig.model_validate({"standard": STANDARD, "systems": [aws(moto_iam)]})
        outcome = execute(PasswordPolicyCollector(), config, instance_name="pw", now=NOW, timeout_seconds=60)
        assert outcome.ok, outcome.error
        prod = outcome.result.normalised["systems"]["prod"]
        assert (prod["min_length"], prod["history"], prod["min_classes"]) == (14, 12, 3)
        assert outcome.result.findings == []  # IAM offers no lockout: noted, not a deviation
        assert prod["sources"]["lockout_threshold"] == "not offered by IAM"


@pytest.mark.parametrize(
    ("systems", "message"),
    [
        ([], "at least 1"),
        ([{"type": "linux", "name": "a", "command": "cat /etc/login.defs"}], "Extra inputs"),
        ([{"type": "windows", "name": "w"}], "give net_accounts, secedit or both"),
        ([{"type": "linux", "name": "a"}, {"type": "linux", "name": "a"}], "unique"),
    ],
)
def test_config_is_validated(systems, message) -> None:
    with pytest.raises(ValidationError, match=message):
        PasswordPolicyConfig.model_validate({"systems": systems})
