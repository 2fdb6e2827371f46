"""Local TLS servers on 127.0.0.1 with trustme certificates, started and stopped by the tests."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import ssl
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from collectors.base import CollectContext
from collectors.tls import TlsConfig

NOW = dt.datetime.now(dt.UTC)


@dataclass
class Server:
    port: int
    ca_file: Path


class _TlsServer:
    """Accepts connections until stopped; answers any HTTP request with a fixed response."""

    def __init__(self, context: ssl.SSLContext, response: bytes) -> None:
        self.context = context
        self.response = response
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.5)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(5)
            try:
                with self.context.wrap_socket(client, server_side=True) as tls:
                    data = tls.recv(4096)
                    if data.startswith(b"GET "):
                        tls.sendall(self.response)
            except (ssl.SSLError, OSError):
                pass  # probes that the server refuses are expected
            finally:
                client.close()

    def __enter__(self) -> _TlsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.listener.close()
        self.thread.join(timeout=10)


def http_response(hsts: str | None) -> bytes:
    headers = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n"
    if hsts:
        headers += f"Strict-Transport-Security: {hsts}\r\n"
    return (headers + "\r\nok").encode()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA(organization_name="Audit Portal Test CA")


@pytest.fixture
def tls_server(ca: trustme.CA, tmp_path: Path) -> Callable[..., Any]:
    """``tls_server(cert=..., versions=(min, max), ciphers=..., hsts=...)`` as a context
    manager yielding a :class:`Server` whose ``ca_file`` trusts ``ca``."""
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    def start(
        cert: trustme.LeafCert | None = None,
        versions: tuple[str, str] | None = None,
        ciphers: str | None = None,
        hsts: str | None = "max-age=31536000; includeSubDomains",
    ):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        (cert or ca.issue_cert("localhost", "127.0.0.1")).configure_cert(context)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if versions is not None:
                context.minimum_version = getattr(ssl.TLSVersion, versions[0])
                context.maximum_version = getattr(ssl.TLSVersion, versions[1])
            context.set_ciphers((ciphers or "DEFAULT") + ":@SECLEVEL=0")
        server = _TlsServer(context, http_response(hsts))

        class _Running:
            def __enter__(self) -> Server:
                server.__enter__()
                return Server(server.port, ca_file)

            def __exit__(self, *exc: object) -> None:
                server.__exit__(*exc)

        return _Running()

    return start


@pytest.fixture
def make_context(tmp_path: Path) -> Callable[..., CollectContext]:
    def make(config: dict[str, Any], previous: dict[str, Any] | None = None, now: dt.datetime = NOW) -> CollectContext:
        return CollectContext(
            instance_name="tls-test",
            config=TlsConfig.model_validate(config),
            now=now,
            workdir=tmp_path,
            log=logging.getLogger("tests.tls"),
            previous=previous,
        )

    return make


@pytest.fixture
def scan_config() -> Callable[..., dict[str, Any]]:
    def config(server: Server, server_name: str = "localhost", **extra: Any) -> dict[str, Any]:
        return {
            "targets": [{"host": "127.0.0.1", "port": server.port, "server_name": server_name}],
            "ca_file": str(server.ca_file),
            "timeout_seconds": 5,
            **extra,
        }

    return config
