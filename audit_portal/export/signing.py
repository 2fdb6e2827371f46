"""The portal's Ed25519 signing key: it signs the manifest of every evidence package.

The key comes from ``SIGNING_KEY_FILE`` when set (a PEM private key; several portal instances
behind a load balancer must share one key, so production sets it), else from
``<data_dir>/signing_key.pem``, generated on first use with mode 0600. The public key is shown in
the portal and served at ``/api/v1/signing-key``; its fingerprint is the SHA-256 of its DER
SubjectPublicKeyInfo, the same value ``openssl pkey -pubin -outform DER | sha256sum`` prints.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit_portal.config import Settings

GENERATED_KEY_FILE = "signing_key.pem"
ALGORITHM = "Ed25519"


class SigningKeyError(Exception):
    """The configured key cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    source: Path

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def public_pem(self) -> str:
        return public_key_pem(self.public_key)

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.public_key)

    def sign(self, data: bytes | memoryview) -> bytes:
        """A memoryview signs a large file mapped into memory without copying it."""
        return self.private_key.sign(data)


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def fingerprint_of(key: Ed25519PublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def signing_key(settings: Settings) -> SigningKey:
    """The portal's key: the configured file, else the one in the data directory (created now
    when it does not exist yet)."""
    if settings.signing_key_file is not None:
        path = settings.signing_key_file.expanduser()
        if not path.is_file():
            raise SigningKeyError(f"AUDIT_PORTAL_SIGNING_KEY_FILE: {path} does not exist")
        return SigningKey(_read_private_key(path), path)
    path = settings.data_dir / GENERATED_KEY_FILE
    if not path.exists():
        _generate(path)
    return SigningKey(_read_private_key(path), path)


def _generate(path: Path) -> None:
    """Write a new key with mode 0600 from the start; O_EXCL makes a second process that races
    this one keep the first key instead of overwriting it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())


def _read_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise SigningKeyError(f"{path}: not an unencrypted PEM private key ({error})") from None
    except OSError as error:
        raise SigningKeyError(f"{path}: cannot be read ({error.strerror})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: holds a {type(key).__name__}, not an Ed25519 private key")
    return key
