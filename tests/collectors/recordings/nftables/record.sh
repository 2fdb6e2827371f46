#!/bin/bash
# Records the nftables fixtures with the real tool (Debian package nftables), inside a
# throw-away network namespace so the recording machine's own ruleset is never read or changed.
# Run as root from this directory: ./record.sh
set -euo pipefail
cd "$(dirname "$0")"

NS=apfw-rec
ip netns add "$NS"
trap 'ip netns del "$NS"' EXIT

# A namespace with nothing loaded: only the metainfo object.
ip netns exec "$NS" nft -j list ruleset > empty.json

ip netns exec "$NS" nft -f edge.nft
ip netns exec "$NS" nft -j list ruleset > edge.json

# A corrupt file: the recording cut off in the middle of the JSON document.
head -c 1500 edge.json > truncated.json

{
  echo "recorded: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nft: $(ip netns exec "$NS" nft --version)"
  echo "kernel: $(uname -r)"
  echo "debian: $(cat /etc/debian_version)"
} > VERSIONS.txt
