#!/bin/bash
# Records iptables-save output of a container and VM host: the chains Docker (docker0 and a
# user network br-*), libvirt (virbr0), flannel and the CNI bridge plugin create, built with the
# same iptables commands those tools run, inside a throw-away network namespace so the
# recording machine's own rules are never read or changed. Run as root: ./record.sh
set -euo pipefail
cd "$(dirname "$0")"

NS=apdock-rec
ip netns add "$NS"
trap 'ip netns del "$NS"' EXIT
ipt() { ip netns exec "$NS" iptables "$@"; }
save() { ip netns exec "$NS" iptables-save > "$1"; }

# --- the host's own rules ---------------------------------------------------------------
ipt -P INPUT DROP
ipt -A INPUT -i lo -m comment --comment "loopback" -j ACCEPT
ipt -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "return traffic" -j ACCEPT
ipt -A INPUT -s 10.20.0.0/16 -p tcp --dport 22 -m comment --comment "ssh from admin network" -j ACCEPT
ipt -A INPUT -p tcp --dport 443 -m comment --comment "reverse proxy" -j ACCEPT

# --- Docker 20-26 (libnetwork/iptables), docker0 and one user network br-3f2a9c1d7e55 -----
ipt -P FORWARD DROP
ipt -N DOCKER
ipt -N DOCKER-ISOLATION-STAGE-1
ipt -N DOCKER-ISOLATION-STAGE-2
ipt -N DOCKER-USER
ipt -A FORWARD -j DOCKER-USER
ipt -A FORWARD -j DOCKER-ISOLATION-STAGE-1
for br in docker0 br-3f2a9c1d7e55; do
  ipt -A FORWARD -o "$br" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
  ipt -A FORWARD -o "$br" -j DOCKER
  ipt -A FORWARD -i "$br" ! -o "$br" -j ACCEPT
  ipt -A FORWARD -i "$br" -o "$br" -j ACCEPT
  ipt -A DOCKER-ISOLATION-STAGE-1 -i "$br" ! -o "$br" -j DOCKER-ISOLATION-STAGE-2
  ipt -A DOCKER-ISOLATION-STAGE-2 -o "$br" -j DROP
done
# a published port: docker run -p 8080:80 nginx
ipt -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
ipt -A DOCKER-ISOLATION-STAGE-1 -j RETURN
ipt -A DOCKER-ISOLATION-STAGE-2 -j RETURN
ipt -A DOCKER-USER -j RETURN
ipt -t nat -N DOCKER
ipt -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
ipt -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
ipt -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
ipt -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o br-3f2a9c1d7e55 -j MASQUERADE
ipt -t nat -A DOCKER -i docker0 -j RETURN
ipt -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80

# --- libvirt 9 (default network virbr0, 192.168.122.0/24) ----------------------------------
for chain in LIBVIRT_INP LIBVIRT_OUT LIBVIRT_FWO LIBVIRT_FWI LIBVIRT_FWX; do ipt -N "$chain"; done
ipt -A INPUT -j LIBVIRT_INP
ipt -A FORWARD -j LIBVIRT_FWX
ipt -A FORWARD -j LIBVIRT_FWI
ipt -A FORWARD -j LIBVIRT_FWO
ipt -A OUTPUT -j LIBVIRT_OUT
ipt -A LIBVIRT_INP -i virbr0 -p udp -m udp --dport 53 -j ACCEPT
ipt -A LIBVIRT_INP -i virbr0 -p tcp -m tcp --dport 53 -j ACCEPT
ipt -A LIBVIRT_INP -i virbr0 -p udp -m udp --dport 67 -j ACCEPT
ipt -A LIBVIRT_INP -i virbr0 -p tcp -m tcp --dport 67 -j ACCEPT
ipt -A LIBVIRT_OUT -o virbr0 -p udp -m udp --dport 68 -j ACCEPT
ipt -A LIBVIRT_FWI -d 192.168.122.0/24 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
ipt -A LIBVIRT_FWI -o virbr0 -j REJECT --reject-with icmp-port-unreachable
ipt -A LIBVIRT_FWO -s 192.168.122.0/24 -i virbr0 -j ACCEPT
ipt -A LIBVIRT_FWO -i virbr0 -j REJECT --reject-with icmp-port-unreachable
ipt -A LIBVIRT_FWX -i virbr0 -o virbr0 -j ACCEPT

# --- Kubernetes: flannel and the CNI bridge plugin (cni0), pod network 10.244.0.0/16 ------
ipt -N FLANNEL-FWD
ipt -N CNI-FORWARD
ipt -A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
ipt -A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
ipt -A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
ipt -A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
ipt -A CNI-FORWARD -o cni0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
ipt -A CNI-FORWARD -i cni0 ! -o cni0 -j ACCEPT
ipt -A CNI-FORWARD -i cni0 -o cni0 -j ACCEPT
save docker-host.rules

# --- an in-place change: iptables -R, same chain and position, new match and comment -------
ipt -R INPUT 3 -s 10.20.0.0/16 -p tcp --dport 2222 -m comment --comment "ssh on the alternative port" -j ACCEPT
save docker-host.replaced.rules

# --- a real accept-all from the outside ----------------------------------------------------
ipt -I INPUT 1 -i eth0 -m comment --comment "debug: everything from the uplink" -j ACCEPT
ipt -I FORWARD 1 -i eth0 -j ACCEPT
save docker-host.open.rules

{
  echo "recorded: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "iptables: $(ip netns exec "$NS" iptables --version)"
  echo "kernel: $(uname -r)"
  echo "debian: $(cat /etc/debian_version)"
} > VERSIONS.txt
