"""Re-creates listing.json in this folder: the listing document the backup collector writes for
an S3 backup bucket, taken over real HTTP from moto's S3 server.

Run from the repository root:  .venv/bin/python tests/collectors/recordings/s3backup/record.py
The bucket holds one prefix per backed-up host, the way the demo organisation's hosts upload
their nightly dumps to the off-site store; one key has spaces and quotes in it.
"""

from __future__ import annotations

from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from collectors.backup.sources import list_s3_prefixes

BUCKET = "backups-offsite"
OBJECTS = {
    "web1/2026-11-27/etc.tar.zst": b"web1 etc " * 100,
    "web1/2026-11-27/var-www.tar.zst": b"web1 www " * 400,
    "db1/2026-11-27/pg_dumpall.sql.zst": b"db1 dump " * 800,
    'db1/2026-11-27/it\'s a "manual" dump.sql.zst': b"manual dump " * 50,
    "mail1/2026-11-27/maildir.tar.zst": b"mail " * 300,
}


def main() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client(
            "s3",
            endpoint_url=f"http://{host}:{port}",
            region_name="eu-west-1",
            aws_access_key_id="recording",
            aws_secret_access_key="recording",
        )
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        for key, body in OBJECTS.items():
            client.put_object(Bucket=BUCKET, Key=key, Body=body)
        listing = list_s3_prefixes(client, BUCKET, ["web1/", "db1/", "mail1/", "app1/"])
        (Path(__file__).parent / "listing.json").write_bytes(listing)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
