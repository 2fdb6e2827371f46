"""The layering holds: import-linter's contracts (in pyproject.toml) pass, no two modules import
each other in a loop, and every module imports on its own, in any order."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("audit_portal", "collectors", "evidence_store")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm over module imports (function-level imports included): every group of
    modules that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return groups


def test_import_linter_contracts_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_no_module_imports_itself_through_others(graph: grimp.ImportGraph) -> None:
    assert strongly_connected(graph) == []


def test_the_cycle_check_sees_a_cycle() -> None:
    probe = grimp.ImportGraph()
    for module in ("a", "a.x", "a.y"):
        probe.add_module(module)
    probe.add_import(importer="a.x", imported="a.y")
    probe.add_import(importer="a.y", imported="a.x")
    assert strongly_connected(probe) == [["a.x", "a.y"]]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_module_imports_in_any_order(graph: grimp.ImportGraph, seed: int) -> None:
    modules = sorted(m for m in graph.modules if ".migrations." not in m and not m.endswith(".asgi"))
    random.Random(seed).shuffle(modules)
    script = f"import importlib\nfor name in {modules!r}:\n    importlib.import_module(name)\n"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


WEB_MODULE_SUFFIXES = ("routes", "api")
WEB_ENTRY_MODULES = {"audit_portal.app", "audit_portal.routing", "audit_portal.asgi"}


def test_only_routes_use_the_http_authorization_dependency(graph: grimp.ImportGraph) -> None:
    """Services, repositories and jobs read who is acting from ``audit_portal.principals``; the
    ``Authorize`` dependency in ``audit_portal.authz`` belongs to the web layer."""
    importers = graph.find_modules_that_directly_import("audit_portal.authz")
    outside = sorted(
        module
        for module in importers
        if module not in WEB_ENTRY_MODULES and not module.rsplit(".", 1)[-1].endswith(WEB_MODULE_SUFFIXES)
    )
    assert outside == []
