"""Reading a system's password policy: files, or IAM's GetAccountPasswordPolicy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from collectors.base import CollectorError
from collectors.password_policy.config import AwsAccount


def read_text(path: Path, encoding: str | None = None) -> tuple[bytes, str]:
    """The file's bytes and its text. secedit writes UTF-16 with a BOM; the rest is UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CollectorError(f"{path}: cannot read ({error.strerror or error})") from error
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data, data.decode("utf-16")
        return data, data.decode(encoding or "utf-8")
    except UnicodeDecodeError as error:
        raise CollectorError(f"{path}: not text in the expected encoding (byte {error.start})") from None


def iam_client(account: AwsAccount) -> Any:
    credentials = {}
    if account.access_key_id is not None and account.secret_access_key is not None:
        credentials = {
            "aws_access_key_id": account.access_key_id.get_secret_value(),
            "aws_secret_access_key": account.secret_access_key.get_secret_value(),
        }
    config = BotoConfig(
        connect_timeout=account.timeout_seconds,
        read_timeout=account.timeout_seconds,
        retries={"mode": "standard", "max_attempts": 3},
    )
    return boto3.session.Session().client(
        "iam", endpoint_url=account.endpoint_url, region_name=account.region, config=config, **credentials
    )


def account_password_policy(account: AwsAccount) -> bytes:
    """``{"PasswordPolicy": {...}}``, or ``{"PasswordPolicy": null}`` when none is set."""
    client = iam_client(account)
    try:
        policy = client.get_account_password_policy()["PasswordPolicy"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise CollectorError(f"aws {account.name}: GetAccountPasswordPolicy failed: {error}") from error
        policy = None
    except BotoCoreError as error:
        raise CollectorError(f"aws {account.name}: GetAccountPasswordPolicy failed: {error}") from error
    return json.dumps({"PasswordPolicy": policy}, indent=2, sort_keys=True, default=str).encode()
