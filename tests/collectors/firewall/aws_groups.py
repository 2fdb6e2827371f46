"""The security groups of the demo AWS account, created through the real EC2 API (moto's
server in tests and in the recording script), so both see the same account."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"
TEST_KEY_ID = "testing"
TEST_SECRET = "testing"


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's EC2 over real HTTP on a free loopback port; yields the endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def ec2(endpoint_url: str, region: str = REGION) -> Any:
    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=TEST_KEY_ID,
        aws_secret_access_key=TEST_SECRET,
    )


def _cidr(cidr: str, description: str = "") -> dict[str, str]:
    return {"CidrIp": cidr, **({"Description": description} if description else {})}


def _cidr6(cidr: str, description: str = "") -> dict[str, str]:
    return {"CidrIpv6": cidr, **({"Description": description} if description else {})}


def _tcp(
    port: int,
    ranges: Sequence[dict[str, str]] = (),
    ipv6: Sequence[dict[str, str]] = (),
    groups: Sequence[dict[str, str]] = (),
) -> dict[str, Any]:
    return {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": port,
        "IpRanges": list(ranges),
        "Ipv6Ranges": list(ipv6),
        "UserIdGroupPairs": list(groups),
    }


def create_demo_groups(client: Any) -> dict[str, str]:
    """A web tier, a database tier, a vendor's RDP group and a debugging leftover. Returns
    group ids by name."""
    vpc_id = client.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    ids = {}
    for name, description in (
        ("web", "web tier"),
        ("db", "database tier"),
        ("vendor-rdp", 'RDP for the vendor\'s "remote" support'),
        ("debug", "temporary debugging"),
    ):
        ids[name] = client.create_security_group(GroupName=name, Description=description, VpcId=vpc_id)["GroupId"]

    client.authorize_security_group_ingress(
        GroupId=ids["web"],
        IpPermissions=[
            _tcp(
                443,
                [_cidr("0.0.0.0/0", "https from anywhere")],
                [_cidr6("::/0", "https from anywhere")],
            ),
            _tcp(80, [_cidr("0.0.0.0/0", "http redirect to https")]),
            _tcp(
                22,
                [_cidr("10.20.0.0/24", 'ssh from admin network "mgmt"'), _cidr("10.20.0.128/25")],
            ),
        ],
    )
    client.authorize_security_group_ingress(
        GroupId=ids["db"],
        IpPermissions=[
            _tcp(3306, groups=[{"GroupId": ids["web"], "Description": "MySQL from the web tier"}]),
            _tcp(5432, [_cidr("0.0.0.0/0")]),
        ],
    )
    client.authorize_security_group_ingress(
        GroupId=ids["vendor-rdp"],
        IpPermissions=[_tcp(3389, [_cidr("0.0.0.0/0", "vendor's RDP, until the VPN works")])],
    )
    client.authorize_security_group_ingress(
        GroupId=ids["debug"],
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [_cidr("0.0.0.0/0", "debug: allow everything")]}],
    )
    return ids
