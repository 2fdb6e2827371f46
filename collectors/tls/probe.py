"""Talking TLS to one endpoint: the certificate chain, whether it verifies, which protocol
versions and weak cipher suites the server accepts, and its HSTS header. All network I/O of
the collector lives here; what it finds is returned as a JSON-ready dict (the run's raw input).

The standard ``ssl`` module is used with the local OpenSSL. What the local OpenSSL cannot offer
(SSLv3 in OpenSSL 3; suites compiled out, such as RC4 or 3DES) is recorded as ``untestable``,
never as "not offered".
"""

from __future__ import annotations

import http.client
import socket
import ssl
import warnings
from pathlib import Path
from typing import Any

from cryptography import x509

from collectors.tls.config import TlsTarget

# (name, TLSVersion member name); SSLv3 has no TLSVersion a modern OpenSSL will negotiate.
PROTOCOLS = (
    ("SSLv3", "SSLv3"),
    ("TLSv1.0", "TLSv1"),
    ("TLSv1.1", "TLSv1_1"),
    ("TLSv1.2", "TLSv1_2"),
    ("TLSv1.3", "TLSv1_3"),
)
# Weak cipher suite families, as OpenSSL cipher strings, probed one family at a time with
# TLS 1.2 at most (TLS 1.3 has none of them).
WEAK_CIPHERS = {
    "NULL": "eNULL",  # no encryption
    "anonymous": "aNULL",  # no authentication
    "EXPORT": "EXPORT",
    "RC4": "RC4",
    "DES/3DES": "DES:3DES",
    "MD5": "MD5",
    "no-forward-secrecy": "kRSA",  # static RSA key exchange
}
_LOCAL_REFUSALS = ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "No cipher can be selected")


