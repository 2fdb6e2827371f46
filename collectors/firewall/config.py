"""The firewall collector's configuration: a list of sources, each one firewall to read."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from collectors.firewall.model import (
    DEFAULT_INTERNAL_INTERFACES,
    DEFAULT_INTERNAL_NETWORKS,
    InternalSide,
)
from collectors.options import HostCommand, HostPath

DEFAULT_TIMEOUT_SECONDS = 30.0

# The commands each source type runs when no host-managed instance file names its own: fixed
# argv, never a shell. The portal's pages and API can only choose these (collectors.options).
COMMANDS: dict[str, tuple[str, ...]] = {
    "iptables": ("iptables-save",),
    "iptables ipv6": ("ip6tables-save",),
    "nftables": ("nft", "-j", "list", "ruleset"),
}


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeout_seconds: float = Field(DEFAULT_TIMEOUT_SECONDS, gt=0, description="Per command or API call.")


class _HostSource(_Source):
    """A host's packet filter: it has interfaces and may carry container or VM networks."""

    internal_interfaces: list[str] = Field(
        default_factory=lambda: list(DEFAULT_INTERNAL_INTERFACES),
        description="Interfaces inside the host (loopback, container and VM bridges); a trailing"
        " + matches a prefix. Traffic entering from one, or only leaving towards one, is not"
        " traffic from anywhere. Replaces the default list.",
    )
    internal_networks: list[str] = Field(
        default_factory=lambda: list(DEFAULT_INTERNAL_NETWORKS),
        description="Container and pod networks; forwarding only towards one is not accepting"
        " everything. Replaces the default list.",
    )

    @field_validator("internal_interfaces")
    @classmethod
    def _interface_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9_.:@-]{1,15}\+?", name):
                raise ValueError(f"{name!r} is not an interface name (a trailing + matches a prefix)")
        return value

    @field_validator("internal_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as error:
                raise ValueError(f"{network!r} is not a network: {error}") from None
        return value

    def internal_side(self) -> InternalSide:
        return InternalSide(tuple(self.internal_interfaces), tuple(self.internal_networks))


class IptablesSource(_HostSource):
    """iptables and ip6tables: saved output from files, or the live rules via the save commands."""

    type: Literal["iptables"]
    name: str = Field("iptables", pattern=r"^[A-Za-z0-9_.-]+$")
    path: HostPath | None = Field(None, description="File with iptables-save output; when unset, `command` runs.")
    command: HostCommand | None = Field(None, description="Default: iptables-save.")
    ipv6: bool = Field(True, description="Also read the IPv6 rules.")
    ipv6_path: HostPath | None = Field(
        None, description="File with ip6tables-save output; when unset, `ipv6_command` runs."
    )
    ipv6_command: HostCommand | None = Field(None, description="Default: ip6tables-save.")

    @model_validator(mode="after")
    def _no_mixed_hosts(self) -> IptablesSource:
        # A saved file usually comes from another host; silently running ip6tables-save here
        # would pair that host's IPv4 rules with this host's IPv6 rules.
        if self.path is not None and self.ipv6 and self.ipv6_path is None and self.ipv6_command is None:
            raise ValueError(
                "path reads saved IPv4 rules: also set ipv6_path, or ipv6: false, "
                "or ipv6_command to run ip6tables-save on this host"
            )
        return self


class NftablesSource(_HostSource):
    """An nftables ruleset as JSON: from a file, or the live ruleset via `nft -j list ruleset`."""

    type: Literal["nftables"]
    name: str = Field("nftables", pattern=r"^[A-Za-z0-9_.-]+$")
    path: HostPath | None = Field(
        None, description="File with `nft -j list ruleset` output; when unset, `command` runs."
    )
    command: HostCommand | None = Field(None, description="Default: nft -j list ruleset.")


class AwsSource(_Source):
    """EC2 security groups of one AWS account, per region."""

    type: Literal["aws"]
    name: str = Field("aws", pattern=r"^[A-Za-z0-9_.-]+$")
    regions: list[str] = Field(min_length=1)
    endpoint_url: str | None = Field(None, description="For an EC2-compatible endpoint other than AWS.")
    access_key_id: SecretStr | None = Field(None, description="When unset, boto3's default credential chain is used.")
    secret_access_key: SecretStr | None = None
    path: HostPath | None = Field(
        None,
        description='File with recorded DescribeSecurityGroups JSON ({"SecurityGroups": [...]},'
        " as a run's raw archive stores it) for the one region given; when set, no API call.",
    )

    @model_validator(mode="after")
    def _keys_together(self) -> AwsSource:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("set both access_key_id and secret_access_key, or neither")
        if self.path is not None and len(self.regions) != 1:
            raise ValueError("path holds the groups of one region: give exactly one region with it")
        return self


Source = Annotated[IptablesSource | NftablesSource | AwsSource, Field(discriminator="type")]


class FirewallConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> FirewallConfig:
        names = [source.name for source in self.sources]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"source names must be unique (give each a `name`): {', '.join(repeated)}")
        return self
