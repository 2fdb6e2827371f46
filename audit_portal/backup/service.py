"""Backup and restore of the portal itself: a consistent database dump, the keys in the data
directory, and a manifest of the evidence store's objects with their hashes.

The objects stay in the store: it has its own replication and Object Lock, and copying
terabytes of evidence into every backup would make backups too slow to take daily. What the
backup records is which objects the database may point at, so a restore can prove that the
store still holds every one of them, byte for byte when asked.

A backup is a folder (mode 0700, it holds the session and signing keys)::

    manifest.json        what is in it, with the SHA-256 of every file
    database.sqlite3     SQLite online backup API (a consistent copy while the portal runs)
    database.dump        or: pg_dump --format=custom (one consistent snapshot)
    data/secret_key      the keys from the data directory, when they are there
    data/signing_key.pem
    objects.jsonl        one line per store object: key, size, sha256

The database is dumped first and the store listed after: objects are write-once and only the
retention purge deletes them, so every object the dump refers to is in the listing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import URL, Engine, make_url

from audit_portal import __version__
from audit_portal import migrate as migrations
from audit_portal.config import SECRET_KEY_FILE, Settings
from audit_portal.export.signing import GENERATED_KEY_FILE
from evidence_store import ObjectNotFound, ObjectStore, StoreError

FORMAT = "audit-portal-backup/1"
MANIFEST = "manifest.json"
OBJECTS = "objects.jsonl"
DATA_FOLDER = "data"
SQLITE_FILE = "database.sqlite3"
POSTGRES_FILE = "database.dump"
# The files of the data directory that a restored portal cannot do without: the key that signs
# sessions and CSRF tokens, and the key that signs evidence packages (auditors hold its public
# half, so a new one would make earlier packages look foreign).
DATA_FILES = (SECRET_KEY_FILE, GENERATED_KEY_FILE)
HASH_CHUNK = 1024 * 1024


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupSummary:
    folder: Path
    database_kind: str
    database_bytes: int
    objects: int
    object_bytes: int
    data_files: list[str]


@dataclass
class RestoreSummary:
    database_kind: str
    revisions: list[str]
    objects_checked: int = 0
    data_files: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


def database_kind(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- taking a backup ---------------------------------------------------------------------------


def backup(settings: Settings, engine: Engine, store: ObjectStore, folder: Path) -> BackupSummary:
    """Write a backup into ``folder``, which must not exist yet (or be empty)."""
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty; give a new folder for each backup")
    revisions = sorted(migrations.current_revisions(engine))
    if not revisions:
        raise BackupError("the database has no schema yet; there is nothing to back up")
    partial = folder.with_name(folder.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True, mode=0o700)
    try:
        kind = database_kind(settings.database_url)
        if kind == "sqlite":
            database_file = partial / SQLITE_FILE
            _sqlite_backup(_sqlite_path(settings.database_url), database_file)
        else:
            database_file = partial / POSTGRES_FILE
            _pg_dump(settings.database_url, database_file)
        data_files = _copy_data_files(settings.data_dir, partial / DATA_FOLDER)
        object_count, object_bytes = _write_object_listing(store, partial / OBJECTS)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "portal_version": __version__,
            "database": {
                "kind": kind,
                "file": database_file.name,
                "size": database_file.stat().st_size,
                "sha256": file_sha256(database_file),
                "revisions": revisions,
            },
            "data_files": {name: file_sha256(partial / DATA_FOLDER / name) for name in data_files},
            "store": {
                "described": store.describe(),
                "listing": OBJECTS,
                "listing_sha256": file_sha256(partial / OBJECTS),
                "objects": object_count,
                "bytes": object_bytes,
            },
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if folder.exists():
            folder.rmdir()
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BackupSummary(folder, kind, manifest["database"]["size"], object_count, object_bytes, data_files)


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _sqlite_backup(source: Path, target: Path) -> None:
    # The online backup API copies a consistent snapshot page by page while writers go on.
    source_connection = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
    target_connection = sqlite3.connect(target)
    try:
        source_connection.backup(target_connection)
    finally:
        target_connection.close()
        source_connection.close()


def libpq_target(database_url: str) -> tuple[str, dict[str, str]]:
    """The URL pg_dump and pg_restore understand, without the password (passed in the
    environment instead, where other users of the machine cannot read it from ``ps``)."""
    url: URL = make_url(database_url)
    env = {}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run_pg_tool(arguments: list[str], database_url: str) -> None:
    target, env = libpq_target(database_url)
    tool = arguments[0]
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed; install the PostgreSQL client tools")
    completed = subprocess.run(
        [*arguments, "--dbname", target], env={**os.environ, **env}, capture_output=True, text=True
    )
    if completed.returncode != 0:
        detail = (completed.stderr.strip() or completed.stdout.strip()).splitlines()
        raise BackupError(f"{tool} failed: {detail[0] if detail else 'exit ' + str(completed.returncode)}")


def _pg_dump(database_url: str, target: Path) -> None:
    # --format=custom is compressed and lets pg_restore pick objects; pg_dump reads in one
    # repeatable-read snapshot, so the dump is consistent while the portal goes on writing.
    _run_pg_tool(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(target)], database_url)


def _copy_data_files(data_dir: Path, target: Path) -> list[str]:
    target.mkdir(mode=0o700)
    copied = []
    for name in DATA_FILES:
        source = data_dir / name
        if source.is_file():
            shutil.copyfile(source, target / name)
            (target / name).chmod(0o600)
            copied.append(name)
    return copied


def _write_object_listing(store: ObjectStore, target: Path) -> tuple[int, int]:
    count = size = 0
    with target.open("w") as listing:
        for key in store.iter_keys():
            try:
                info = store.stat(key)
            except ObjectNotFound:
                continue  # deleted (by the retention purge) between listing and stat
            listing.write(json.dumps({"key": key, "size": info.size, "sha256": info.sha256}) + "\n")
            count += 1
            size += info.size
    return count, size


# --- restoring ---------------------------------------------------------------------------------


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupError(f"{folder} is no portal backup: it has no {MANIFEST}") from None
    except (OSError, ValueError) as error:
        raise BackupError(f"{path} cannot be read: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(
            f"{path}: unknown backup format {manifest.get('format') if isinstance(manifest, dict) else None!r}"
        )
    return manifest


def verify_backup_files(folder: Path, manifest: dict) -> None:
    """Every file of the backup hashes to what the manifest says (a damaged or edited backup is
    refused before anything is restored)."""
    expected = {
        manifest["database"]["file"]: manifest["database"]["sha256"],
        OBJECTS: manifest["store"]["listing_sha256"],
    }
    for name, digest in manifest.get("data_files", {}).items():
        if name not in DATA_FILES:
            raise BackupError(f"the manifest names an unexpected data file {name!r}")
        expected[f"{DATA_FOLDER}/{name}"] = digest
    for relative, digest in expected.items():
        path = folder / relative
        if not path.is_file():
            raise BackupError(f"the backup lacks {relative}")
        if file_sha256(path) != digest:
            raise BackupError(f"{relative} does not match the manifest: the backup is damaged")


def iter_listing(folder: Path) -> Iterator[dict]:
    with (folder / OBJECTS).open() as listing:
        for line in listing:
            if line.strip():
                yield json.loads(line)


def check_store(folder: Path, store: ObjectStore, *, rehash: bool) -> RestoreSummary:
    """Which objects of the listing the store lacks, or holds with other content."""
    summary = RestoreSummary(database_kind="", revisions=[])
    for item in iter_listing(folder):
        key = item["key"]
        summary.objects_checked += 1
        try:
            info = store.stat(key)
        except ObjectNotFound:
            summary.missing.append(key)
            continue
        if info.size != item["size"] or (item["sha256"] and info.sha256 and info.sha256 != item["sha256"]):
            summary.changed.append(key)
            continue
        if rehash and item["sha256"]:
            digest = hashlib.sha256()
            for chunk in store.iter_chunks(key):
                digest.update(chunk)
            if digest.hexdigest() != item["sha256"]:
                summary.changed.append(key)
    return summary


def _database_is_empty(settings: Settings, engine: Engine) -> bool:
    if settings.is_sqlite and not _sqlite_path(settings.database_url).exists():
        return True  # checked without connecting, which would create the file
    return not inspect(engine).get_table_names()


def restore(
    settings: Settings,
    engine: Engine,
    store: ObjectStore,
    folder: Path,
    *,
    rehash: bool = False,
    ignore_missing_objects: bool = False,
    replace_data_files: bool = False,
) -> RestoreSummary:
    """Restore ``folder`` into the (empty) database and data directory the settings name.

    Every check runs before anything is written: the backup's own hashes, the kind of database,
    that the database is empty, that the data directory holds no other keys, and that the store
    still holds every object listed. A refused restore changes nothing.
    """
    manifest = read_manifest(folder)
    verify_backup_files(folder, manifest)
    kind = manifest["database"]["kind"]
    if kind != database_kind(settings.database_url):
        raise BackupError(
            f"the backup holds a {kind} database but AUDIT_PORTAL_DATABASE_URL names "
            f"{database_kind(settings.database_url)}; restore into the same kind of database"
        )
    try:
        empty = _database_is_empty(settings, engine)
    except Exception as error:  # noqa: BLE001 - any driver error means: cannot reach it
        raise BackupError(f"the database cannot be reached: {str(error).splitlines()[0]}") from None
    if not empty:
        raise BackupError("the database already holds tables; restore only into an empty database")
    data_files = sorted(manifest.get("data_files", {}))
    for name in data_files:
        present = settings.data_dir / name
        wanted = folder / DATA_FOLDER / name
        if present.exists() and not replace_data_files and file_sha256(present) != file_sha256(wanted):
            raise BackupError(f"{present} exists with other content; move it away or pass --replace-keys")
    try:
        summary = check_store(folder, store, rehash=rehash)
    except StoreError as error:
        raise BackupError(f"the evidence store cannot be read: {error}") from None
    if (summary.missing or summary.changed) and not ignore_missing_objects:
        problems = [*(f"missing {key}" for key in summary.missing), *(f"changed {key}" for key in summary.changed)]
        raise BackupError(
            f"the store lacks {len(summary.missing)} and differs on {len(summary.changed)} of "
            f"{summary.objects_checked} objects the backup lists (first: {problems[0]}); restore "
            "the store from its own replica first, or pass --ignore-missing-objects"
        )

    database_file = folder / manifest["database"]["file"]
    if kind == "sqlite":
        engine.dispose()
        target = _sqlite_path(settings.database_url)
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_backup(database_file, target)
    else:
        _run_pg_tool(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                str(database_file),
            ],
            settings.database_url,
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for name in data_files:
        target = settings.data_dir / name
        shutil.copyfile(folder / DATA_FOLDER / name, target)
        target.chmod(0o600)
    summary.database_kind = kind
    summary.revisions = list(manifest["database"]["revisions"])
    summary.data_files = data_files
    return summary
