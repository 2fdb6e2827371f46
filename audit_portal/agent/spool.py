"""The local spool: one directory per finished run, written before any delivery is tried, so
a portal that is down loses nothing. ``manifest.json`` describes the run (see ``seal.py``),
``seal.json`` holds the nonce and signature, the artifacts sit next to them. An entry is
removed only once the portal has accepted the whole push; one the portal refuses for good is
moved to ``rejected/`` with the reason, for a person to look at."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit_portal.agent import seal

MANIFEST = "manifest.json"
SEAL = "seal.json"


@dataclass(frozen=True)
class Entry:
    path: Path

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))

    @property
    def seal(self) -> dict[str, Any]:
        return json.loads((self.path / SEAL).read_text(encoding="utf-8"))

    def artifact_path(self, filename: str) -> Path:
        return self.path / "artifacts" / filename


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def add(self, manifest: dict[str, Any], files: dict[str, Path | bytes], *, token: str) -> Entry:
        """Write a complete entry atomically (a temporary directory renamed into place)."""
        created = datetime.now(UTC)
        push_id = uuid.uuid4().hex
        staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=self.root))
        (staging / "artifacts").mkdir()
        for filename, content in files.items():
            target = staging / "artifacts" / filename
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                shutil.copyfile(content, target)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        digest = seal.content_sha256(manifest)
        signed_at = created.isoformat()
        sealed = {
            "version": seal.SEAL_VERSION,
            "push_id": push_id,
            "signed_at": signed_at,
            "content_sha256": digest,
            "signature": seal.sign(
                seal.signing_key(seal.token_digest(token)),
                push_id=push_id,
                signed_at=signed_at,
                instance=manifest["instance"],
                digest=digest,
            ),
        }
        (staging / SEAL).write_text(json.dumps(sealed, indent=1), encoding="utf-8")
        final = self.root / f"{created:%Y%m%dT%H%M%S%fZ}-{push_id}"
        os.replace(staging, final)
        return Entry(final)

    def entries(self) -> list[Entry]:
        return [
            Entry(path)
            for path in sorted(self.root.iterdir())
            if path.is_dir() and not path.name.startswith(".") and path.name != "rejected"
        ]

    def done(self, entry: Entry) -> None:
        shutil.rmtree(entry.path)

    def reject(self, entry: Entry, reason: str) -> Path:
        target = self.root / "rejected" / entry.path.name
        target.parent.mkdir(exist_ok=True)
        os.replace(entry.path, target)
        (target / "REJECTED.txt").write_text(reason + "\n", encoding="utf-8")
        return target
