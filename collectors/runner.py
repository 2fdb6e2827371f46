"""Running one collector instance.

:func:`execute` is the part without a database: it validates nothing itself, builds the
context, calls ``collect`` in a worker thread, gives up after the timeout, and judges what came
back. A collector that raises, hangs or returns garbage yields an :class:`Outcome` with status
``failed`` or ``timed_out``; nothing it does can stop the caller. The portal's own runs
(``audit_portal.collection.service.run_instance``: job lease, run record, artifacts and
findings) and the remote push mode both call :func:`execute`.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import tempfile
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from time import monotonic
from typing import Any

from collectors.base import (
    CollectContext,
    Collector,
    CollectorError,
    CollectResult,
    FindingDraft,
    Severity,
)

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_TIMED_OUT = "timed_out"
ARTIFACT_KINDS = ("raw", "normalised", "report")
MAX_FINDING_KEY = 300
MAX_FINDING_TITLE = 300
MAX_LOG_CHARS = 200_000


@dataclass
class Outcome:
    status: str
    started_at: datetime
    finished_at: datetime
    log: str
    error: str | None = None
    result: CollectResult | None = None
    workdir: Path | None = None
    _cleanup: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def discard_workdir(self) -> None:
        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)


class _RunLog:
    """A logger of its own per run, collecting lines for the run's log text."""

    def __init__(self, instance_name: str) -> None:
        self.buffer = io.StringIO()
        self.logger = logging.getLogger(f"audit_portal.collector_run.{instance_name}.{uuid.uuid4().hex[:8]}")
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        self._handler = logging.StreamHandler(self.buffer)
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        self.logger.addHandler(self._handler)

    def close(self) -> str:
        self.logger.removeHandler(self._handler)
        text = self.buffer.getvalue()
        if len(text) > MAX_LOG_CHARS:
            text = text[:MAX_LOG_CHARS] + f"\n[log cut at {MAX_LOG_CHARS} characters]\n"
        return text


def garbage_in(result: object) -> list[str]:
    """What is wrong with a collector's return value (empty when it is usable)."""
    if not isinstance(result, CollectResult):
        return [f"collect() returned {type(result).__name__}, not a CollectResult"]
    problems: list[str] = []
    if not isinstance(result.normalised, dict):
        problems.append("normalised is not a JSON object")
    else:
        try:
            json.dumps(result.normalised)
        except (TypeError, ValueError) as error:
            problems.append(f"normalised is not JSON-serialisable: {error}")
    kinds = [getattr(artifact, "kind", None) for artifact in result.artifacts]
    for kind in ARTIFACT_KINDS:
        if kinds.count(kind) != 1:
            problems.append(f"expected exactly one {kind} artifact, got {kinds.count(kind)}")
    for artifact in result.artifacts:
        path = getattr(artifact, "path", None)
        if path is not None and not Path(path).is_file():
            problems.append(f"artifact {getattr(artifact, 'filename', '?')!r} names a missing file {path}")
    keys: set[str] = set()
    for finding in result.findings:
        if not isinstance(finding, FindingDraft):
            problems.append(f"a finding is a {type(finding).__name__}, not a FindingDraft")
            continue
        if not finding.key or len(finding.key) > MAX_FINDING_KEY:
            problems.append(f"finding key {finding.key!r} is empty or longer than {MAX_FINDING_KEY}")
        if finding.key in keys:
            problems.append(f"finding key {finding.key!r} appears twice")
        keys.add(finding.key)
        if not finding.title:
            problems.append(f"finding {finding.key!r} has no title")
        if not isinstance(finding.severity, Severity):
            try:
                Severity(finding.severity)
            except ValueError:
                problems.append(f"finding {finding.key!r} has an unknown severity {finding.severity!r}")
    return problems


def execute(
    collector: Collector,
    config: Any,
    *,
    instance_name: str,
    now: datetime,
    timeout_seconds: float,
    previous: Mapping[str, Any] | None = None,
    manual_evidence: Mapping[str, datetime] | None = None,
    work_root: Path | None = None,
) -> Outcome:
    """Run ``collector.collect`` with a validated ``config`` and judge the result.

    ``now`` is the moment the collector is told it is (the demo replays the past); the run's
    own start and end are measured from it. The worker thread is a daemon: a collector that
    hangs past the timeout is abandoned, never waited for.
    """
    if work_root is not None:
        work_root.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"collect-{instance_name}-", dir=work_root))
    run_log = _RunLog(instance_name)
    context = CollectContext(
        instance_name=instance_name,
        config=config,
        now=now,
        workdir=workdir,
        log=run_log.logger,
        previous=previous,
        manual_evidence=dict(manual_evidence or {}),
    )
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = collector.collect(context)
        except BaseException as error:  # noqa: BLE001 - every failure becomes the run's error
            box["error"] = error

    started = monotonic()
    run_log.logger.info("%s %s started (instance %s)", collector.name, collector.version, instance_name)
    worker = threading.Thread(target=work, name=f"collect-{instance_name}", daemon=True)
    worker.start()
    worker.join(timeout_seconds)
    finished_at = _after(now, monotonic() - started)

    if worker.is_alive():
        message = f"gave up after the timeout of {timeout_seconds:g} s; the collector did not finish"
        run_log.logger.error(message)
        return Outcome(STATUS_TIMED_OUT, now, finished_at, run_log.close(), message, None, workdir, [workdir])
    if "error" in box:
        message = _error_text(box["error"])
        run_log.logger.error("failed: %s", message)
        return Outcome(STATUS_FAILED, now, finished_at, run_log.close(), message, None, workdir, [workdir])
    problems = garbage_in(box.get("result"))
    if problems:
        message = "the collector returned an unusable result: " + "; ".join(problems)
        run_log.logger.error(message)
        return Outcome(STATUS_FAILED, now, finished_at, run_log.close(), message, None, workdir, [workdir])
    result: CollectResult = box["result"]
    run_log.logger.info("finished: %d artifacts, %d findings", len(result.artifacts), len(result.findings))
    return Outcome(STATUS_OK, now, finished_at, run_log.close(), None, result, workdir, [workdir])


def _after(moment: datetime, seconds: float) -> datetime:
    from datetime import timedelta

    return moment + timedelta(seconds=max(seconds, 0.0))


def _error_text(error: BaseException) -> str:
    if isinstance(error, CollectorError):
        return str(error) or type(error).__name__
    return f"{type(error).__name__}: {error}"
