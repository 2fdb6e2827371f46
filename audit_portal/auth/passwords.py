"""Password hashing (argon2id) and the password rules of NIST SP 800-63B: a minimum length, no
composition rules, refused when common or breached or when it contains the user name."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from audit_portal.i18n import N_

MIN_LENGTH = 12
# 800-63B asks verifiers to accept at least 64 characters; the cap only bounds hashing work.
MAX_LENGTH = 256
COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common-passwords.txt"

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def spend_verification_time(password: str) -> None:
    """Verify against a throw-away hash so an unknown user name costs as much time as a wrong
    password: the answer's timing does not reveal which accounts exist."""
    verify_password(_dummy_hash(), password)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().casefold() for line in lines if line.strip())


def password_refusals(password: str, username: str) -> list[tuple[str, dict[str, object]]]:
    """Why ``password`` is refused for ``username``, as catalogue messages and their values;
    empty when it is acceptable."""
    problems: list[tuple[str, dict[str, object]]] = []
    if len(password) < MIN_LENGTH:
        problems.append((N_("Use at least %(least)s characters."), {"least": MIN_LENGTH}))
    if len(password) > MAX_LENGTH:
        problems.append((N_("Use at most %(most)s characters."), {"most": MAX_LENGTH}))
    folded = password.casefold()
    if folded in common_passwords():
        problems.append((N_("This password is on a list of common or breached passwords; choose another."), {}))
    if username and username.casefold() in folded:
        problems.append((N_("The password must not contain the user name."), {}))
    return problems


def password_problems(password: str, username: str) -> list[str]:
    """Why ``password`` is refused for ``username``, in English; empty when it is acceptable."""
    return [message % values for message, values in password_refusals(password, username)]


def generate_password() -> str:
    """A random password for new accounts and demo users (about 120 bits)."""
    return secrets.token_urlsafe(15)
