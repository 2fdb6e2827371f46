"""Records describe_security_groups.json: the demo account's groups, created in moto's EC2
server through boto3 and read back with the paginator the collector uses.

Run from the repository root: .venv/bin/python tests/collectors/recordings/aws/record.py
"""

from __future__ import annotations

import json
from pathlib import Path

from collectors.firewall.sources import describe_security_groups
from tests.collectors.firewall.aws_groups import create_demo_groups, ec2, moto_server

HERE = Path(__file__).parent

with moto_server() as endpoint:
    client = ec2(endpoint)
    create_demo_groups(client)
    groups = describe_security_groups(client)

# The same serialisation the collector writes into its raw archive.
(HERE / "describe_security_groups.json").write_text(
    json.dumps({"SecurityGroups": groups}, indent=2, sort_keys=True, default=str)
)
