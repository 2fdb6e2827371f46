from __future__ import annotations

import pytest
from pydantic import ValidationError

from collectors.base import Collector
from collectors.firewall import FirewallCollector, FirewallConfig


def test_matches_the_collector_protocol() -> None:
    assert isinstance(FirewallCollector(), Collector)
    assert FirewallCollector.requirements == (
        "ACC-1/firewall",
        "COM-1/firewall-review",
        "COM-2/firewall",
    )
    assert (
        FirewallCollector.name,
        FirewallCollector.version,
        FirewallCollector.default_schedule,
    ) == ("firewall", "1.0.0", "0 6 * * 1")


def test_defaults_run_the_declared_save_commands(tmp_path, monkeypatch) -> None:
    """Without a command of the operator's own, each source type runs the fixed argv the
    collector declares (here programs of those names on PATH that print their argv)."""
    from collectors.firewall.sources import collect_source

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("iptables-save", "ip6tables-save", "nft"):
        script = bin_dir / program
        script.write_text('#!/bin/sh\necho "$0 $*"\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    config = FirewallConfig.model_validate({"sources": [{"type": "iptables"}, {"type": "nftables"}]})
    iptables, nftables = config.sources
    assert (iptables.command, iptables.ipv6, iptables.ipv6_command, nftables.command) == (None, True, None, None)
    ran = [(raw.origin, raw.data.decode().strip()) for source in config.sources for raw in collect_source(source)]
    assert ran == [
        ("iptables-save", f"{bin_dir}/iptables-save"),
        ("ip6tables-save", f"{bin_dir}/ip6tables-save"),
        ("nft -j list ruleset", f"{bin_dir}/nft -j list ruleset"),
    ]


def test_command_strings_are_split() -> None:
    config = FirewallConfig.model_validate(
        {"sources": [{"type": "nftables", "command": "sudo -n nft -j list ruleset"}]}
    )
    assert config.sources[0].command == ["sudo", "-n", "nft", "-j", "list", "ruleset"]


def test_aws_secrets_stay_hidden() -> None:
    config = FirewallConfig.model_validate(
        {
            "sources": [
                {
                    "type": "aws",
                    "regions": ["eu-west-1"],
                    "access_key_id": "AKIAEXAMPLE",
                    "secret_access_key": "s3cr3t",
                }
            ]
        }
    )
    assert "s3cr3t" not in repr(config) and "AKIAEXAMPLE" not in repr(config)
    assert config.sources[0].secret_access_key.get_secret_value() == "s3cr3t"


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ([], "at least 1 item"),
        ([{"type": "iptables", "path": "/srv/host-b.rules"}], "also set ipv6_path, or ipv6: false"),
        ([{"type": "nftables"}, {"type": "nftables"}], "source names must be unique .*: nftables"),
        (
            [{"type": "aws", "regions": ["eu-west-1"], "access_key_id": "AKIA"}],
            "set both access_key_id and secret_access_key",
        ),
        ([{"type": "aws", "regions": []}], "at least 1 item"),
        ([{"type": "pf"}], "does not match any of the expected tags"),
        ([{"type": "nftables", "paht": "/x"}], "Extra inputs are not permitted"),
        ([{"type": "nftables", "name": "edge/1"}], "String should match pattern"),
    ],
)
def test_invalid_config(sources: list, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FirewallConfig.model_validate({"sources": sources})


def test_saved_ipv4_file_with_ipv6_turned_off_is_valid() -> None:
    config = FirewallConfig.model_validate(
        {"sources": [{"type": "iptables", "path": "/srv/host-b.rules", "ipv6": False}]}
    )
    assert config.sources[0].ipv6 is False
