"""The seal of a push: what makes a replayed or altered push recognisable to the portal.

The agent describes the whole run in a *manifest* (instance, collector, times, status, log,
error, findings, and each artifact's kind, file name, size and SHA-256) and signs

    push_id \\n signed_at \\n instance \\n sha256(canonical manifest)

with HMAC-SHA256 under a key both sides know: the SHA-256 of the service token (the portal keeps
only that digest). ``push_id`` is a random nonce the portal accepts once; the portal then checks
every uploaded artifact and the finishing request against the manifest. Standard library only:
the portal and the agent import this module alike."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SEAL_VERSION = "push-v1"


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_sha256(manifest: Any) -> str:
    return hashlib.sha256(canonical(manifest)).hexdigest()


def signing_key(token_digest_hex: str) -> bytes:
    """The HMAC key: the token's SHA-256 digest (what the portal stores for a service token)."""
    return bytes.fromhex(token_digest_hex)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _message(push_id: str, signed_at: str, instance: str, digest: str) -> bytes:
    return "\n".join((SEAL_VERSION, push_id, signed_at, instance, digest)).encode()


def sign(key: bytes, *, push_id: str, signed_at: str, instance: str, digest: str) -> str:
    return hmac.new(key, _message(push_id, signed_at, instance, digest), hashlib.sha256).hexdigest()


def verify(key: bytes, signature: str, *, push_id: str, signed_at: str, instance: str, digest: str) -> bool:
    expected = sign(key, push_id=push_id, signed_at=signed_at, instance=instance, digest=digest)
    return hmac.compare_digest(expected, signature)
