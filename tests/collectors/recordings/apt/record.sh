#!/bin/sh
# Records the apt/dpkg/unattended-upgrades inputs of the patch collector on a Debian host.
# Run as root from this directory. It installs and removes the small "hello" package and
# upgrades jq (a pending security update) so the logs hold install, upgrade and remove entries.
set -eu
out=$(pwd)
lock="-o DPkg::Lock::Timeout=600"
apt-get $lock update
apt-get $lock install -y hello
apt-get $lock install -y --only-upgrade jq
apt-get $lock remove -y hello
apt-get $lock install -y unattended-upgrades
LC_ALL=C apt list --upgradable > "$out/apt-list-upgradable.txt" 2> "$out/apt-list-upgradable.stderr"
LC_ALL=C apt-get -s upgrade > "$out/apt-get-s-upgrade.txt"
unattended-upgrade --dry-run -v > "$out/unattended-upgrade-dry-run.stdout" 2>&1
cp /var/log/unattended-upgrades/unattended-upgrades.log "$out/unattended-upgrades.log"
cp /var/log/apt/history.log "$out/history.log"
cp /var/log/dpkg.log "$out/dpkg.log"
gzip -9 -n -c "$out/history.log" > "$out/history.log.1.gz"
{
  date -u '+%Y-%m-%dT%H:%M:%SZ'
  cat /etc/debian_version
  dpkg-query -W -f='${Package} ${Version}\n' apt dpkg unattended-upgrades gzip
} > "$out/versions.txt"
