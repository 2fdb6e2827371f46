"""Parser for ``lynis-report.dat``, the key=value report Lynis 3 writes. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class LynisParseError(ValueError):
    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(frozen=True)
class Item:
    """A warning or suggestion: ``TEST-ID|text|details|solution|``."""

    test: str
    text: str
    details: str
    solution: str


@dataclass
class LynisReport:
    lynis_version: str
    started: datetime
    finished: datetime
    hostname: str
    os: str
    hardening_index: int
    tests_executed: list[str]
    tests_skipped: list[str]
    warnings: list[Item] = field(default_factory=list)
    suggestions: list[Item] = field(default_factory=list)


_REQUIRED = (
    "report_version_major",
    "lynis_version",
    "report_datetime_start",
    "report_datetime_end",
    "hardening_index",
    "tests_executed",
)


def _item(value: str, line: int) -> Item:
    parts = value.split("|")
    if len(parts) < 2 or not parts[0]:
        raise LynisParseError(f"expected 'TEST-ID|text|details|solution|', got {value[:60]!r}", line)
    parts += ["", "", ""]
    return Item(parts[0], parts[1], "" if parts[2] == "-" else parts[2], "" if parts[3] == "-" else parts[3])


def parse_lynis_report(text: str) -> LynisReport:
    """Lynis writes ``finish=true`` as the report's last line once the audit completed; a
    report without it (Lynis interrupted, or still running, or the file cut off) is refused."""
    if not text.strip():
        raise LynisParseError("empty report")
    values: dict[str, str] = {}
    warnings: list[Item] = []
    suggestions: list[Item] = []
    finished = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        key, found, value = line.partition("=")
        if not found:
            raise LynisParseError(f"expected key=value, got {line[:60]!r}", number)
        if key == "warning[]":
            warnings.append(_item(value, number))
        elif key == "suggestion[]":
            suggestions.append(_item(value, number))
        elif key == "finish":
            finished = value == "true"
        elif not key.endswith("[]"):
            values[key] = value
    if not finished:
        raise LynisParseError("no 'finish=true': the audit did not complete or the report is truncated")
    missing = [key for key in _REQUIRED if key not in values]
    if missing:
        raise LynisParseError(f"not a Lynis report: no {', '.join(missing)}")
    try:
        index = int(values["hardening_index"])
        started = datetime.fromisoformat(values["report_datetime_start"])
        ended = datetime.fromisoformat(values["report_datetime_end"])
    except ValueError as error:
        raise LynisParseError(f"malformed value: {error}") from None
    return LynisReport(
        lynis_version=values["lynis_version"],
        started=started,
        finished=ended,
        hostname=values.get("hostname", ""),
        os=values.get("os_fullname", values.get("os", "")),
        hardening_index=index,
        tests_executed=[t for t in values["tests_executed"].split("|") if t],
        tests_skipped=[t for t in values.get("tests_skipped", "").split("|") if t],
        warnings=warnings,
        suggestions=suggestions,
    )
