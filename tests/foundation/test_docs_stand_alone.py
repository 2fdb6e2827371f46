"""The repository stands on its own: no page, module or test points at documents outside it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(r"\.\./shared|\bDESIGN\.md\b|\bSTYLE\.md\b")
SEARCHED = ("audit_portal", "collectors", "evidence_store", "docs", "templates", "tests", "bench", "deploy")


def test_nothing_refers_to_documents_outside_the_repository() -> None:
    files = [ROOT / "README.md"] + [
        path
        for folder in SEARCHED
        for path in (ROOT / folder).rglob("*")
        if path.is_file()
        and path.suffix in {".py", ".md", ".html", ".yaml", ".yml", ".txt", ".j2"}
        and "node_modules" not in path.parts
        and path != Path(__file__).resolve()
    ]
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in files
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == []


def test_the_docs_link_to_pages_that_exist() -> None:
    missing = []
    for page in (ROOT / "docs").rglob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+\.md)", page.read_text()):
            if not (page.parent / target).resolve().exists():
                missing.append(f"{page.relative_to(ROOT)} -> {target}")
    assert missing == []
