#!/usr/bin/env bash
# Records `borg check --verbose --verify-data` for the fra repository. record.sh's repository
# is gone after it ran, so this rebuilds it exactly as record.sh does (same archive names,
# times and data sizes) and records only the data-reading check, without touching the other
# recordings. Run from this folder: ./record-verify-data.sh
set -euo pipefail
export TZ=Europe/Amsterdam
export BORG_PASSPHRASE=recording-only-passphrase
export BORG_BASE_DIR=/tmp/borg-rec-verify/home
out="$(cd "$(dirname "$0")" && pwd)"
work=/tmp/borg-rec-verify
rm -rf "$work"
mkdir -p "$work/data/etc" "$work/data/srv"
borg init --encryption=repokey "$work/fra"
for day in 26 27 28; do
  echo "listen_addresses = '*' # edit $day" >"$work/data/etc/postgresql-$day.conf"
  head -c $((50000 * day)) /dev/urandom >"$work/data/srv/dump-$day.sql"
  borg create --timestamp "2026-11-${day}T01:30:00" "$work/fra::db1-2026-11-$day" "$work/data"
done
set +e
borg check --verbose --verify-data "$work/fra" >"$out/fra/check-verify-data.txt" 2>&1
echo $? >"$out/fra/check-verify-data.exitcode"
set -e
{ borg --version; date -u +%Y-%m-%dT%H:%M:%SZ; } >"$out/VERSION-verify-data"
rm -rf "$work"
