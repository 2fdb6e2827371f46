"""Settings, read once from the environment (prefix ``AUDIT_PORTAL_``) or a ``.env`` file.

A wrong setting stops the portal at start with one line naming it (:class:`SettingsError`).
"""
from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

STORE_SCHEMES = ("file", "s3", "memory")
SECRET_KEY_FILE = "secret_key"


class SettingsError(Exception):
    """A setting is wrong; the message names it and says why, on one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_PORTAL_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    store_url: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_sse: Literal["AES256", "aws:kms"] | None = None
    s3_kms_key_id: str | None = None
    s3_object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] | None = None
    s3_object_lock_days: int | None = Field(default=None, ge=1)
    secret_key: str = ""
    max_upload_bytes: int = Field(default=2 * 1024**3, gt=0)
    base_url: str = "http://127.0.0.1:8000"
    scheduler_enabled: bool = True
    session_idle_minutes: int = Field(default=30, gt=0)
    session_absolute_hours: int = Field(default=12, gt=0)
    retention_years_after_cycle: int = Field(default=1, ge=0)
    # The Ed25519 key that signs evidence packages; empty: generated into the data directory.
    signing_key_file: Path | None = None
    # Outgoing e-mail (the weekly digest). No host: no e-mail is sent.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, gt=0, lt=65536)
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = "audit-portal@localhost"
    smtp_starttls: bool = True
    # Objects the weekly integrity scrub re-hashes, chosen at random; empty: every object.
    store_verify_sample: int | None = Field(default=None, gt=0)

    @field_validator("store_url")
    @classmethod
    def _known_store_scheme(cls, value: str) -> str:
        if value:
            scheme = urlparse(value).scheme
            if scheme not in STORE_SCHEMES:
                raise ValueError(
                    f"unknown scheme '{scheme}'; use file://, s3:// or memory://"
                )
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        return value

    @model_validator(mode="after")
    def _fill_defaults(self) -> "Settings":
        self.data_dir = self.data_dir.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'audit-portal.db'}"
        elif self.database_url.startswith("postgresql://"):
            self.database_url = "postgresql+psycopg://" + self.database_url.removeprefix("postgresql://")
        if not self.store_url:
            self.store_url = (self.data_dir / "evidence").as_uri()
        if self.secret_key and self.environment == "production" and len(self.secret_key) < 32:
            raise ValueError("SECRET_KEY: must be at least 32 characters in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def ensure_secret_key(self) -> str:
        """The key that signs sessions and CSRF tokens: the configured one, else one generated
        into the data directory on first run so that restarts keep sessions valid."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / SECRET_KEY_FILE
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        self.secret_key = path.read_text().strip()
        return self.secret_key


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning a validation error into one clear line naming the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:
            raise SettingsError(f"AUDIT_PORTAL_{message}") from None
        name = "_".join(str(part) for part in first["loc"]).upper()
        raise SettingsError(f"AUDIT_PORTAL_{name}: {message}") from None


@lru_cache
def get_settings() -> Settings:
    return load_settings()
