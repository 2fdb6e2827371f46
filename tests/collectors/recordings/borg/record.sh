#!/usr/bin/env bash
# Re-creates the borg recordings in this folder from a real repository built in /tmp.
# Archive times are set with --timestamp so the recordings describe a nightly job over several
# days. TZ is Europe/Amsterdam: borg 1.2 writes naive local times in its JSON, so the collector
# is told the repository's time zone in its config.
set -euo pipefail
export TZ=Europe/Amsterdam
export BORG_PASSPHRASE=recording-only-passphrase
export BORG_BASE_DIR=/tmp/borg-rec/home
out="$(cd "$(dirname "$0")" && pwd)"
work=/tmp/borg-rec
rm -rf "$work"
mkdir -p "$work/data/etc" "$work/data/srv"

record_check() {  # record_check <repo> <outdir>
  local repo=$1 dir=$2
  set +e
  borg check --verbose "$repo" >"$dir/check.txt" 2>&1
  echo $? >"$dir/check.exitcode"
  set -e
}

borg init --encryption=repokey "$work/fra"
for day in 26 27 28; do
  echo "listen_addresses = '*' # edit $day" >"$work/data/etc/postgresql-$day.conf"
  head -c $((50000 * day)) /dev/urandom >"$work/data/srv/dump-$day.sql"
  borg create --timestamp "2026-11-${day}T01:30:00" "$work/fra::db1-2026-11-$day" "$work/data"
done
mkdir -p "$out/fra"
borg list --json "$work/fra" >"$out/fra/list.json"
borg info --json "$work/fra" >"$out/fra/info.json"
record_check "$work/fra" "$out/fra"

# An initialised repository without archives.
borg init --encryption=repokey "$work/empty"
mkdir -p "$out/empty"
borg list --json "$work/empty" >"$out/empty/list.json"
borg info --json "$work/empty" >"$out/empty/info.json"

# Corrupt one segment file in a copy of the repository: overwrite 64 bytes in the middle of
# the largest segment, keeping its size.
cp -a "$work/fra" "$work/fra-corrupt"
# The copy lives at another path; borg would otherwise ask whether that move was intended.
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
segment=$(find "$work/fra-corrupt/data" -type f -name '[0-9]*' -printf '%s %p\n' | sort -n | tail -n1 | cut -d' ' -f2)
size=$(stat -c %s "$segment")
printf '%064d' 0 | dd of="$segment" bs=1 seek=$((size / 2)) conv=notrunc status=none
mkdir -p "$out/fra-corrupt"
borg list --json "$work/fra-corrupt" >"$out/fra-corrupt/list.json"
record_check "$work/fra-corrupt" "$out/fra-corrupt"

# A wrong passphrase: the check cannot open the repository at all.
mkdir -p "$out/wrong-passphrase"
BORG_PASSPHRASE=not-the-passphrase record_check "$work/fra" "$out/wrong-passphrase"

borg --version >"$out/VERSION"
date -u +%Y-%m-%dT%H:%M:%SZ >>"$out/VERSION"
