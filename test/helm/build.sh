#!/usr/bin/env bash
# Build bin/helm from Helm's Go module (the version go.mod requires), as the control plane is built: the chart is
# linted, rendered, installed and uninstalled with a real helm, never a downloaded binary.
# Env: CPLANE_CACHE_DIR  optional; shared Go module and build caches, as in test/control-plane/build.sh.
set -euo pipefail
cd "$(dirname "$0")"
start=$(date +%s)
# shellcheck source=../go-env.sh
source ../go-env.sh
version=$(go list -mod=readonly -m -f '{{.Version}}' helm.sh/helm/v4)
mkdir -p bin
go build -mod=readonly -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$version" -o bin/helm helm.sh/helm/v4/cmd/helm
echo "helm $version built in $(( $(date +%s) - start )) s: $(pwd)/bin/helm"
