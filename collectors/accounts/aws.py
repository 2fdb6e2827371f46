"""Reading IAM: the credential report, each user's MFA devices, access keys and whether an
administrator policy reaches them. The answers are kept as one JSON document (the raw input)."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from collectors.accounts.config import AwsAccount
from collectors.accounts.linux import AccountsParseError
from collectors.base import CollectorError


def _client(account: AwsAccount) -> Any:
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


def _credential_report(client: Any) -> str:
    for _attempt in range(10):
        state = client.generate_credential_report()["State"]
        if state == "COMPLETE":
            break
        time.sleep(1)  # IAM builds the report asynchronously; it is usually ready within seconds
    report = client.get_credential_report()
    return report["Content"].decode("utf-8")


def read_iam(account: AwsAccount) -> bytes:
    client = _client(account)
    try:
        report = _credential_report(client)
        users: dict[str, Any] = {}
        for page in client.get_paginator("list_users").paginate():
            for user in page["Users"]:
                name = user["UserName"]
                policies = [
                    p["PolicyArn"] for p in client.list_attached_user_policies(UserName=name)["AttachedPolicies"]
                ]
                groups = [g["GroupName"] for g in client.list_groups_for_user(UserName=name)["Groups"]]
                for group in groups:
                    policies += [
                        p["PolicyArn"] for p in client.list_attached_group_policies(GroupName=group)["AttachedPolicies"]
                    ]
                users[name] = {
                    "groups": groups,
                    "policies": sorted(set(policies)),
                    "mfa_devices": [d["SerialNumber"] for d in client.list_mfa_devices(UserName=name)["MFADevices"]],
                    "access_keys": [
                        {"id": k["AccessKeyId"], "status": k["Status"], "created": k["CreateDate"].isoformat()}
                        for k in client.list_access_keys(UserName=name)["AccessKeyMetadata"]
                    ],
                }
    except (ClientError, BotoCoreError) as error:
        raise CollectorError(f"aws {account.name}: reading IAM failed: {error}") from error
    return json.dumps({"credential_report": report, "users": users}, indent=2, sort_keys=True).encode()


_REPORT_COLUMNS = ("user", "arn", "password_enabled", "mfa_active", "password_last_used")


def parse_iam(text: str) -> tuple[list[dict[str, str]], dict[str, Any]]:
    try:
        document = json.loads(text)
        rows = list(csv.DictReader(io.StringIO(document["credential_report"])))
        users = document["users"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise AccountsParseError(f"not the IAM document the collector writes: {error}") from None
    if rows and any(column not in rows[0] for column in _REPORT_COLUMNS):
        raise AccountsParseError("the credential report lacks its standard columns: truncated?")
    named = {row["user"] for row in rows}
    missing = sorted(set(users) - named)
    if missing:
        raise AccountsParseError(f"users missing from the credential report: {', '.join(missing)}")
    return rows, users
