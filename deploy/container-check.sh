#!/usr/bin/env bash
# Runs the built image the way compose and Kubernetes do, against the local PostgreSQL:
# read-only root filesystem, a data volume, /tmp as tmpfs, non-root. Checks that `migrate` runs
# as its own command, that `serve` answers /healthz and the image's HEALTHCHECK passes, that the
# process is not root, and that `backup` (pg_dump inside the image) works.
#
#   deploy/container-check.sh IMAGE [ENGINE...]
#   e.g. deploy/container-check.sh localhost/audit-portal:test podman --storage-driver vfs --runtime runc
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and host networking.
set -euo pipefail
image=$1; shift
engine=("${@:-docker}")
database="container_check_$$"
port=18765
name="audit-portal-check-$$"
volume="audit-portal-check-$$"
common=(--network host --read-only --tmpfs /tmp -v "$volume:/var/lib/audit-portal"
     --ulimit nofile=20000:20000 --ulimit nproc=4096:4096
     -e "AUDIT_PORTAL_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/$database"
     -e "AUDIT_PORTAL_SECRET_KEY=container-check-secret-key-of-enough-length")

cleanup() {
  "${engine[@]}" rm -f "$name" >/dev/null 2>&1 || true
  "${engine[@]}" volume rm -f "$volume" >/dev/null 2>&1 || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null
}
trap cleanup EXIT
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $database"

"${engine[@]}" run --rm "${common[@]}" "$image" migrate
"${engine[@]}" run --rm "${common[@]}" "$image" catalogue load
"${engine[@]}" run -d --name "$name" "${common[@]}" "$image" serve --host 127.0.0.1 --port "$port"
for _ in $(seq 1 90); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 1
done
curl -fsS "http://127.0.0.1:$port/healthz"; echo
# The image's HEALTHCHECK command, run in the container (podman keeps HEALTHCHECK only in
# images built with --format docker).
"${engine[@]}" exec "$name" python3 -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=4).status == 200 else 1)" \
  && echo "health check command passed"
echo "runs as: $("${engine[@]}" exec "$name" id)"
if "${engine[@]}" exec "$name" touch /opt/audit-portal/written 2>/dev/null; then
  echo "the root filesystem is writable" >&2; exit 1
fi
echo "root filesystem: read-only"
"${engine[@]}" exec "$name" audit-portal backup /var/lib/audit-portal/backup-check
"${engine[@]}" exec "$name" ls -l /var/lib/audit-portal/backup-check
echo "container check passed"
