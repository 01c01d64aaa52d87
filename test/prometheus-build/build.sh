#!/usr/bin/env bash
# Build bin/prometheus and bin/promtool from Prometheus's Go module (the version go.mod requires), as the control
# plane and helm are built: the observability tests run a pinned current Prometheus, never a system package.
# No web UI (no builtinassets tag: the API and the rules engine are all the tests use) and only the static, file and
# http service discoveries (remove_all_sd, an upstream build tag), which keeps the build smaller.
# Env: CPLANE_CACHE_DIR  optional; shared Go module and build caches, as in test/control-plane/build.sh.
set -euo pipefail
cd "$(dirname "$0")"
start=$(date +%s)
# shellcheck source=../go-env.sh
source ../go-env.sh
read -r mversion release_time < <(go list -mod=readonly -m -f '{{.Version}} {{with .Time}}{{.UTC.Format "20060102-15:04:05"}}{{end}}' github.com/prometheus/prometheus)
# Module v0.316.0 is Prometheus 3.16.0 (upstream's mapping of its 3.x releases onto Go module versions).
if [[ ! "$mversion" =~ ^v0\.3([0-9]{2})\.([0-9]+)$ ]]; then
  echo "build.sh: unexpected github.com/prometheus/prometheus version '$mversion'" >&2
  exit 1
fi
version="3.$((10#${BASH_REMATCH[1]})).${BASH_REMATCH[2]}"
v=github.com/prometheus/common/version
# BuildDate is the module's publication time, so unchanged sources give an identical binary.
ldflags="-s -w -X $v.Version=$version -X $v.Revision=$mversion -X $v.Branch=module -X $v.BuildUser=countersign -X $v.BuildDate=${release_time:-19700101-00:00:00}"
mkdir -p bin
for cmd in prometheus promtool; do
  go build -mod=readonly -trimpath -tags netgo,remove_all_sd -ldflags "$ldflags" -o "bin/$cmd" "github.com/prometheus/prometheus/cmd/$cmd"
done
echo "build.sh: built bin/prometheus and bin/promtool ($version, $(du -cm bin/prometheus bin/promtool | tail -1 | cut -f1) MB) in $(( $(date +%s) - start )) s" >&2
