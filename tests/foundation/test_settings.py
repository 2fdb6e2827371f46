from __future__ import annotations

import pytest

from audit_portal.config import SettingsError, load_settings


def test_defaults_live_under_the_data_dir(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'audit-portal.db'}"
    assert settings.store_url == (tmp_path / "evidence").as_uri()
    assert settings.max_upload_bytes == 2 * 1024**3


def test_secret_key_is_generated_once_into_the_data_dir(tmp_path):
    first = load_settings(data_dir=tmp_path).ensure_secret_key()
    second = load_settings(data_dir=tmp_path).ensure_secret_key()
    assert first == second
    assert len(first) >= 48
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_unknown_store_scheme_names_the_setting(tmp_path):
    with pytest.raises(SettingsError) as raised:
        load_settings(data_dir=tmp_path, store_url="ftp://evidence")
    assert str(raised.value) == ("AUDIT_PORTAL_STORE_URL: unknown scheme 'ftp'; use file://, s3:// or memory://")


def test_unsupported_database_names_the_setting(tmp_path):
    with pytest.raises(SettingsError, match="^AUDIT_PORTAL_DATABASE_URL: only sqlite"):
        load_settings(data_dir=tmp_path, database_url="mysql://root@localhost/db")


def test_upload_limit_must_be_positive(tmp_path):
    with pytest.raises(SettingsError, match="^AUDIT_PORTAL_MAX_UPLOAD_BYTES: "):
        load_settings(data_dir=tmp_path, max_upload_bytes=0)


def test_short_secret_refused_in_production(tmp_path):
    with pytest.raises(SettingsError, match="^AUDIT_PORTAL_SECRET_KEY: must be at least 32"):
        load_settings(data_dir=tmp_path, environment="production", secret_key="short")


def test_plain_postgresql_url_uses_psycopg(tmp_path):
    settings = load_settings(data_dir=tmp_path, database_url="postgresql://u@db/x")
    assert settings.database_url == "postgresql+psycopg://u@db/x"
