"""Judging what a TLS scan observed. Pure: the observed dict and the policy in, the normalised
summary and findings out."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from collectors.base import FindingDraft, Severity
from collectors.tls.probe import certificate

OLD_PROTOCOLS = ("SSLv3", "TLSv1.0", "TLSv1.1")
WEAK_SIGNATURE_HASHES = ("md5", "sha1")
# families that break confidentiality outright vs. the one that only lacks forward secrecy
SEVERE_CIPHER_FAMILIES = ("NULL", "anonymous", "EXPORT", "RC4", "DES/3DES", "MD5")


@dataclass(frozen=True)
class Policy:
    expiry_warning_days: int
    min_rsa_bits: int
    min_ec_bits: int
    hsts_min_age_days: int


def _key(cert: x509.Certificate) -> tuple[str, int | None]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return type(key).__name__, None


def _names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names = [f"DNS:{name}" for name in san.get_values_for_type(x509.DNSName)]
    names += [f"IP:{address}" for address in san.get_values_for_type(x509.IPAddress)]
    return names


def hostname_matches(server_name: str, names: list[str]) -> bool:
    """RFC 6125 matching against the subjectAltNames only (browsers ignore the CN): exact, or a
    wildcard standing for exactly the left-most label; IP addresses only against IP SANs."""
    try:
        address = ipaddress.ip_address(server_name)
    except ValueError:
        address = None
    if address is not None:
        return any(n == f"IP:{address}" for n in names)
    wanted = server_name.lower().rstrip(".")
    for entry in names:
        if not entry.startswith("DNS:"):
            continue
        pattern = entry[4:].lower().rstrip(".")
        if pattern == wanted:
            return True
        if pattern.startswith("*.") and "." in wanted:
            head, _, rest = wanted.partition(".")
            if rest == pattern[2:] and head and "*" not in pattern[2:]:
                return True
    return False


def certificate_summary(pem: str, now: datetime) -> dict[str, Any]:
    cert = certificate(pem)
    key_type, key_bits = _key(cert)
    algorithm = cert.signature_hash_algorithm
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "days_left": (cert.not_valid_after_utc - now).days,
        "names": _names(cert),
        "key_type": key_type,
        "key_bits": key_bits,
        "signature_algorithm": cert.signature_algorithm_oid._name,  # noqa: SLF001 - the OID's readable name
        "signature_hash": algorithm.name if algorithm is not None else None,
        "self_signed": cert.subject == cert.issuer,
    }


_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)


def _hsts(http: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if http is None:
        return None
    header = http.get("strict_transport_security")
    match = _MAX_AGE.search(header or "")
    return {
        "status": http.get("status"),
        "header": header,
        "max_age_days": int(match[1]) // 86400 if match else None,
        "error": http.get("error"),
    }


def assess(observed: Mapping[str, Any], policy: Policy, now: datetime) -> tuple[dict[str, Any], list[FindingDraft]]:
    """The normalised summary of one endpoint and its findings."""
    label = observed["target"]

    def finding(kind: str, title: str, severity: Severity, detail: str) -> FindingDraft:
        return FindingDraft(
            key=f"{kind}:{label}", title=f"{title} ({label})", severity=severity, detail=detail, subject=label
        )

    if not observed.get("reachable"):
        summary = {"target": label, "reachable": False, "error": observed.get("error")}
        return summary, [
            finding(
                "unreachable",
                "TLS endpoint could not be scanned",
                Severity.high,
                f"No TLS handshake with {observed['host']}:{observed['port']}: {observed.get('error')}",
            )
        ]
    chain = [certificate_summary(pem, now) for pem in observed.get("chain_pem") or []]
    if not chain:
        raise ValueError(f"{label}: the server sent no certificate")
    leaf = chain[0]
    verification = observed["verification"]
    protocols = {name: result["result"] for name, result in observed["protocols"].items()}
    weak = {name: result for name, result in observed["weak_ciphers"].items()}
    hsts = _hsts(observed.get("http"))
    findings: list[FindingDraft] = []

    if leaf["days_left"] < 0:
        findings.append(
            finding(
                "cert-expired",
                "Certificate expired",
                Severity.critical,
                f"The certificate for {leaf['names']} expired on {leaf['not_after']}.",
            )
        )
    elif leaf["days_left"] < policy.expiry_warning_days:
        findings.append(
            finding(
                "cert-expiring",
                f"Certificate expires in {leaf['days_left']} days",
                Severity.medium,
                f"Valid until {leaf['not_after']}; renew it before {policy.expiry_warning_days} days are left.",
            )
        )
    if not verification["valid"]:
        findings.append(
            finding(
                "chain-invalid",
                "Certificate chain does not verify",
                Severity.high,
                f"Verification against the trust anchors failed: {verification['error']}. "
                f"Issuer: {leaf['issuer']}{' (self-signed)' if leaf['self_signed'] else ''}.",
            )
        )
    matches = hostname_matches(observed["server_name"], leaf["names"])
    if not matches:
        findings.append(
            finding(
                "hostname-mismatch",
                "Certificate does not match the host name",
                Severity.high,
                f"{observed['server_name']} is not among the certificate's names {leaf['names']}.",
            )
        )
    minimum = policy.min_rsa_bits if leaf["key_type"] in ("RSA", "DSA") else policy.min_ec_bits
    if leaf["key_bits"] is not None and leaf["key_bits"] < minimum:
        findings.append(
            finding(
                "weak-key",
                f"{leaf['key_type']} key of {leaf['key_bits']} bits",
                Severity.high,
                f"The organisation requires at least {minimum} bits for {leaf['key_type']} keys.",
            )
        )
    for index, cert in enumerate(chain):
        if cert["signature_hash"] in WEAK_SIGNATURE_HASHES and not (
            index == len(chain) - 1 and cert["self_signed"] and index > 0
        ):
            findings.append(
                FindingDraft(
                    key=f"weak-signature:{label}:{index}",
                    title=f"Certificate signed with {cert['signature_hash']} ({label})",
                    severity=Severity.high,
                    subject=label,
                    detail=f"{cert['subject']} is signed with {cert['signature_algorithm']}; collisions make such signatures forgeable.",
                )
            )
    for name in OLD_PROTOCOLS:
        if protocols.get(name) == "accepted":
            findings.append(
                FindingDraft(
                    key=f"old-protocol:{label}:{name}",
                    title=f"{name} offered ({label})",
                    severity=Severity.high,
                    subject=label,
                    detail=f"The server completes a {name} handshake; only TLS 1.2 and 1.3 are acceptable.",
                )
            )
    for family, result in weak.items():
        if result["result"] == "accepted":
            severe = family in SEVERE_CIPHER_FAMILIES
            findings.append(
                FindingDraft(
                    key=f"weak-cipher:{label}:{family}",
                    title=f"Weak cipher suites accepted: {family} ({label})",
                    severity=Severity.high if severe else Severity.medium,
                    subject=label,
                    detail=f"The server negotiated {result.get('cipher')} ({result.get('version')}) when offered only {family} suites.",
                )
            )
    if hsts is not None:
        if not hsts["header"]:
            findings.append(
                finding(
                    "no-hsts",
                    "No Strict-Transport-Security header",
                    Severity.medium,
                    f"GET / answered {hsts['status'] or hsts['error']} without HSTS, so browsers may be downgraded to HTTP.",
                )
            )
        elif (hsts["max_age_days"] or 0) < policy.hsts_min_age_days:
            findings.append(
                finding(
                    "hsts-short",
                    "HSTS max-age too short",
                    Severity.low,
                    f"Strict-Transport-Security: {hsts['header']}; at least {policy.hsts_min_age_days} days expected.",
                )
            )
    summary = {
        "target": label,
        "reachable": True,
        "server_name": observed["server_name"],
        "negotiated": {"version": observed.get("version"), "cipher": observed.get("cipher")},
        "chain": chain,
        "chain_valid": verification["valid"],
        "chain_error": verification["error"],
        "hostname_matches": matches,
        "protocols": protocols,
        "weak_ciphers": {family: result["result"] for family, result in weak.items()},
        "hsts": hsts,
        "openssl": observed.get("openssl"),
    }
    return summary, findings
