#!/usr/bin/env bash
# Re-creates the restic recordings in this folder from real repositories built in /tmp.
# Snapshot times are set with --time so the recordings describe backups spread over several
# days (a nightly job), which a single recording session could not otherwise produce.
# TZ is Europe/Amsterdam so restic writes local times with a +01:00 offset, as it does on the
# hosts in the demo organisation.
set -euo pipefail
export TZ=Europe/Amsterdam
export RESTIC_PASSWORD=recording-only-password
export RESTIC_CACHE_DIR=/tmp/restic-rec/cache
out="$(cd "$(dirname "$0")" && pwd)"
work=/tmp/restic-rec
rm -rf "$work"
mkdir -p "$work/data/etc" "$work/data/var-www"

record_check() {  # record_check <repo> <outdir> <name> [restic check flags...]
  local repo=$1 dir=$2 name=$3; shift 3
  set +e
  restic -r "$repo" check "$@" >"$dir/$name.txt" 2>&1
  echo $? >"$dir/$name.exitcode"
  set -e
}

record_repo() {  # record_repo <repo> <outdir>
  local repo=$1 dir=$2
  mkdir -p "$dir"
  restic -r "$repo" snapshots --json >"$dir/snapshots.json"
  restic -r "$repo" stats --json >"$dir/stats.json"
  record_check "$repo" "$dir" check
  record_check "$repo" "$dir" check-read-data --read-data
}

change_data() {  # change_data <n>
  echo "server_name web$1.example.nl; # edit $1" >"$work/data/etc/nginx-$1.conf"
  head -c $((40000 * $1)) /dev/urandom >"$work/data/var-www/upload-$1.bin"
}

# dc-ams-1: three nightly backups of web1.
restic -r "$work/ams" init
for day in 26 27 28; do
  change_data "$day"
  restic -r "$work/ams" backup --host web1 --tag nightly --time "2026-11-$day 02:00:00" "$work/data"
done
# dc-rtm-1: the nightly job stopped after 24 November.
restic -r "$work/rtm" init
for day in 23 24; do
  change_data "$day"
  restic -r "$work/rtm" backup --host web1 --tag nightly --time "2026-11-$day 03:15:00" "$work/data"
done
# A repository that was initialised but never received a backup.
restic -r "$work/empty" init

record_repo "$work/ams" "$out/ams"
record_repo "$work/rtm" "$out/rtm"
mkdir -p "$out/empty"
restic -r "$work/empty" snapshots --json >"$out/empty/snapshots.json"

# Corrupt one data pack in a copy of the dc-ams-1 repository: overwrite 64 bytes in the middle,
# keeping the file size, which only a --read-data check notices.
cp -a "$work/ams" "$work/ams-corrupt"
pack=$(find "$work/ams-corrupt/data" -type f -size +100k | sort | head -n1)
size=$(stat -c %s "$pack")
printf '%064d' 0 | dd of="$pack" bs=1 seek=$((size / 2)) conv=notrunc status=none
mkdir -p "$out/ams-corrupt"
restic -r "$work/ams-corrupt" snapshots --json >"$out/ams-corrupt/snapshots.json"
record_check "$work/ams-corrupt" "$out/ams-corrupt" check
record_check "$work/ams-corrupt" "$out/ams-corrupt" check-read-data --read-data

# A wrong password: the check errors before it can look at any data.
mkdir -p "$out/wrong-password"
RESTIC_PASSWORD=not-the-password record_check "$work/ams" "$out/wrong-password" check

restic version >"$out/VERSION"
date -u +%Y-%m-%dT%H:%M:%SZ >>"$out/VERSION"
