"""Records TLS scans for replays and the demo: starts two local TLS servers on 127.0.0.1 with
trustme certificates for www.example.nl, scans them with the collector's own probe and writes
each observation as the raw archive stores it. Run from the repository root:

    .venv/bin/python tests/collectors/recordings/tls/record.py
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import sys
from pathlib import Path

import trustme

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tls"))
from conftest import _TlsServer, http_response  # noqa: E402  the tests' own server

from collectors.tls.config import TlsTarget  # noqa: E402
from collectors.tls.probe import scan  # noqa: E402


def main() -> None:
    ca = trustme.CA(organization_name="Example NL Demo CA")
    ca_file = HERE / "demo-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert = ca.issue_cert(
        "www.example.nl",
        "example.nl",
        not_before=dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2027, 5, 31, tzinfo=dt.UTC),
    )
    for name, versions, hsts in (
        ("www-example-nl.legacy", ("TLSv1", "TLSv1_3"), None),  # before the clean-up: TLS 1.0/1.1 on, no HSTS
        ("www-example-nl", ("TLSv1_2", "TLSv1_3"), "max-age=31536000; includeSubDomains"),
    ):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        context.minimum_version = getattr(ssl.TLSVersion, versions[0])
        context.maximum_version = getattr(ssl.TLSVersion, versions[1])
        context.set_ciphers("DEFAULT:@SECLEVEL=0" if versions[0] == "TLSv1" else "DEFAULT")
        with _TlsServer(context, http_response(hsts)) as server:
            target = TlsTarget(host="127.0.0.1", port=server.port, server_name="www.example.nl")
            observed = scan(target, ca_file, 5)
        # the port is random; the recording stands for www.example.nl:443
        observed.update(target="www.example.nl:443", host="www.example.nl", port=443)
        (HERE / f"{name}.json").write_text(json.dumps(observed, indent=2, sort_keys=True) + "\n")
        print(name, {k: v["result"] for k, v in observed["protocols"].items()})


if __name__ == "__main__":
    main()
