"""Firewall-rule review: iptables/ip6tables, nftables and AWS security groups.

Entry point: ``firewall = "collectors.firewall:FirewallCollector"`` in the
``audit_portal.collectors`` group.
"""

from collectors.firewall.collector import FirewallCollector
from collectors.firewall.config import AwsSource, FirewallConfig, IptablesSource, NftablesSource

__all__ = ["AwsSource", "FirewallCollector", "FirewallConfig", "IptablesSource", "NftablesSource"]
