"""Settings, read once from the environment (prefix ``AUDIT_PORTAL_``) or a ``.env`` file.

A wrong setting stops the portal at start with one line naming it (:class:`SettingsError`).
"""

from __future__ import annotations

import ipaddress
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from audit_portal.i18n import LANGUAGES

STORE_SCHEMES = ("file", "s3", "memory")
# How often a control runs, from rarest to most frequent: the classes sample sizes are set for.
SAMPLE_FREQUENCIES = ("annual", "quarterly", "monthly", "weekly", "daily")
SECRET_KEY_FILE = "secret_key"


class SettingsError(Exception):
    """A setting is wrong; the message names it and says why, on one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_PORTAL_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    # SQLite: how long a write waits for the database's single write lock before the request
    # answers 503 with Retry-After (nothing saved). PostgreSQL locks rows and ignores it.
    database_busy_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
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
    # The organisation's time zone: pages show times in it (unless a user chose their own);
    # the database stores UTC.
    time_zone: str = "Europe/Amsterdam"
    # The language of the monthly compliance report (the PDF, and the workbook the scheduler
    # and the CLI generate): the organisation's, not one reader's. One of i18n.LANGUAGES.
    report_language: str = "en"
    scheduler_enabled: bool = True
    session_idle_minutes: int = Field(default=30, gt=0)
    session_absolute_hours: int = Field(default=12, gt=0)
    retention_years_after_cycle: int = Field(default=1, ge=0)
    # The coverage the organisation aims for, in percent of applicable controls: drawn as the
    # target line of the dashboard's and the report's charts. 0: no target line.
    coverage_target_percent: float = Field(default=90.0, ge=0, le=100)
    # The Ed25519 key that signs evidence packages; empty: generated into the data directory.
    signing_key_file: Path | None = None
    # Outgoing e-mail (the weekly digest). No host: no e-mail is sent.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, gt=0, lt=65536)
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = "audit-portal@localhost"
    smtp_starttls: bool = True
    # Collector plugins the portal loads (entry point names, comma-separated); empty: all.
    collector_allowlist: Annotated[frozenset[str], NoDecode] = frozenset()
    # Folders whose files host-managed collector instances may read (comma-separated); empty:
    # no collector option may name a file. The data directory is never readable.
    collector_path_roots: Annotated[tuple[Path, ...], NoDecode] = ()

    @field_validator("collector_allowlist", mode="before")
    @classmethod
    def _comma_separated_names(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("collector_path_roots", mode="before")
    @classmethod
    def _comma_separated_paths(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("collector_path_roots")
    @classmethod
    def _absolute_roots(cls, value: tuple[Path, ...]) -> tuple[Path, ...]:
        relative = [str(path) for path in value if not path.expanduser().is_absolute()]
        if relative:
            raise ValueError(f"give absolute folders, not {', '.join(relative)}")
        return tuple(path.expanduser().resolve() for path in value)

    # The key of the audit log's MAC chain (at least 32 bytes); empty: derived from SECRET_KEY.
    audit_key_file: Path | None = None
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or networks,
    # comma-separated; "*" trusts every peer): the reverse proxy or load balancer in front.
    trusted_proxies: Annotated[list[str], NoDecode] = ["127.0.0.1", "::1"]
    # How often each instance's scheduler looks for due work; the job lease makes any number
    # of instances safe, so this only trades database queries for promptness.
    scheduler_tick_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Single sign-on with OpenID Connect (see docs/deployment.md). No issuer: SSO is off.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr = SecretStr("")
    oidc_scopes: str = "openid email profile"
    oidc_username_claim: str = "preferred_username"
    oidc_groups_claim: str = "groups"
    # JSON: provider group -> portal role, e.g. {"isms-admins": "admin", "it-ops": "it"}.
    # A user with no mapped group gets an account without any access.
    oidc_role_mapping: dict[str, str] = Field(default_factory=dict)
    # Comma-separated amr / acr values that mean the provider checked a second factor; only
    # then is the portal's own TOTP step skipped.
    oidc_mfa_amr: str = "mfa,otp,hwk,swk,sc"
    oidc_mfa_acr: str = ""
    oidc_provider_name: str = "single sign-on"
    # Off: only the break-glass admin accounts (comma-separated user names) sign in with a
    # password; everyone else uses single sign-on.
    password_login_enabled: bool = True
    break_glass_admins: str = ""

    @field_validator("oidc_role_mapping")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        from audit_portal.principals import ROLES

        for group, role in value.items():
            if role not in ROLES:
                raise ValueError(
                    f"group {group!r} maps to unknown role {role!r}; use one of {', '.join(sorted(ROLES))}"
                )
        return value

    @field_validator("oidc_issuer")
    @classmethod
    def _https_issuer(cls, value: str) -> str:
        parsed = urlparse(value)
        if value and not (parsed.scheme == "https" or parsed.hostname in ("127.0.0.1", "localhost", "::1")):
            raise ValueError("must be an https:// URL (plain http only on loopback, for tests)")
        return value.rstrip("/")

    # Objects the weekly integrity scrub re-hashes, chosen at random; empty: every object.
    store_verify_sample: int | None = Field(default=None, gt=0)
    # Sample sizes per frequency of the sampled requirement, as audit sampling guidance gives
    # them ("frequency=least-most", comma-separated; every frequency of SAMPLE_FREQUENCIES).
    sample_sizes: Annotated[dict[str, tuple[int, int]], NoDecode] = {
        "annual": (1, 1),
        "quarterly": (2, 2),
        "monthly": (2, 5),
        "weekly": (5, 15),
        "daily": (20, 40),
    }

    @field_validator("sample_sizes", mode="before")
    @classmethod
    def _sample_size_ranges(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        sizes: dict[str, tuple[int, int]] = {}
        for part in (p.strip() for p in value.split(",") if p.strip()):
            name, _, sizes_text = part.partition("=")
            low, _, high = sizes_text.partition("-")
            try:
                sizes[name.strip()] = (int(low), int(high or low))
            except ValueError:
                raise ValueError(f"{part!r} is not frequency=least-most, e.g. weekly=5-15") from None
        return sizes

    @field_validator("sample_sizes")
    @classmethod
    def _every_frequency_sized(cls, value: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        unknown = sorted(set(value) - set(SAMPLE_FREQUENCIES))
        missing = [name for name in SAMPLE_FREQUENCIES if name not in value]
        if unknown or missing:
            raise ValueError(
                f"give a size for each of {', '.join(SAMPLE_FREQUENCIES)}"
                + (f" (unknown: {', '.join(unknown)})" if unknown else "")
            )
        for name, (low, high) in value.items():
            if not 1 <= low <= high:
                raise ValueError(f"{name}: the least size is at least 1 and not above the most")
        return value

    @field_validator("store_url")
    @classmethod
    def _known_store_scheme(cls, value: str) -> str:
        if value:
            scheme = urlparse(value).scheme
            if scheme not in STORE_SCHEMES:
                raise ValueError(f"unknown scheme '{scheme}'; use file://, s3:// or memory://")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_addresses(cls, value: object) -> object:
        entries = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
        if not isinstance(entries, list):
            return value
        entries = [entry for entry in entries if entry]
        for entry in entries:
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
        return entries

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Amsterdam)") from None
        return value

    @field_validator("report_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"{value!r} is not a language of the portal (one of {', '.join(LANGUAGES)})")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        return value

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'audit-portal.db'}"
        elif self.database_url.startswith("postgresql://"):
            self.database_url = "postgresql+psycopg://" + self.database_url.removeprefix("postgresql://")
        if not self.store_url:
            self.store_url = (self.data_dir / "evidence").as_uri()
        if self.oidc_issuer and not self.oidc_client_id:
            raise ValueError("OIDC_CLIENT_ID: required when AUDIT_PORTAL_OIDC_ISSUER is set")
        if self.secret_key and self.environment == "production" and len(self.secret_key) < 32:
            raise ValueError("SECRET_KEY: must be at least 32 characters in production")
        return self

    @property
    def sso_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @property
    def break_glass_usernames(self) -> frozenset[str]:
        return frozenset(name.strip().lower() for name in self.break_glass_admins.split(",") if name.strip())

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


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning a validation error into one clear line naming the setting.
    ``overrides`` are setting values of any type: pydantic validates them, as it does the
    environment's."""
    try:
        return Settings(**overrides)
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
