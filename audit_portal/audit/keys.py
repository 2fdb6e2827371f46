"""The key of the audit log's MAC chain. It is never stored in the database, so someone who can
write the database can recompute plain hashes but not the MACs.

The key is ``AUDIT_PORTAL_AUDIT_KEY_FILE`` when set (at least 32 bytes of any content; several
portal instances must share it), else derived from the secret key with HKDF-SHA256 and a purpose
label, so the secret key's other uses (sessions, CSRF, collector secrets) never see the same key.

Each engine carries the key it writes with: the app binds the key of its own settings
(:func:`bind`); a process that opens an engine without binding one (a CLI command, a
collector run started by cron) uses the key of the settings in its environment, as it does for
everything else.
"""

from __future__ import annotations

import hashlib
import hmac
import weakref
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.engine import Engine
from sqlmodel import Session

from audit_portal.config import Settings

PURPOSE = b"audit-portal audit-log chain v1"
MIN_KEY_FILE_BYTES = 32
GENESIS_MAC = "0" * 64


class ChainKeyError(Exception):
    """The configured key cannot be used; the message names the setting and says why."""


@dataclass(frozen=True)
class ChainKey:
    secret: bytes = field(repr=False)
    source: str

    @property
    def key_id(self) -> str:
        """Names the key without revealing it (an HMAC of a fixed label), so a verifier holding
        another key says "wrong key" instead of reporting every event as changed."""
        return hmac.new(self.secret, b"key-id", hashlib.sha256).hexdigest()[:16]

    def mac(self, prev_mac: str, event_hash: str) -> str:
        """The MAC of one event: over the previous event's MAC and this event's plain hash (which
        already covers the event's fields, its id and the previous plain hash)."""
        message = f"{prev_mac}\n{event_hash}".encode("ascii")
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


def derive_from_secret(secret_key: str) -> ChainKey:
    secret = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret_key.encode("utf-8"))
    return ChainKey(secret, "derived from AUDIT_PORTAL_SECRET_KEY")


def chain_key(settings: Settings) -> ChainKey:
    if settings.audit_key_file is not None:
        path = settings.audit_key_file.expanduser()
        try:
            secret = path.read_bytes()
        except OSError as error:
            raise ChainKeyError(f"AUDIT_PORTAL_AUDIT_KEY_FILE: {path} cannot be read ({error.strerror})") from None
        if len(secret.strip()) < MIN_KEY_FILE_BYTES:
            raise ChainKeyError(
                f"AUDIT_PORTAL_AUDIT_KEY_FILE: {path} holds {len(secret.strip())} bytes; "
                f"it needs at least {MIN_KEY_FILE_BYTES} (e.g. 'openssl rand -base64 48 > {path.name}')"
            )
        return ChainKey(secret.strip(), f"AUDIT_PORTAL_AUDIT_KEY_FILE={path}")
    return derive_from_secret(settings.ensure_secret_key())


_bound: weakref.WeakKeyDictionary[Engine, ChainKey] = weakref.WeakKeyDictionary()


def bind(engine: Engine, key: ChainKey) -> None:
    _bound[engine] = key


def for_engine(engine: Engine) -> ChainKey:
    key = _bound.get(engine)
    if key is None:
        from audit_portal.config import load_settings

        key = chain_key(load_settings())
        _bound[engine] = key
    return key


def for_session(session: Session) -> ChainKey:
    return for_engine(session.get_bind().engine)
