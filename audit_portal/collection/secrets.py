"""Secrets in collector configurations: encrypted at rest, masked wherever they are shown.

Every ``SecretStr`` field of a collector's Config model is stored as ``{"$secret": TOKEN}``,
TOKEN being Fernet-encrypted with a key derived from the portal's secret key; a page, a log or an
evidence file only ever sees :data:`MASK`. Changing the secret key makes stored secrets
unreadable, and the run says so instead of running with a broken credential.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, SecretBytes, SecretStr

MASK = "********"
_MARKER = "$secret"


class SecretUnreadable(ValueError):
    """A stored secret cannot be decrypted (the portal's secret key changed)."""


def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"audit-portal collector secrets").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _plain(value: Any, encrypt: Fernet | None) -> Any:
    """A JSON-ready copy of a model dump; secrets encrypted (``encrypt``) or masked (None)."""
    if isinstance(value, SecretStr | SecretBytes):
        secret = value.get_secret_value()
        text = secret.decode() if isinstance(secret, bytes) else secret
        return {_MARKER: encrypt.encrypt(text.encode()).decode()} if encrypt else MASK
    if isinstance(value, dict):
        return {key: _plain(item, encrypt) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item, encrypt) for item in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def sealed(config: BaseModel, secret_key: str) -> dict[str, Any]:
    """The configuration as stored: plain JSON, secrets encrypted."""
    return _plain(config.model_dump(mode="python", exclude_unset=False), _fernet(secret_key))


def masked(config: BaseModel) -> dict[str, Any]:
    """The configuration as shown: plain JSON, secrets replaced by :data:`MASK`."""
    return _plain(config.model_dump(mode="python"), None)


def unsealed(stored: Any, secret_key: str) -> Any:
    """The stored JSON with secrets decrypted, ready for ``Config.model_validate``."""
    fernet = _fernet(secret_key)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {_MARKER}:
                try:
                    return fernet.decrypt(value[_MARKER].encode()).decode()
                except InvalidToken:
                    raise SecretUnreadable(
                        "a stored secret cannot be decrypted: the portal's secret key changed since it "
                        "was saved; enter the secret again"
                    ) from None
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(stored)


def masked_stored(stored: Any) -> Any:
    """Stored JSON shown without decrypting anything (for an instance whose plugin is gone)."""
    if isinstance(stored, dict):
        if set(stored) == {_MARKER}:
            return MASK
        return {key: masked_stored(item) for key, item in stored.items()}
    if isinstance(stored, list):
        return [masked_stored(item) for item in stored]
    return stored


def secret_values(config: BaseModel) -> list[str]:
    """Every secret's clear text, longest first, so a redactor replaces whole values."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr | SecretBytes):
            secret = value.get_secret_value()
            text = secret.decode() if isinstance(secret, bytes) else secret
            if text:
                found.append(text)
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                walk(item)

    walk(config)
    return sorted(set(found), key=len, reverse=True)


class Redactor:
    """Replaces secret values in text and bytes. Very short secrets are replaced too: a
    masked log with odd gaps is better than a leaked password."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = [secret for secret in secrets if secret]

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        return value

    def data(self, value: bytes) -> bytes:
        for secret in self._secrets:
            value = value.replace(secret.encode(), MASK.encode())
        return value

    def __bool__(self) -> bool:
        return bool(self._secrets)