def _context(
    verify: bool,
    ca_file: Path | None,
    version: str | None = None,
    ciphers: str | None = None,
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # the hostname is judged separately, from the SANs
    if verify:
        context.verify_mode = ssl.CERT_REQUIRED
        if ca_file is not None:
            context.load_verify_locations(cafile=str(ca_file))
        else:
            context.load_default_certs()
    else:
        context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # probing old versions is the point
        if version is not None:
            member = getattr(ssl.TLSVersion, version)
            context.minimum_version = member
            context.maximum_version = member
        else:
            # Python's default floor is TLS 1.2; a server that only speaks 1.0 must still be
            # scanned (and reported), not taken for unreachable.
            context.minimum_version = ssl.TLSVersion.TLSv1
        # Old protocols and weak suites only exist at security level 0 in OpenSSL 3.
        context.set_ciphers((ciphers or "ALL:COMPLEMENTOFALL") + ":@SECLEVEL=0")
    return context


def _connect(target: TlsTarget, context: ssl.SSLContext, timeout: float) -> ssl.SSLSocket:
    raw = socket.create_connection((target.host, target.port), timeout=timeout)
    try:
        return context.wrap_socket(raw, server_hostname=target.sni)
    except BaseException:
        raw.close()
        raise


def _chain_pem(connection: ssl.SSLSocket) -> list[str]:
    sslobj = getattr(connection, "_sslobj", None)
    getter = getattr(connection, "get_unverified_chain", None) or getattr(sslobj, "get_unverified_chain", None)
    if getter is not None:
        # Python 3.13 made it public; 3.10-3.12 have it on the private SSL object. Each item
        # is a certificate object whose public_bytes() is PEM text.
        return [str(c.public_bytes()) for c in getter() or []]
    leaf = connection.getpeercert(binary_form=True)
    return [ssl.DER_cert_to_PEM_cert(leaf)] if leaf else []


def _error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _handshake(target: TlsTarget, context: ssl.SSLContext, timeout: float) -> dict[str, Any]:
    try:
        with _connect(target, context, timeout) as connection:
            cipher = connection.cipher()
            return {
                "result": "accepted",
                "version": connection.version(),
                "cipher": cipher[0] if cipher else None,
            }
    except ssl.SSLError as error:
        local = any(marker in str(error) for marker in _LOCAL_REFUSALS)
        return {"result": "untestable" if local else "refused", "error": _error(error)}
    except (OSError, TimeoutError) as error:
        return {"result": "refused", "error": _error(error)}


def probe_protocols(target: TlsTarget, timeout: float) -> dict[str, dict[str, Any]]:
    results = {}
    for name, member in PROTOCOLS:
        if not hasattr(ssl.TLSVersion, member):
            results[name] = {"result": "untestable", "error": "not known to this Python"}
            continue
        try:
            context = _context(False, None, version=member)
        except (ssl.SSLError, ValueError) as error:
            results[name] = {"result": "untestable", "error": _error(error)}
            continue
        results[name] = _handshake(target, context, timeout)
        if results[name]["result"] == "accepted" and results[name].get("version") != _openssl_name(name):
            results[name] = {"result": "refused", "error": f"negotiated {results[name].get('version')}"}
    return results


def _openssl_name(name: str) -> str:
    return {"TLSv1.0": "TLSv1"}.get(name, name)


def probe_weak_ciphers(target: TlsTarget, timeout: float) -> dict[str, dict[str, Any]]:
    results = {}
    for family, cipher_string in WEAK_CIPHERS.items():
        try:
            context = _context(False, None, ciphers=cipher_string)
            context.maximum_version = ssl.TLSVersion.TLSv1_2
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = ssl.TLSVersion.TLSv1
        except ssl.SSLError as error:
            results[family] = {"result": "untestable", "error": _error(error)}
            continue
        results[family] = _handshake(target, context, timeout)
    return results


def fetch_chain(target: TlsTarget, timeout: float) -> dict[str, Any]:
    with _connect(target, _context(False, None), timeout) as connection:
        cipher = connection.cipher()
        return {
            "chain_pem": _chain_pem(connection),
            "version": connection.version(),
            "cipher": cipher[0] if cipher else None,
        }


def verify_chain(target: TlsTarget, ca_file: Path | None, timeout: float) -> dict[str, Any]:
    """Whether the chain verifies against the trust anchors (hostname judged separately)."""
    try:
        with _connect(target, _context(True, ca_file), timeout):
            return {"valid": True, "error": None}
    except ssl.SSLCertVerificationError as error:
        return {"valid": False, "error": error.verify_message or str(error)}
    except (ssl.SSLError, OSError) as error:
        return {"valid": False, "error": _error(error)}


def fetch_hsts(target: TlsTarget, timeout: float) -> dict[str, Any]:
    """GET / over TLS; the status line and the Strict-Transport-Security header."""
    connection = http.client.HTTPSConnection(target.host, target.port, timeout=timeout, context=_context(False, None))
    try:
        connection.request("GET", "/", headers={"Host": target.sni, "User-Agent": "audit-portal-tls"})
        response = connection.getresponse()
        response.read(65536)
        return {
            "status": response.status,
            "strict_transport_security": response.getheader("Strict-Transport-Security"),
        }
    except (OSError, http.client.HTTPException) as error:
        return {"status": None, "error": _error(error), "strict_transport_security": None}
    finally:
        connection.close()


def scan(target: TlsTarget, ca_file: Path | None, timeout: float) -> dict[str, Any]:
    """Everything observed about one endpoint. An endpoint that cannot be reached at all gives
    ``{"reachable": False, "error": ...}``."""
    observed: dict[str, Any] = {
        "target": target.label,
        "host": target.host,
        "port": target.port,
        "server_name": target.sni,
    }
    try:
        observed.update(fetch_chain(target, timeout))
    except (ssl.SSLError, OSError) as error:
        return {**observed, "reachable": False, "error": _error(error)}
    observed["reachable"] = True
    observed["verification"] = verify_chain(target, ca_file, timeout)
    observed["protocols"] = probe_protocols(target, timeout)
    observed["weak_ciphers"] = probe_weak_ciphers(target, timeout)
    observed["http"] = fetch_hsts(target, timeout) if target.hsts else None
    observed["openssl"] = ssl.OPENSSL_VERSION
    return observed


def certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())
