"""The backup verification collector (measures BCM-1, BCM-2 and PHY-3)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from collectors.backup.analysis import RESTORE_TEST_REQUIREMENT, Policy, assess, diff
from collectors.backup.config import COMMANDS, BackupConfig
from collectors.backup.sources import Gathered, RawFile, gather
from collectors.base import Artifact, CollectContext, CollectResult

RAW_ARCHIVE_NAME = "backup-raw.tar.gz"

_templates = Environment(
    loader=PackageLoader("collectors.backup", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
)


def write_raw_archive(raw_files: Sequence[RawFile], destination: Path, mtime: float) -> Path:
    """A tar.gz of every input byte for byte. Member times and the gzip header's time are the
    run's time, not the wall clock, so the same input and run time give the same archive."""
    with (
        destination.open("wb") as file,
        gzip.GzipFile(fileobj=file, mode="wb", mtime=int(mtime), filename="") as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for raw in raw_files:
            info = tarfile.TarInfo(raw.member)
            info.size = len(raw.data)
            info.mtime = int(mtime)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(raw.data))
    return destination


class BackupCollector:
    name: ClassVar[str] = "backup"
    version: ClassVar[str] = "1.0.0"
    Config: ClassVar[type[BackupConfig]] = BackupConfig
    default_schedule: ClassVar[str] = "30 7 * * *"
    requirements: ClassVar[tuple[str, ...]] = (
        "PHY-3/backup",
        "BCM-1/backup",
        "BCM-2/backup-report",
    )
    commands: ClassVar[dict[str, tuple[str, ...]]] = COMMANDS

    def collect(self, ctx: CollectContext) -> CollectResult:
        config: BackupConfig = ctx.config
        gathered: list[Gathered] = []
        for repository in config.repositories:
            ctx.log.info(
                "reading %s repository %s (%s)",
                repository.type,
                repository.name,
                repository.location,
            )
            gathered.append(gather(repository, ctx.now))
        policy = Policy(
            rpo=timedelta(hours=config.rpo_hours),
            restore_test_interval=timedelta(days=config.restore_test_days),
            minimum_locations=config.minimum_locations,
            data_check_interval=timedelta(days=config.data_check_days),
        )
        assessment = assess(
            [item.observation for item in gathered],
            policy,
            ctx.now,
            ctx.manual_evidence.get(RESTORE_TEST_REQUIREMENT),
            ctx.previous,
        )
        normalised = {"collector": self.name, "version": self.version, **assessment.normalised}
        changes = diff(ctx.previous, normalised)
        raw_files = [raw for item in gathered for raw in item.raw_files]
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        raw_path = write_raw_archive(raw_files, ctx.workdir / RAW_ARCHIVE_NAME, ctx.now.timestamp())
        findings = sorted(assessment.findings, key=lambda finding: (-finding.severity.rank, finding.key))
        report = _templates.get_template("report.html.j2").render(
            instance=ctx.instance_name,
            summary=normalised,
            findings=findings,
            changes=changes,
        )
        artifacts = [
            Artifact(
                filename=RAW_ARCHIVE_NAME,
                kind="raw",
                content_type="application/gzip",
                path=raw_path,
            ),
            Artifact(
                filename="backup-normalised.json",
                kind="normalised",
                content_type="application/json",
                data=json.dumps(normalised, indent=2, sort_keys=True).encode(),
            ),
            Artifact(
                filename="backup-report.html",
                kind="report",
                content_type="text/html",
                data=report.encode(),
            ),
        ]
        ctx.log.info("backup: %d repositories, %d findings", len(gathered), len(findings))
        return CollectResult(normalised=normalised, artifacts=artifacts, findings=findings)
