"""Every refusal a page can show is a catalogue message: a ``PortalError`` or ``SignInRefused``
(or a subclass) raised with an f-string or an unmarked sentence, or a field error whose message
is one, reaches a Dutch reader in English. So does such a message given to an error class's
``super().__init__``, to a helper that passes one of its arguments on to an error class (the
single sign-on's ``_refuse``), or as the reason of an evidence preview. This test reads the
sources as a translator would and fails on each.

The message is fine when it is an ``N_()`` call, a name or a call (a message chosen or built
elsewhere, e.g. ``PAST_TENSE[action]``, which the catalogue tests check where it is marked), or
text without words (``"%(reasons)s"``). Only the modules whose refusals are English by design are
left out, each with the reason.
"""

from __future__ import annotations

import ast
import functools
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
# The exceptions whose message a page shows: the portal's errors and the sign-in refusals.
REFUSAL_ROOTS = frozenset({"PortalError", "SignInRefused"})
# Other objects whose keyword argument a page shows as it is.
SHOWN_KEYWORDS = {"Preview": ("reason",)}
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
    """PortalError, SignInRefused and every class that derives from them, anywhere in the package."""
    found = set(REFUSAL_ROOTS)
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


def _message(call: ast.Call, position: int = 0, keywords: tuple[str, ...] = ("detail", "message")) -> ast.expr | None:
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg in keywords), None)


def _refusal_helpers(trees: dict[Path, ast.Module], errors: set[str]) -> dict[str, tuple[int, str]]:
    """Functions that hand one of their parameters to an error class as its message: name to the
    parameter's position and name, so their callers' messages are checked too."""
    helpers = {}
    for tree in trees.values():
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            parameters = [argument.arg for argument in function.args.args]
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and _name(node.func) in errors:
                    message = _message(node)
                    if isinstance(message, ast.Name) and message.id in parameters:
                        helpers[function.name] = (parameters.index(message.id), message.id)
    return helpers


def _super_init_in(cls: ast.ClassDef) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(cls)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "__init__"
    ]


def _texts_by_name(trees: dict[Path, ast.Module]) -> dict[str, list[ast.expr]]:
    """What each module-level name is assigned and what each function returns (``locked_message``),
    by name, so a message given as a constant or built by a function is read where it is written."""
    found: dict[str, list[ast.expr]] = {}
    for tree in trees.values():
        for statement in tree.body:
            if isinstance(statement, ast.Assign):
                for target in statement.targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, []).append(statement.value)
            if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value:
                found.setdefault(statement.target.id, []).append(statement.value)
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef):
                returned = [n.value for n in ast.walk(function) if isinstance(n, ast.Return) and n.value is not None]
                found.setdefault(function.name + "()", []).extend(returned)
    return found


def _unmarked_text(node: ast.expr | None, texts: dict[str, list[ast.expr]]) -> bool:
    """:func:`_unmarked`, following a name to its module-level value and a call to what it returns."""
    if isinstance(node, ast.Name):
        return any(_unmarked(value) for value in texts.get(node.id, []))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return any(_unmarked(value) for value in texts.get(node.func.id + "()", []))
    return _unmarked(node)


def _taking_no_message(trees: dict[Path, ast.Module], errors: set[str]) -> set[str]:
    """Error classes whose own ``__init__`` takes something else than the message first
    (``SignInRequired(login_url)``): their message is checked at their ``super().__init__``."""
    found = set()
    for tree in trees.values():
        for cls in ast.walk(tree):
            if isinstance(cls, ast.ClassDef) and cls.name in errors:
                for statement in cls.body:
                    if isinstance(statement, ast.FunctionDef) and statement.name == "__init__":
                        parameters = [argument.arg for argument in statement.args.args[1:]]
                        if not parameters or parameters[0] not in ("detail", "message"):
                            found.add(cls.name)
    return found


def unmarked_refusals(trees: dict[Path, ast.Module]) -> list[str]:
    errors = _error_classes(trees)
    constructed = errors - _taking_no_message(trees, errors)
    helpers = _refusal_helpers(trees, errors)
    texts = _texts_by_name(trees)
    _unmarked = functools.partial(_unmarked_text, texts=texts)  # noqa: N806 - the same check, names followed
    findings = []
    for path, tree in trees.items():
        where = path.relative_to(ROOT).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in constructed:
                message = _message(node)
                if _unmarked(message):
                    findings.append(f"{where}:{node.lineno}: {_name(node.func)}({ast.unparse(message)[:80]})")
            if isinstance(node, ast.ClassDef) and node.name in errors:
                for call in _super_init_in(node):
                    message = _message(call)
                    if _unmarked(message):
                        findings.append(f"{where}:{call.lineno}: {node.name}.__init__({ast.unparse(message)[:80]})")
            if isinstance(node, ast.Call) and _name(node.func) in helpers:
                position, parameter = helpers[_name(node.func)]  # type: ignore[index]
                message = _message(node, position, (parameter,))
                if _unmarked(message):
                    findings.append(f"{where}:{node.lineno}: {_name(node.func)}({ast.unparse(message)[:80]})")
            if isinstance(node, ast.Call) and _name(node.func) in SHOWN_KEYWORDS:
                for keyword in node.keywords:
                    if keyword.arg in SHOWN_KEYWORDS[_name(node.func)] and _unmarked(keyword.value):  # type: ignore[index]
                        findings.append(f"{where}:{node.lineno}: {_name(node.func)}({ast.unparse(keyword.value)[:80]})")
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
from audit_portal.errors import Conflict, InvalidInput, NotFound
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

LOCKED = "Blocked for a while."
FINE = N_("Blocked until %(until)s.")

class SignInRefused(Exception):
    def __init__(self, message, status=400, values=None):
        super().__init__(message)

class Busy(Conflict):
    def __init__(self, reason):
        super().__init__(f"Busy: {reason}")

class Redirected(Conflict):
    def __init__(self, url):
        super().__init__(N_("Go elsewhere."))

def locked_message(until):
    return f"Blocked until {until}."

def _refuse(session, name, message, status):
    return SignInRefused(message, status=status)

def sign_in(session, until, url):
    raise SignInRefused(LOCKED)
    raise SignInRefused(locked_message(until), status=429)
    raise SignInRefused(FINE, values={"until": until})
    raise _refuse(session, "sso", "This sign-in expired.", 400)
    raise _refuse(session, "sso", N_("This sign-in expired."), 400)
    raise Redirected(url)
    return Preview("none", reason=f"No preview for {url}.")
"""
    path = PACKAGE / "example.py"
    trees = _parsed({path: source}) | _parsed({PACKAGE / "errors.py": (PACKAGE / "errors.py").read_text()})
    findings = [finding for finding in unmarked_refusals(trees) if "example.py" in finding]
    assert sorted(finding.split(": ", 1)[1].split("(")[0] for finding in findings) == [
        "Busy.__init__",
        "Gone",
        "InvalidInput",
        "InvalidInput",
        "InvalidInput",
        "Preview",
        "SignInRefused",
        "SignInRefused",
        "_refuse",
        "field error f'bad {name}'",
    ]
