#!/usr/bin/env bash
# Records what each kind of restic and borg check prints, to tell a structural check from one
# that reads the data back: restic check / --read-data-subset / --read-data, and
# borg check --verbose / --verify-data / --repository-only. Repositories are built in /tmp.
set -euo pipefail
export RESTIC_PASSWORD=recording-only-password
export RESTIC_CACHE_DIR=/tmp/apchecks-rec/cache
export BORG_PASSPHRASE=recording-only-passphrase
export BORG_BASE_DIR=/tmp/apchecks-rec/home
out="$(cd "$(dirname "$0")" && pwd)"
work=/tmp/apchecks-rec
rm -rf "$work"
mkdir -p "$work/data"
head -c 300000 /dev/urandom >"$work/data/dump.sql"
echo "listen_addresses = '*'" >"$work/data/postgresql.conf"

record() {  # record <name> <command...>: output (stdout+stderr) and exit code
  local name=$1; shift
  set +e
  "$@" >"$out/$name.txt" 2>&1
  echo $? >"$out/$name.exitcode"
  set -e
}

restic -r "$work/restic" init
restic -r "$work/restic" backup --host db1 "$work/data"
record restic-check restic -r "$work/restic" check
record restic-check-read-data-subset restic -r "$work/restic" check --read-data-subset=1/3
record restic-check-read-data-subset-2 restic -r "$work/restic" check --read-data-subset=2/3
record restic-check-read-data-subset-percent restic -r "$work/restic" check --read-data-subset=50%
record restic-check-read-data restic -r "$work/restic" check --read-data

borg init --encryption=repokey "$work/borg"
borg create "$work/borg::db1-nightly" "$work/data"
record borg-check borg check --verbose "$work/borg"
record borg-check-verify-data borg check --verbose --verify-data "$work/borg"
record borg-check-repository-only borg check --verbose --repository-only "$work/borg"

{
  restic version
  borg --version
  date -u +%Y-%m-%dT%H:%M:%SZ
} >"$out/VERSION"
rm -rf "$work"
