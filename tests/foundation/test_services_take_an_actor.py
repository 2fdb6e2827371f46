"""Services take what they need, not the HTTP request: who acts and from where travel as an
:class:`~audit_portal.principals.Actor`, so the CLI, the scheduler, the demo and the tests call
the same functions as the routes do (docs/architecture.md, "Who did it: the Actor").

Only the web layer may import the request class of FastAPI or Starlette, and no function outside
it takes a parameter named ``request``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import audit_portal

PACKAGE = Path(audit_portal.__file__).parent

# The web layer by name: a domain's routes and JSON API, and the modules that assemble the app.
WEB_MODULE_NAMES = {"routes.py", "api.py"}
WEB_SUFFIXES = ("_routes.py", "_api.py")
WEB_TOP_LEVEL = {
    "app.py",  # create_app
    "asgi.py",
    "routing.py",
    "authz.py",  # the Authorize dependency
    "security.py",  # CSRF, headers, trusted proxies
    "errors.py",  # the handler that renders errors
    "templating.py",  # render(request, ...)
    "db.py",  # SessionDep
    "store.py",  # StoreDep
    "request_actor.py",  # actor_of(request, principal)
    "forms.py",  # submit_form(request, ...): how a posted form ends
}
# Web-side helpers inside a domain, each reading something only a request has.
WEB_HELPERS = {
    "auth/identify.py": "who is calling: the session cookie or a bearer token",
    "auth/devices.py": "the known-device cookie",
    "evidence/streaming.py": "the multipart body of an upload, streamed",
    "sso/provider.py": "the OpenID provider the app holds",
    "audit/refusals.py": "the exception handlers that log refused requests",
}
REQUEST_MODULES = {"fastapi", "starlette.requests", "fastapi.requests"}


def _is_web(path: Path) -> bool:
    relative = path.relative_to(PACKAGE).as_posix()
    if "/" not in relative:
        return relative in WEB_TOP_LEVEL
    return path.name in WEB_MODULE_NAMES or path.name.endswith(WEB_SUFFIXES) or relative in WEB_HELPERS


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _imports_request(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in REQUEST_MODULES:
            if any(alias.name == "Request" for alias in node.names):
                lines.append(node.lineno)
        elif isinstance(node, ast.Attribute) and node.attr == "Request":
            if isinstance(node.value, ast.Name) and node.value.id in {"fastapi", "starlette"}:
                lines.append(node.lineno)
    return lines


def _request_parameters(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            every = arguments.posonlyargs + arguments.args + arguments.kwonlyargs
            if any(argument.arg == "request" for argument in every):
                found.append(f"{node.name} (line {node.lineno})")
    return found


def test_the_rule_knows_the_web_layer() -> None:
    web = {p.relative_to(PACKAGE).as_posix() for p in _modules() if _is_web(p)}
    assert {"evidence/routes.py", "collection/api.py", "engagements/sample_routes.py", "app.py"} <= web
    assert not web & {"evidence/service.py", "audit/service.py", "auth/service.py", "principals.py"}
    for helper in WEB_HELPERS:
        assert (PACKAGE / helper).exists(), f"{helper} is listed as a web helper but does not exist"


def test_no_module_outside_the_web_layer_imports_the_request_class() -> None:
    offenders = {}
    for path in _modules():
        if _is_web(path):
            continue
        lines = _imports_request(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            offenders[path.relative_to(PACKAGE).as_posix()] = lines
    assert not offenders, (
        "these modules import the HTTP request class; take an Actor (principals.py) instead, "
        f"built in the route with request_actor.actor_of(request, principal): {offenders}"
    )


def test_no_function_outside_the_web_layer_takes_a_request() -> None:
    offenders = {}
    for path in _modules():
        if _is_web(path):
            continue
        found = _request_parameters(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            offenders[path.relative_to(PACKAGE).as_posix()] = found
    assert not offenders, f"these functions take a parameter named request; take an Actor instead: {offenders}"
