"""Offline verification of an evidence package: the ZIP file alone, plus a public key.

This module needs only the Python standard library and ``cryptography``; it imports nothing else
of the portal, and every package carries a copy of it (``verify.py`` at its root, itself listed
in the signed manifest), so an auditor can check a package without the portal::

    python verify.py evidence-package.zip --public-key portal-signing-key.pem

What is checked:

1. ``manifest.sig`` is an Ed25519 signature over the exact bytes of ``manifest.json``, made by
   the given key (or, without one, by the key the manifest itself names: that proves the
   package is unchanged since it was signed, not who signed it);
2. every file the manifest lists is in the archive, with the listed size and SHA-256;
3. the archive holds nothing else, and no name twice;
4. ``manifest.csv`` hashes to the value the signed manifest records for it.

Exit status: 0 intact, 1 not intact (each problem named, the first one first), 2 unreadable.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "audit-portal/evidence-package"
FORMAT_VERSION = 1
MANIFEST_JSON = "manifest.json"
MANIFEST_CSV = "manifest.csv"
MANIFEST_SIG = "manifest.sig"
UNLISTED = frozenset({MANIFEST_JSON, MANIFEST_SIG})  # the two files the manifest cannot list
READ_CHUNK = 1024 * 1024

EXIT_INTACT = 0
EXIT_NOT_INTACT = 1
EXIT_UNREADABLE = 2


class PackageUnreadable(Exception):
    """Not a ZIP, no manifest, a manifest that is not JSON, or a key that is not Ed25519."""


@dataclass(frozen=True)
class Problem:
    kind: str  # signature | changed | missing | extra | duplicate
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"


@dataclass
class Verification:
    key_source: str  # "given" or "embedded"
    key_fingerprint: str
    declared_fingerprint: str
    engagement: dict[str, Any]
    files_checked: int = 0
    bytes_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def signature_valid(self) -> bool:
        return not any(p.kind == "signature" for p in self.problems)


def fingerprint_of(key: Ed25519PublicKey) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo, as the portal shows it."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as error:
        raise PackageUnreadable(f"the public key is not a PEM public key ({error})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise PackageUnreadable(f"the public key is a {type(key).__name__}, not Ed25519")
    return key


def verify_package(package: Path, public_key_pem: bytes | None = None) -> Verification:
    """Check ``package`` against its signed manifest; see the module docstring."""
    try:
        archive = zipfile.ZipFile(package)
    except (OSError, zipfile.BadZipFile) as error:
        raise PackageUnreadable(f"{package}: not a readable ZIP archive ({error})") from None
    with archive:
        manifest_bytes = _read_member(archive, MANIFEST_JSON)
        signature = _read_member(archive, MANIFEST_SIG)
        manifest = _parse_manifest(manifest_bytes)
        declared = manifest.get("signing_key") or {}
        if public_key_pem is None:
            embedded = declared.get("public_key_pem")
            if not isinstance(embedded, str):
                raise PackageUnreadable(f"{MANIFEST_JSON} names no public key; pass --public-key")
            key, key_source = load_public_key(embedded.encode("ascii")), "embedded"
        else:
            key, key_source = load_public_key(public_key_pem), "given"
        result = Verification(
            key_source=key_source,
            key_fingerprint=fingerprint_of(key),
            declared_fingerprint=str(declared.get("fingerprint", "")),
            engagement=manifest.get("engagement") or {},
        )
        _check_signature(result, key, manifest_bytes, signature)
        _check_files(result, archive, manifest)
    return result


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except KeyError:
        raise PackageUnreadable(f"the archive holds no {name}; it is not an evidence package") from None
    except (zipfile.BadZipFile, OSError) as error:
        raise PackageUnreadable(f"{name} cannot be read from the archive ({error})") from None


def _parse_manifest(manifest_bytes: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(manifest_bytes)
    except (ValueError, UnicodeDecodeError) as error:
        raise PackageUnreadable(f"{MANIFEST_JSON} is not JSON ({error})") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or not isinstance(manifest.get("files"), list)
    ):
        raise PackageUnreadable(f"{MANIFEST_JSON} is not an evidence-package manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise PackageUnreadable(
            f"{MANIFEST_JSON} has format version {manifest.get('format_version')!r}; this verifier reads {FORMAT_VERSION}"
        )
    return manifest


def _check_signature(result: Verification, key: Ed25519PublicKey, manifest_bytes: bytes, signature: bytes) -> None:
    try:
        key.verify(signature, manifest_bytes)
    except InvalidSignature:
        reason = "the manifest was changed after signing, or it was signed by another key"
        if result.declared_fingerprint and result.declared_fingerprint != result.key_fingerprint:
            reason = f"the manifest says it was signed by key {result.declared_fingerprint}, not this one"
        result.problems.append(
            Problem(
                "signature",
                MANIFEST_SIG,
                f"bad signature: it does not verify with key {result.key_fingerprint} ({reason})",
            )
        )


def _check_files(result: Verification, archive: zipfile.ZipFile, manifest: dict[str, Any]) -> None:
    names = [info.filename for info in archive.infolist() if not info.is_dir()]
    for name, count in sorted(Counter(names).items()):
        if count > 1:
            result.problems.append(Problem("duplicate", name, f"appears {count} times in the archive"))
    present = set(names)
    listed: set[str] = set()
    for entry in manifest["files"]:
        path, expected_sha, expected_size = str(entry.get("path", "")), entry.get("sha256"), entry.get("size")
        listed.add(path)
        if path not in present:
            result.problems.append(Problem("missing", path, "listed in the manifest but not in the archive"))
            continue
        actual_sha, actual_size, error = _hash_member(archive, path)
        result.files_checked += 1
        result.bytes_checked += actual_size
        if error:
            result.problems.append(Problem("changed", path, f"differs: {error}"))
        elif actual_sha != expected_sha or actual_size != expected_size:
            result.problems.append(
                Problem(
                    "changed",
                    path,
                    f"differs from the manifest (sha256 {actual_sha}, {actual_size} bytes; expected {expected_sha}, {expected_size} bytes)",
                )
            )
    csv_entry = next((e for e in manifest["files"] if e.get("path") == MANIFEST_CSV), None)
    if csv_entry is None or csv_entry.get("sha256") != manifest.get("manifest_csv_sha256"):
        result.problems.append(
            Problem("changed", MANIFEST_CSV, "its hash in the manifest's file list and manifest_csv_sha256 disagree")
        )
    for name in sorted(present - listed - UNLISTED):
        result.problems.append(Problem("extra", name, "in the archive but not listed in the manifest"))


def _hash_member(archive: zipfile.ZipFile, name: str) -> tuple[str, int, str | None]:
    digest = hashlib.sha256()
    size = 0
    try:
        with archive.open(name) as member:
            while chunk := member.read(READ_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        # zipfile checks each member's CRC-32 as it reads; a mismatch lands here.
        return digest.hexdigest(), size, f"the archive entry is damaged ({error})"
    return digest.hexdigest(), size, None


def report_lines(result: Verification) -> list[str]:
    """What the command line prints: a summary when intact, else every problem, first first."""
    engagement = result.engagement
    lines = []
    if result.key_source == "embedded":
        lines.append(
            "warning: checked with the public key embedded in the package; this proves the package is "
            "unchanged since it was signed, not who signed it. For authenticity pass --public-key with "
            f"the key obtained from the portal and compare its fingerprint: {result.key_fingerprint}"
        )
    if result.intact:
        lines.append(
            f"intact: {result.files_checked} files ({result.bytes_checked} bytes) match the signed manifest; "
            f"signature valid (Ed25519 key {result.key_fingerprint}); engagement "
            f"{engagement.get('name', '?')!s} ({engagement.get('period_start', '?')} to {engagement.get('period_end', '?')})"
        )
        return lines
    first = result.problems[0]
    lines.append(f"NOT INTACT: {first}")
    lines.extend(f"  {problem}" for problem in result.problems[1:])
    lines.append(f"{len(result.problems)} problem(s); {result.files_checked} files checked")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify an audit-portal evidence package offline.")
    parser.add_argument("package", type=Path, help="the evidence package (.zip)")
    parser.add_argument("--public-key", type=Path, help="the portal's public key (PEM), as shown in the portal")
    arguments = parser.parse_args(argv)
    return run(arguments.package, arguments.public_key, out=sys.stdout, err=sys.stderr)


def run(package: Path, public_key: Path | None, *, out: Any, err: Any) -> int:
    try:
        pem = public_key.read_bytes() if public_key is not None else None
        result = verify_package(package, pem)
    except PackageUnreadable as error:
        print(f"error: {error}", file=err)
        return EXIT_UNREADABLE
    except OSError as error:
        print(f"error: {error.filename}: {error.strerror}", file=err)
        return EXIT_UNREADABLE
    lines = report_lines(result)
    stream = out if result.intact else err
    for line in lines:
        print(line, file=err if line.startswith("warning:") else stream)
    return EXIT_INTACT if result.intact else EXIT_NOT_INTACT


if __name__ == "__main__":
    sys.exit(main())
