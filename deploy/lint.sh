#!/usr/bin/env bash
# Static checks of the deployment files, run by `make lint-deploy` (and so by CI):
#   1. every Kubernetes manifest validates against the Kubernetes schemas (kubernetes-validate),
#      file by file and, where kubectl is installed, as kustomize renders them;
#   2. the kustomization lists every manifest in the folder (none is forgotten by `apply -k`);
#   3. checkov finds no failed check in the manifests and the Dockerfile (each skip is an
#      annotation with its reason next to the resource).
set -euo pipefail
cd "$(dirname "$0")/.."
lint=.venv-lint/bin
k8s_version=1.30.0
manifests=deploy/kubernetes

"$lint/kubernetes-validate" --strict --quiet -k "$k8s_version" \
  $(ls "$manifests"/*.yaml | grep -v kustomization.yaml)

for file in "$manifests"/*.yaml; do
  name=$(basename "$file")
  [ "$name" = kustomization.yaml ] && continue
  grep -qE "^  - $name\$" "$manifests/kustomization.yaml" || { echo "kustomization.yaml does not list $name" >&2; exit 1; }
done

if command -v kubectl >/dev/null 2>&1; then
  rendered=$(mktemp --suffix=.yaml)
  trap 'rm -f "$rendered"' EXIT
  kubectl kustomize "$manifests" > "$rendered"
  "$lint/kubernetes-validate" --strict --quiet -k "$k8s_version" "$rendered"
  echo "kustomize output validates against Kubernetes $k8s_version"
fi

# --skip-download: checkov would otherwise try to fetch guidelines from its vendor's service.
"$lint/checkov" --quiet --compact --skip-download --framework kubernetes -d "$manifests"
"$lint/checkov" --quiet --compact --skip-download --framework dockerfile -f Dockerfile
echo "deployment files: schemas valid, checkov clean"
