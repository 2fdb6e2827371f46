"""Collectors are found through the ``audit_portal.collectors`` entry points, built-in and
third-party alike, limited by the allowlist; a broken plugin is reported, never loaded."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from collectors import registry
from collectors.base import CollectContext, Collector


def test_builtins_are_registered_as_entry_points():
    found = registry.discover(allowlist=None)
    for name in ("firewall", "backup", "patches"):
        assert found[name].usable, found[name].problem
        assert isinstance(registry.load(name), Collector)


def test_an_installed_third_party_collector_is_listed(plugin_path: Path):
    info = registry.discover()["tiny"]
    assert (info.distribution, info.target, info.usable) == (
        "audit-portal-test-plugin",
        "audit_portal_test_plugin:TinyCollector",
        True,
    )
    assert registry.load("tiny").version == "0.1.0"


def test_without_the_plugin_it_is_not_there():
    assert "tiny" not in registry.discover()
    with pytest.raises(registry.UnknownCollector, match="no collector 'tiny'"):
        registry.load("tiny")


def test_the_allowlist_limits_what_loads(plugin_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    # Read as every setting is, so a .env file counts as much as the environment.
    from audit_portal.collection import service
    from audit_portal.config import load_settings
    from audit_portal.errors import InvalidInput

    monkeypatch.delenv(registry.ALLOWLIST_VARIABLE, raising=False)
    (tmp_path / ".env").write_text(f"{registry.ALLOWLIST_VARIABLE}=firewall, tiny\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(data_dir=tmp_path / "data")
    assert settings.collector_allowlist == {"firewall", "tiny"}
    assert set(registry.discover(settings.collector_allowlist)) == {"firewall", "tiny"}
    with pytest.raises(registry.UnknownCollector, match="ALLOWLIST"):
        registry.load("backup", settings.collector_allowlist)
    with pytest.raises(InvalidInput, match="ALLOWLIST"):
        service.collector_for("backup", settings)
    assert service.collector_for("tiny", settings).name == "tiny"


def test_a_config_that_takes_unknown_options_or_unmarked_paths_is_not_loaded(plugin_path: Path):
    """The portal validates options against the plugin's schema: a schema that silently drops
    unknown options, or lets a path through without the host-only rules, makes the plugin
    unusable rather than unsafe."""
    package = plugin_path / "audit_portal_test_plugin"
    (package / "lax.py").write_text(
        "from pathlib import Path\n"
        "from pydantic import BaseModel, ConfigDict\n"
        "from audit_portal_test_plugin import TinyCollector\n"
        "class Nested(BaseModel):\n"
        "    model_config = ConfigDict(extra='forbid')\n"
        "    where: Path | None = None\n"
        "class LaxConfig(BaseModel):\n"
        "    items: list[str] = []\n"
        "class PathConfig(BaseModel):\n"
        "    model_config = ConfigDict(extra='forbid')\n"
        "    inner: list[Nested] = []\n"
        "class Lax(TinyCollector):\n"
        "    name = 'lax'\n"
        "    Config = LaxConfig\n"
        "class Pathy(TinyCollector):\n"
        "    name = 'pathy'\n"
        "    Config = PathConfig\n"
    )
    entry_points = next(plugin_path.glob("*.dist-info")) / "entry_points.txt"
    entry_points.write_text(
        entry_points.read_text()
        + "lax = audit_portal_test_plugin.lax:Lax\n"
        + "pathy = audit_portal_test_plugin.lax:Pathy\n"
    )
    found = registry.discover()
    assert "Config accepts unknown options" in found["lax"].problem
    assert "Config.inner.where is a path" in found["pathy"].problem
    assert found["tiny"].usable


def test_a_broken_plugin_is_reported_not_loaded(plugin_path: Path):
    dist_info = next(plugin_path.glob("*.dist-info"))
    entry_points = dist_info / "entry_points.txt"
    entry_points.write_text(
        entry_points.read_text()
        + "misnamed = audit_portal_test_plugin:TinyCollector\n"
        + "missing = audit_portal_test_plugin:NoSuchThing\n"
        + "notaclass = audit_portal_test_plugin:HANG_RELEASE\n"
    )
    found = registry.discover()
    assert "called 'misnamed'" in found["misnamed"].problem
    assert "cannot be imported" in found["missing"].problem
    assert "not a class" in found["notaclass"].problem
    with pytest.raises(registry.UnknownCollector, match="unusable"):
        registry.load("missing")


def test_the_framework_documentation_names_every_protocol_member():
    text = (Path(__file__).resolve().parents[2] / "docs" / "collectors" / "framework.md").read_text()
    members = [name for name in Collector.__annotations__] + ["collect"]
    assert set(members) == {"name", "version", "Config", "default_schedule", "requirements", "collect"}
    for member in members:
        assert f"`{member}`" in text, member
    for field in dataclasses.fields(CollectContext):
        assert f"`{field.name}`" in text, field.name
    assert registry.ENTRY_POINT_GROUP in text and registry.ALLOWLIST_VARIABLE in text
