#!/bin/bash
# Records the iptables fixtures with the real tools (Debian package iptables), inside a
# throw-away network namespace so the recording machine's own rules are never read or changed.
# Run as root from this directory: ./record.sh
set -euo pipefail
cd "$(dirname "$0")"

NS=apfw-rec
ip netns add "$NS"
trap 'ip netns del "$NS"' EXIT

ipt() { ip netns exec "$NS" iptables "$@"; }
ip6t() { ip netns exec "$NS" ip6tables "$@"; }

# A namespace with no rules loaded: iptables-save prints nothing at all.
ip netns exec "$NS" iptables-save > empty.rules

# --- host-a, IPv4, as it was at the previous review -------------------------------------
ipt -P INPUT DROP
ipt -P FORWARD DROP
ipt -P OUTPUT ACCEPT
ipt -N ADMIN_SSH
ipt -A INPUT -i lo -m comment --comment "loopback" -j ACCEPT
ipt -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "return traffic" -j ACCEPT
ipt -A INPUT -m conntrack --ctstate INVALID -m comment --comment "drop invalid packets" -j DROP
ipt -A INPUT -p icmp --icmp-type echo-request -m limit --limit 5/second -m comment --comment "ping, rate limited" -j ACCEPT
ipt -A INPUT -p tcp --dport 22 -m comment --comment "ssh goes through the admin check" -j ADMIN_SSH
ipt -A ADMIN_SSH -s 10.20.0.0/16 -m comment --comment "ssh from admin network \"mgmt\"" -j ACCEPT
ipt -A ADMIN_SSH -s 192.0.2.10/32 -m comment --comment "bastion host" -j ACCEPT
ipt -A ADMIN_SSH -j LOG --log-prefix "ssh denied: "
ipt -A ADMIN_SSH -m comment --comment "everyone else" -j DROP
ipt -A INPUT -p tcp -m multiport --dports 80,443 -m comment --comment "web: http and https" -j ACCEPT
ipt -A INPUT -p udp --dport 443 -m comment --comment "HTTP/3 (QUIC)" -j ACCEPT
ipt -A INPUT -s 10.30.0.0/24 -p tcp --dport 3306 -m comment --comment "MySQL from app subnet 10.30.0.0/24" -j ACCEPT
ipt -A INPUT -s 10.30.0.64/26 -p tcp --dport 3306 -j ACCEPT
ipt -A INPUT -p tcp --dport 80 -m comment --comment "old http rule" -j ACCEPT
ipt -A INPUT -s 10.20.5.0/24 -p tcp --dport 9100 -m comment --comment "node exporter from monitoring" -j ACCEPT
ipt -A INPUT -p tcp --dport 8081 -m comment --comment "legacy status page" -j ACCEPT
ipt -A INPUT -s 203.0.113.0/24 -m comment --comment "blocklist: abusive range" -j DROP
ipt -A INPUT -p tcp --dport 25 -j REJECT --reject-with tcp-reset
ipt -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
ipt -A FORWARD -i eth1 -o eth0 -s 10.30.0.0/24 -m comment --comment "app subnet to the internet" -j ACCEPT
ipt -A OUTPUT -o lo -j ACCEPT
ipt -A OUTPUT -p udp --dport 53 -m comment --comment "dns" -j ACCEPT
ipt -t nat -A POSTROUTING -s 10.30.0.0/24 -o eth0 -m comment --comment "masquerade app subnet" -j MASQUERADE
ipt -t nat -A PREROUTING -i eth0 -p tcp --dport 8443 -j DNAT --to-destination 10.30.0.5:443
ip netns exec "$NS" iptables-save > host-a.previous.rules

# --- the changes made since, as an administrator would make them --------------------------
ipt -R ADMIN_SSH 1 -s 10.20.0.0/24 -m comment --comment "ssh from admin network \"mgmt\"" -j ACCEPT
ipt -D INPUT -p tcp --dport 8081 -m comment --comment "legacy status page" -j ACCEPT
ipt -I INPUT 11 -p tcp --dport 3389 -m comment --comment "temp: RDP for vendor's \"remote\" session" -j ACCEPT
ipt -I INPUT 12 -p tcp --dport 5432 -j ACCEPT
ip netns exec "$NS" iptables-save > host-a.rules

# --- host-a, IPv6 ------------------------------------------------------------------------
ip6t -P INPUT DROP
ip6t -P FORWARD ACCEPT
ip6t -P OUTPUT ACCEPT
ip6t -A INPUT -i lo -m comment --comment "loopback" -j ACCEPT
ip6t -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "return traffic" -j ACCEPT
ip6t -A INPUT -p ipv6-icmp -m comment --comment "neighbour discovery and ping" -j ACCEPT
ip6t -A INPUT -s 2001:db8:20::/64 -p tcp --dport 22 -m comment --comment "ssh from admin network" -j ACCEPT
ip6t -A INPUT -p tcp -m multiport --dports 80,443 -m comment --comment "web: http and https" -j ACCEPT
ip6t -A INPUT -i eth0 -m comment --comment "debug: allow everything on eth0" -j ACCEPT
ip6t -A INPUT -s 2001:db8:30::/64 -p tcp --dport 6379 -m comment --comment "redis from app subnet" -j ACCEPT
ip6t -A INPUT -s ::/0 -p tcp --dport 27017 -j ACCEPT
ip netns exec "$NS" ip6tables-save > host-a.v6.rules

# --- a corrupt file: the IPv4 recording cut off in the middle of the filter table --------
head -n 20 host-a.rules > truncated.rules

{
  echo "recorded: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "iptables: $(ip netns exec "$NS" iptables --version)"
  echo "ip6tables: $(ip netns exec "$NS" ip6tables --version)"
  echo "kernel: $(uname -r)"
  echo "debian: $(cat /etc/debian_version)"
} > VERSIONS.txt
