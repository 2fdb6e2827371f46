"""Interfaces decide "from anywhere": traffic entering from a container or VM bridge, or only
leaving towards one, is not traffic from the internet (recordings/docker)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from collectors.base import Severity
from collectors.firewall import FirewallCollector
from collectors.firewall.analysis import find_all
from collectors.firewall.iptables import parse_iptables_save
from collectors.firewall.model import InternalSide, ParsedInput, Rule


def _parsed(recording: Callable[[str], Path], name: str, internal: InternalSide | None = None) -> list[ParsedInput]:
    ruleset = parse_iptables_save(recording(name).read_text(), "ipv4", "dock1/ipv4")
    parsed = ParsedInput("dock1/ipv4", "iptables", name, ruleset)
    if internal is not None:
        parsed.internal = internal
    return [parsed]


def _severe(findings) -> dict[str, Severity]:
    return {f.key: f.severity for f in findings if f.severity.rank >= Severity.high.rank}


class TestContainerHost:
    def test_stock_docker_libvirt_and_cni_host_has_no_severe_finding(self, recording: Callable[[str], Path]) -> None:
        assert _severe(find_all(_parsed(recording, "docker/docker-host.rules"))) == {}

    def test_without_the_internal_interfaces_docker_rules_read_as_accept_all(
        self, recording: Callable[[str], Path]
    ) -> None:
        # the same recording judged with only "lo" internal: what the collector used to say
        found = _severe(find_all(_parsed(recording, "docker/docker-host.rules", InternalSide(("lo",), ()))))
        assert found["accept-all:dock1/ipv4:filter/FORWARD:any/all:0.0.0.0/0@docker0@>!docker0"] == Severity.critical
        assert found["accept-all:dock1/ipv4:filter/LIBVIRT_FWX:any/all:0.0.0.0/0@virbr0@>virbr0"] == Severity.critical
        assert found["accept-all:dock1/ipv4:filter/FLANNEL-FWD:any/all:0.0.0.0/0>10.244.0.0/16"] == Severity.critical

    def test_a_real_accept_all_from_the_outside_still_is_critical(self, recording: Callable[[str], Path]) -> None:
        found = _severe(find_all(_parsed(recording, "docker/docker-host.open.rules")))
        assert found == {
            "accept-all:dock1/ipv4:filter/INPUT:any/all:0.0.0.0/0@eth0": Severity.critical,
            "accept-all:dock1/ipv4:filter/FORWARD:any/all:0.0.0.0/0@eth0": Severity.critical,
        }

    def test_a_published_admin_port_towards_a_bridge_is_still_exposed(self) -> None:
        # docker run -p 2222:22: reachable from anywhere although it leaves towards docker0
        rule = Rule(
            input="d",
            table="filter",
            chain="DOCKER",
            position=1,
            direction="forward",
            protocol="tcp",
            source=("0.0.0.0/0",),
            destination=("172.17.0.2/32",),
            ports=("22",),
            in_interface="!docker0",
            out_interface="docker0",
            action="accept",
            text="-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 22 -j ACCEPT",
        )
        (finding,) = [
            f for f in find_all([ParsedInput("d", "iptables", "f", _ruleset(rule))]) if f.severity == Severity.high
        ]
        assert finding.key == "admin-port-open:d:filter/DOCKER:tcp/22:0.0.0.0/0@!docker0@>docker0"


def _ruleset(*rules: Rule):
    from collectors.firewall.model import Chain, Ruleset

    return Ruleset(chains=[Chain("d", "filter", rules[0].chain, kind="filter")], rules=list(rules))


class TestRulesDifferingOnlyByInterface:
    def test_are_not_merged_into_one_finding(self) -> None:
        base = dict(
            input="d",
            table="filter",
            chain="FORWARD",
            direction="forward",
            source=("0.0.0.0/0",),
            action="accept",
            in_interface="eth0",
        )
        rules = [
            Rule(position=1, out_interface="eth1", text="-A FORWARD -i eth0 -o eth1 -j ACCEPT", **base),
            Rule(position=2, out_interface="eth2", text="-A FORWARD -i eth0 -o eth2 -j ACCEPT", **base),
        ]
        keys = sorted(
            f.key
            for f in find_all([ParsedInput("d", "iptables", "f", _ruleset(*rules))])
            if f.severity == Severity.critical
        )
        assert keys == [
            "accept-all:d:filter/FORWARD:any/all:0.0.0.0/0@eth0@>eth1",
            "accept-all:d:filter/FORWARD:any/all:0.0.0.0/0@eth0@>eth2",
        ]


class TestInternalSide:
    @pytest.mark.parametrize(
        ("name", "internal"),
        [
            ("lo", True),
            ("docker0", True),
            ("br-3f2a9c1d7e55", True),
            ("virbr0", True),
            ("cni0", True),
            ("cali+", True),
            ("cali1a2b", True),
            ('"docker0","virbr0"', True),
            ("docker0,eth0", False),
            ("!docker0", False),
            ("eth0", False),
            ("", False),
            ("bridge", False),
            ("br0", False),
        ],
    )
    def test_interface(self, name: str, internal: bool) -> None:
        assert InternalSide().is_internal_interface(name) is internal


class TestCollectorOptions:
    def _config(self, recording, **options) -> dict:
        return {
            "sources": [
                {
                    "type": "iptables",
                    "name": "dock1",
                    "path": str(recording("docker/docker-host.rules")),
                    "ipv6": False,
                    **options,
                }
            ]
        }

    def test_defaults_keep_a_stock_host_quiet(self, make_context, recording) -> None:
        result = FirewallCollector().collect(make_context(self._config(recording)))
        assert _severe(result.findings) == {}

    def test_an_organisation_can_narrow_the_list(self, make_context, recording) -> None:
        result = FirewallCollector().collect(
            make_context(
                self._config(
                    recording, internal_interfaces=["lo", "virbr+", "cni+"], internal_networks=["10.244.0.0/16"]
                )
            )
        )
        assert {k for k in _severe(result.findings)} == {
            "accept-all:dock1/ipv4:filter/FORWARD:any/all:0.0.0.0/0@docker0@>!docker0",
            "accept-all:dock1/ipv4:filter/FORWARD:any/all:0.0.0.0/0@docker0@>docker0",
            "accept-all:dock1/ipv4:filter/FORWARD:any/all:0.0.0.0/0@br-3f2a9c1d7e55@>!br-3f2a9c1d7e55",
            "accept-all:dock1/ipv4:filter/FORWARD:any/all:0.0.0.0/0@br-3f2a9c1d7e55@>br-3f2a9c1d7e55",
        }

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            ({"internal_interfaces": ["eth0; rm -rf /"]}, "is not an interface name"),
            ({"internal_networks": ["10.244.0.0/33"]}, "is not a network"),
        ],
    )
    def test_bad_options_are_refused(self, recording, options, message) -> None:
        from pydantic import ValidationError

        from collectors.firewall import FirewallConfig

        with pytest.raises(ValidationError, match=message):
            FirewallConfig.model_validate(self._config(recording, **options))
