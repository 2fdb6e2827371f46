"""A ``# type: ignore`` in the type-checked code names what it silences and says why.

mypy checks ``audit_portal``, ``collectors`` and ``evidence_store`` (pyproject.toml,
``[tool.mypy]``). Where it cannot follow the code (a library without stubs, an attribute a library
adds at runtime), an ignore stays, written as
``# type: ignore[attr-defined]  # jinja2.ext.i18n adds it at runtime``: the error code in brackets,
so nothing else on the line is silenced, and a reason after it. A bare ignore, or one without a
reason, fails here; prefer a correct annotation, a typed helper or a narrowed type.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("audit_portal", "collectors", "evidence_store")

IGNORE = re.compile(r"#\s*type:\s*ignore\b")
# The error codes in brackets, then a comment of its own with words in it: the reason.
EXPLAINED = re.compile(r"#\s*type:\s*ignore\[[a-z-]+(?:,\s*[a-z-]+)*\]\s+#\s*\w.*\w")


def unexplained_ignores(source: str) -> list[str]:
    """Line and comment of each ``type: ignore`` in ``source`` without error codes or a reason.
    Only comments count: the words in a string or a docstring are not an ignore."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT or not IGNORE.search(token.string):
            continue
        if not EXPLAINED.search(token.string):
            found.append(f"{token.start[0]}: {token.string}")
    return found


def checked_modules() -> list[Path]:
    return [path for package in CHECKED for path in sorted((ROOT / package).rglob("*.py"))]


def test_every_type_ignore_names_its_error_code_and_its_reason() -> None:
    offenders = {
        path.relative_to(ROOT).as_posix(): hits
        for path in checked_modules()
        if (hits := unexplained_ignores(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, (
        "write '# type: ignore[code]  # why', or better, an annotation or a narrowed type mypy can follow"
    )


def test_the_scan_walks_the_checked_packages_and_they_are_mypys_scope() -> None:
    walked = {path.relative_to(ROOT).as_posix() for path in checked_modules()}
    assert {"audit_portal/db.py", "collectors/base.py", "evidence_store/base.py"} <= walked
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'files = ["audit_portal", "collectors", "evidence_store"]' in pyproject


@pytest.mark.parametrize(
    "source",
    [
        "value = thing.attribute  # type: ignore\n",
        "value = thing.attribute  # type: ignore[attr-defined]\n",
        "value = thing.attribute  # type: ignore  # the library adds it at runtime\n",
        "value = thing.attribute  # type: ignore[]  # the library adds it at runtime\n",
        "value = thing.attribute  # type:ignore[attr-defined] #\n",
        "value = thing.attribute  # noqa: E501  # type: ignore\n",
    ],
)
def test_the_scan_finds_an_ignore_without_code_or_reason(source: str) -> None:
    assert unexplained_ignores(source) == [f"1: {_comment(source)}"]


@pytest.mark.parametrize(
    "source",
    [
        "value = thing.attribute  # type: ignore[attr-defined]  # the library adds it at runtime\n",
        "value = call(x)  # type: ignore[arg-type, call-overload]  # the stubs are too narrow here\n",
        'message = "write # type: ignore nowhere"\n',
        '"""A docstring may mention # type: ignore."""\n',
    ],
)
def test_the_scan_accepts_an_explained_ignore_and_ignores_strings(source: str) -> None:
    assert unexplained_ignores(source) == []


def _comment(source: str) -> str:
    return source[source.index("#") :].rstrip("\n")
