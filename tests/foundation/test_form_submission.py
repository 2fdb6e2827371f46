"""One way a posted form ends (audit_portal/forms.py): a route hands the change and the page to
show on refusal to ``submit_form``, which decides the status and the language of the reasons.
A route that catches a refusal itself, or sets a refusal's status by hand, fails here; so does a
template that writes its own field-error markup instead of the macros in layouts/_fields.html."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import audit_portal
import audit_portal.app  # noqa: F401 - every domain's errors are defined once the app's modules are imported
from audit_portal.errors import PortalError
from audit_portal.templating import templates_dir

PACKAGE = Path(audit_portal.__file__).parent
WEB_NAMES = {"routes.py", "api.py"}
WEB_SUFFIXES = ("_routes.py", "_api.py")
REFUSED_STATUSES = {400, 403, 404, 409, 413, 422}
# Refusals a page handles that did not come from a posted form.
NOT_A_FORM = {
    ("collection/routes.py", "RulesUnreadable"): "the run page shows rules it cannot read back as a notice",
}


def _refusal_names() -> set[str]:
    found, todo = set(), [PortalError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


def _web_modules() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts and (path.name in WEB_NAMES or path.name.endswith(WEB_SUFFIXES))
    )


def _handled_by_hand(source: str, names: set[str], module: str = "") -> list[str]:
    """``except`` clauses naming a portal error, and hand-set refusal statuses, as 'line: what'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            for item in caught:
                name = item.attr if isinstance(item, ast.Attribute) else getattr(item, "id", "")
                if name in names and (module, name) not in NOT_A_FORM:
                    found.append(f"{node.lineno}: except {name}")
        if isinstance(node, ast.keyword) and node.arg == "status_code":
            if isinstance(node.value, ast.Constant) and node.value.value in REFUSED_STATUSES:
                found.append(f"{node.lineno}: status_code={node.value.value}")
            if isinstance(node.value, ast.Attribute) and node.value.attr == "status_code":
                found.append(f"{node.lineno}: status_code=<an error's status>")
    return found


def test_no_route_ends_a_refused_form_by_hand():
    names = _refusal_names()
    offenders = {
        module: hits
        for path in _web_modules()
        if (
            hits := _handled_by_hand(
                path.read_text(encoding="utf-8"), names, module := path.relative_to(PACKAGE).as_posix()
            )
        )
    }
    assert offenders == {}, f"use audit_portal.forms.submit_form: {offenders}"


def test_the_scan_sees_a_route_that_catches_a_refusal_itself():
    names = _refusal_names()
    assert {"InvalidInput", "Conflict", "PasswordRefused", "RulesUnreadable"} <= names
    source = """
def save(request, session):
    try:
        service.save(session)
    except (ValueError, errors.Conflict) as error:
        return render(request, "page.html", {"error": error.detail}, status_code=409)
    except PasswordRefused:
        return render(request, "page.html", {}, status_code=error.status_code)
"""
    assert _handled_by_hand(source, names) == [
        "5: except Conflict",
        "7: except PasswordRefused",
        "6: status_code=409",
        "8: status_code=<an error's status>",
    ]
    assert _handled_by_hand("def page():\n    return render(status_code=200)\n", names) == []


FIELD_ERROR_MARKUP = re.compile(r'class="field-error"|aria-invalid="true"|\{% macro (error|invalid)\(')
# Reasons that are one sentence for a whole table row or a sign-in step, not one field's.
OWN_MARKUP = {
    "layouts/_fields.html": "the macros themselves",
    "pages/collectors/run.html": "one rule-decision refusal shown on every row it concerns",
}


def test_templates_show_field_errors_with_the_shared_macros():
    root = templates_dir()
    offenders = sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*.html")
        if path.relative_to(root).as_posix() not in OWN_MARKUP and FIELD_ERROR_MARKUP.search(path.read_text("utf-8"))
    )
    assert offenders == []
