"""The portal's signing key: generated once with mode 0600, or read from the configured file."""

from __future__ import annotations

import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

from audit_portal.export.signing import GENERATED_KEY_FILE, SigningKeyError, signing_key


def _pem(key) -> bytes:  # type: ignore[no-untyped-def]
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_generated_on_first_use_readable_by_the_owner_only_and_kept(settings):
    key = signing_key(settings)
    path = settings.data_dir / GENERATED_KEY_FILE
    assert key.source == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert signing_key(settings).fingerprint == key.fingerprint


def test_signatures_verify_with_the_public_key(settings):
    key = signing_key(settings)
    signature = key.sign(b"manifest")
    key.public_key.verify(signature, b"manifest")
    assert len(key.fingerprint) == 64 and key.public_pem.startswith("-----BEGIN PUBLIC KEY-----")


def test_the_configured_key_file_is_used(settings, tmp_path):
    configured = Ed25519PrivateKey.generate()
    path = tmp_path / "portal-signing.pem"
    path.write_bytes(_pem(configured))
    settings.signing_key_file = path
    key = signing_key(settings)
    assert key.source == path
    assert key.public_key.public_bytes_raw() == configured.public_key().public_bytes_raw()
    assert not (settings.data_dir / GENERATED_KEY_FILE).exists()


def test_a_missing_or_wrong_configured_key_is_refused_with_its_name(settings, tmp_path):
    settings.signing_key_file = tmp_path / "absent.pem"
    with pytest.raises(SigningKeyError, match="AUDIT_PORTAL_SIGNING_KEY_FILE: .*absent.pem does not exist"):
        signing_key(settings)
    rsa = tmp_path / "rsa.pem"
    rsa.write_bytes(_pem(generate_private_key(public_exponent=65537, key_size=2048)))
    settings.signing_key_file = rsa
    with pytest.raises(SigningKeyError, match="not an Ed25519 private key"):
        signing_key(settings)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    settings.signing_key_file = garbage
    with pytest.raises(SigningKeyError, match="not an unencrypted PEM private key"):
        signing_key(settings)


def test_the_setting_is_read_from_the_environment(monkeypatch, tmp_path):
    from audit_portal.config import load_settings

    monkeypatch.setenv("AUDIT_PORTAL_SIGNING_KEY_FILE", str(tmp_path / "k.pem"))
    assert load_settings(data_dir=tmp_path).signing_key_file == tmp_path / "k.pem"
