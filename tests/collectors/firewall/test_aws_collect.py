"""The collector against moto's EC2 server over real HTTP, with boto3 as in production."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable, Iterator

import pytest

from collectors.base import CollectContext, CollectorError, Severity
from collectors.firewall import FirewallCollector
from tests.collectors.firewall.aws_groups import (
    REGION,
    TEST_KEY_ID,
    TEST_SECRET,
    create_demo_groups,
    ec2,
    moto_server,
)

MakeContext = Callable[..., CollectContext]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def group_ids(endpoint: str) -> dict[str, str]:
    return create_demo_groups(ec2(endpoint))


def _aws_config(endpoint: str, regions: list[str]) -> dict:
    return {
        "sources": [
            {
                "type": "aws",
                "regions": regions,
                "endpoint_url": endpoint,
                "access_key_id": TEST_KEY_ID,
                "secret_access_key": TEST_SECRET,
                "timeout_seconds": 5,
            }
        ]
    }


def test_security_groups_are_collected_and_reviewed(
    endpoint: str, group_ids: dict[str, str], make_context: MakeContext
) -> None:
    result = FirewallCollector().collect(make_context(_aws_config(endpoint, [REGION, "eu-central-1"])))
    findings = {f.key: f for f in result.findings}
    debug = next(f for f in result.findings if f.key.startswith("accept-all:"))
    assert debug.severity == Severity.critical
    assert f"{group_ids['debug']}/ingress" in debug.key
    rdp = [
        f
        for f in findings.values()
        if f.key.startswith("admin-port-open:") and f"{group_ids['vendor-rdp']}/ingress" in f.key
    ]
    assert [f.key.rsplit(":", 2)[1:] for f in rdp] == [["tcp/3389", "0.0.0.0/0"]]
    assert any(f"{group_ids['db']}/ingress:tcp/5432:0.0.0.0/0" in key for key in findings)
    assert [i["label"] for i in result.normalised["inputs"]] == [
        f"aws/{REGION}",
        "aws/eu-central-1",
    ]

    with tarfile.open(fileobj=io.BytesIO(result.artifacts[0].data), mode="r:gz") as archive:
        raw = json.loads(archive.extractfile(f"aws/{REGION}.json").read())
    assert set(group_ids.values()) <= {g["GroupId"] for g in raw["SecurityGroups"]}


def test_unreachable_endpoint_is_a_collector_error(make_context: MakeContext) -> None:
    with pytest.raises(
        CollectorError,
        match=r"^aws aws eu-west-1: DescribeSecurityGroups failed: Could not connect",
    ):
        FirewallCollector().collect(make_context(_aws_config("http://127.0.0.1:9", [REGION])))
