#!/usr/bin/env bash
# Build bin/cplane (kube-apiserver + kube-controller-manager + kubectl, from the k8s.io/kubernetes Go module) and
# the bin/kubectl symlink. Needs Go (go.mod's go version or newer) and the Go module proxy, or a warm module cache.
#
# Env: CPLANE_CACHE_DIR  optional; if set, the module cache and build cache live in $CPLANE_CACHE_DIR/{mod,build}
#                        (so CI can keep one directory between runs). Otherwise Go's default caches are used.
set -euo pipefail

cd "$(dirname "$0")"
start=$(date +%s)

# shellcheck source=../go-env.sh
source ../go-env.sh

# The Kubernetes version is whatever go.mod requires (see gen-replace.sh).
read -r version release_time < <(go list -mod=readonly -m -f '{{.Version}} {{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)
if [[ ! "$version" =~ ^v([0-9]+)\.([0-9]+)\. ]]; then
  echo "build.sh: unexpected k8s.io/kubernetes version '$version'" >&2
  exit 1
fi
major="${BASH_REMATCH[1]}" minor="${BASH_REMATCH[2]}"
# buildDate is the release's publication time: deterministic, so unchanged sources give an identical binary.
build_date="${release_time:-1970-01-01T00:00:00Z}"

ldflags="-s -w"
# component-base: what kube-apiserver's /version and the controller manager report.
# client-go: what kubectl reports as its client version.
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

mkdir -p bin
go build -mod=readonly -trimpath -ldflags "$ldflags" -o bin/cplane .
ln -sfn cplane bin/kubectl

echo "build.sh: built bin/cplane ($version, $(du -m bin/cplane | cut -f1) MB) in $(($(date +%s) - start))s" >&2
