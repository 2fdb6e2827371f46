"""Every refusal a page can show is a catalogue message: a ``PortalError`` (or a subclass) raised
with an f-string or an unmarked sentence, or a field error whose message is one, reaches a Dutch
reader in English. This test reads the sources as a translator would and fails on each.

The message is fine when it is an ``N_()`` call, a name or a call (a message chosen or built
elsewhere, e.g. ``PAST_TENSE[action]``, which the catalogue tests check where it is marked), or
text without words (``"%(reasons)s"``). Only the modules whose refusals are English by design are
left out, each with the reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "audit_portal"

# Modules whose refusals stay English (docs/i18n.md, "What stays English, and why").
ENGLISH_BY_DESIGN = {
    "evidence/api.py": "the push API's refusals: programs read them, not people",
    "coverage/api.py": "the coverage API's refusals: programs read them",
    "collection/sealed.py": "the sealed push's refusals: only the push API gives them",
    "cli.py": "the command line speaks English",
    "demo.py": "the demo's own setup, run from the command line",
}
PLACEHOLDER = re.compile(r"%\(\w+\)s")
LETTERS = re.compile(r"[^\W\d_]")


def _english_by_design(path: Path) -> bool:
    relative = path.relative_to(PACKAGE).as_posix()
    return relative in ENGLISH_BY_DESIGN or path.name in ("cli.py", "demo.py")


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _unmarked(node: ast.expr | None) -> bool:
    """Whether ``node`` is English text nobody marked: an f-string, a sentence, or text built from one."""
    if node is None:
        return False
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(LETTERS.search(PLACEHOLDER.sub("", node.value)))
    if isinstance(node, ast.BinOp):
        return _unmarked(node.left) or _unmarked(node.right)
    if isinstance(node, ast.IfExp):
        return _unmarked(node.body) or _unmarked(node.orelse)
    if isinstance(node, ast.Subscript):  # f"...".splitlines()[0]
        return _unmarked(node.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):  # "...".format(), f"...".strip()
        return _unmarked(node.func.value)
    return False


def _error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """PortalError and every class that derives from it, anywhere in the package."""
    found = {"PortalError"}
    while True:
        more = {
            node.name
            for tree in trees.values()
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and any(_name(base) in found for base in node.bases)
        }
        if more <= found:
            return found
        found |= more


def unmarked_refusals(trees: dict[Path, ast.Module]) -> list[str]:
    errors = _error_classes(trees)
    findings = []
    for path, tree in trees.items():
        where = path.relative_to(ROOT).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in errors:
                message = (
                    node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "detail"), None)
                )
                if _unmarked(message):
                    findings.append(f"{where}:{node.lineno}: {_name(node.func)}({ast.unparse(message)[:80]})")
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "message" and _unmarked(value):
                        findings.append(f"{where}:{node.lineno}: field error {ast.unparse(value)[:80]}")
    return findings


def _parsed(sources: dict[Path, str]) -> dict[Path, ast.Module]:
    return {path: ast.parse(text, str(path)) for path, text in sources.items()}


def test_every_refusal_a_page_shows_is_a_catalogue_message() -> None:
    paths = [p for p in sorted(PACKAGE.rglob("*.py")) if not _english_by_design(p)]
    findings = unmarked_refusals(_parsed({p: p.read_text(encoding="utf-8") for p in paths}))
    assert not findings, (
        "Refusals in English only; write them as N_('... %(name)s ...') with values= "
        "(docs/i18n.md, 'Service messages with values'):\n" + "\n".join(findings)
    )


def test_the_check_finds_english_only_refusals() -> None:
    source = """
from audit_portal.errors import InvalidInput, NotFound
from audit_portal.i18n import N_

class Gone(NotFound):
    pass

def refuse(name, problem):
    raise Gone(f"There is no {name}.")
    raise InvalidInput("Plain English.")
    raise InvalidInput("Choose: " + ", ".join(["a", "b"]))
    raise InvalidInput(f"Bad YAML: {problem}".splitlines()[0])
    raise InvalidInput(N_("Fine: %(name)s."), values={"name": name}, errors=[{"message": f"bad {name}"}])
    raise InvalidInput("%(reasons)s", values={"reasons": problem})
    raise InvalidInput(problem)
"""
    path = PACKAGE / "example.py"
    trees = _parsed({path: source}) | _parsed({PACKAGE / "errors.py": (PACKAGE / "errors.py").read_text()})
    findings = [finding for finding in unmarked_refusals(trees) if "example.py" in finding]
    assert [finding.split(": ", 1)[1].split("(")[0] for finding in findings] == [
        "Gone",
        "InvalidInput",
        "InvalidInput",
        "InvalidInput",
        "field error f'bad {name}'",
    ]
