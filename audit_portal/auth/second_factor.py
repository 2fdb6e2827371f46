"""TOTP (RFC 6238) with pyotp, enrolment QR codes drawn locally with segno, and single-use
recovery codes stored as SHA-256 hashes.

Recovery codes carry 60 random bits and sign-in attempts are throttled, so a fast hash is
enough; it also lets a code be found by its hash without trying each stored one.
"""

from __future__ import annotations

import hashlib
import secrets
import time

import pyotp
import segno
from sqlmodel import Session

from audit_portal import clock
from audit_portal.auth import repository
from audit_portal.auth.models import RecoveryCode, UserAccount

ISSUER = "audit-portal"
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: UserAccount) -> str:
    assert user.totp_secret
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG: drawn here, no external service sees the secret."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff")


def current_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def verify_totp(session: Session, user: UserAccount, code: str) -> bool:
    """Accept the code of the current 30-second step or its neighbours, each step only once."""
    if not user.totp_secret:
        return False
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now = time.time()
    for drift in (0, -1, 1):
        at = now + drift * totp.interval
        step = int(at // totp.interval)
        if secrets.compare_digest(totp.at(at), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            user.totp_last_step = step
            session.flush()
            return True
    return False


def _hash_code(code: str) -> str:
    normalised = "".join(code.lower().split()).replace("-", "")
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def replace_recovery_codes(session: Session, user: UserAccount) -> list[str]:
    """Ten new codes (shown once); the old ones stop working."""
    assert user.id is not None
    repository.delete_recovery_codes(session, user.id)
    now = clock.utcnow()
    codes = [_new_code() for _ in range(RECOVERY_CODE_COUNT)]
    for code in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=_hash_code(code), created_at=now))
    session.flush()
    return codes


def use_recovery_code(session: Session, user: UserAccount, code: str) -> bool:
    assert user.id is not None
    stored = repository.unused_recovery_code(session, user.id, _hash_code(code))
    if stored is None:
        return False
    stored.used_at = clock.utcnow()
    session.flush()
    return True


def remaining_recovery_codes(session: Session, user: UserAccount) -> int:
    assert user.id is not None
    return repository.count_unused_recovery_codes(session, user.id)
