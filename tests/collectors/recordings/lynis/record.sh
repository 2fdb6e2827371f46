#!/bin/bash
# Records two Lynis reports of this machine, before and after a change that resolves two of
# Lynis' suggestions. Run as root from this directory: ./record.sh (takes a few minutes per run).
set -euo pipefail
cd "$(dirname "$0")"
apt-get install -y lynis
lynis audit system --quick --no-colors --report-file "$PWD/lynis-report.run1.dat" --log-file /tmp/lynis-run1.log
# the change between the runs: the package tools Lynis suggests (PKGS-7370, PKGS-7394)
apt-get install -y debsums apt-show-versions
lynis audit system --quick --no-colors --report-file "$PWD/lynis-report.run2.dat" --log-file /tmp/lynis-run2.log
{ lynis --version; date -u +%Y-%m-%dT%H:%M:%SZ; cat /etc/debian_version; } > VERSIONS.txt
