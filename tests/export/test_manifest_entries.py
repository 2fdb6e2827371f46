"""The manifest's entries are written field by field for speed; the bytes must stay exactly those
``json.dumps(indent=2)`` gives, or a manifest would change with the code that wrote it."""

from __future__ import annotations

import json
import random
from datetime import date
from typing import Any

from audit_portal.export.package import _indented_entry

AWKWARD_TEXT = 'aé"\\\n\t\x00\u2028😀/<>'


def indented_by_json(entry: dict[str, Any]) -> bytes:
    text = json.dumps(entry, indent=2, ensure_ascii=False, sort_keys=False, default=str)
    return ("    " + text.replace("\n", "\n    ")).encode("utf-8")


def random_text(generator: random.Random, longest: int) -> str:
    return "".join(generator.choice(AWKWARD_TEXT) for _ in range(generator.randrange(longest + 1)))


def random_value(generator: random.Random) -> object:
    choices = [
        lambda: None,
        lambda: True,
        lambda: False,
        lambda: generator.randrange(-(10**12), 10**12),
        lambda: random_text(generator, 6),
        lambda: [random_text(generator, 3) for _ in range(generator.randrange(3))],
        lambda: date(2026, 1, 1 + generator.randrange(28)),
    ]
    return generator.choice(choices)()


def test_entries_are_the_bytes_json_dumps_indent_2_gives() -> None:
    generator = random.Random(20261202)
    for _ in range(5000):
        entry = {random_text(generator, 3) or "k": random_value(generator) for _ in range(generator.randrange(7))}
        assert _indented_entry(entry) == indented_by_json(entry), entry


def test_an_evidence_entry_as_the_package_writes_it() -> None:
    entry = {
        "path": "controls/8.13/7-superseded-by-9-backup report.pdf",
        "sha256": "ab" * 32,
        "size": 1024,
        "kind": "evidence",
        "requirements": ["OPS-3/backups", "(linked to the control)"],
        "review_comment": None,
        "superseded": True,
        "period_from": "2026-01-01",
    }
    assert _indented_entry(entry) == indented_by_json(entry)
    assert json.loads(_indented_entry(entry)) == entry
