#!/usr/bin/env bash
# Bring the node-side runtime of a test Kubernetes node into bin/, idempotently:
#   bin/containerd, bin/containerd-shim-runc-v2, bin/ctr   containerd (github.com/containerd/containerd/v2), built
#                                                          static from the Go module runtime/go.mod requires
#   bin/cni/{bridge,host-local,loopback,portmap}           CNI plugins (github.com/containernetworking/plugins), same
#   bin/runc -> Debian's runc                              (built with seccomp; containerd's shim runs it)
# and checks the Debian packages the node needs but we do not build: runc, iptables, conntrack (kube-proxy),
# debootstrap and buildah (image builds). Missing ones are installed with apt-get when running as root; otherwise
# the script names them and exits 1. A Go build whose inputs (go.mod, go.sum, flags, Go version) are unchanged and
# whose binaries are all present is skipped.
#
# Env: CPLANE_CACHE_DIR  optional; shared Go module and build caches, as in test/control-plane/build.sh.
set -euo pipefail
cd "$(dirname "$0")"
start=$(date +%s)
# shellcheck source=../go-env.sh
source ../go-env.sh

# --- Debian packages (command -> package). /usr/sbin is searched too: a non-root PATH often lacks it.
declare -A debian=([runc]=runc [iptables]=iptables [conntrack]=conntrack [debootstrap]=debootstrap [buildah]=buildah)
find_cmd() { PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$1" || true; }
missing=()
for cmd in runc iptables conntrack debootstrap buildah; do
  [[ -n "$(find_cmd "$cmd")" ]] || missing+=("${debian[$cmd]}")
done
installed=""
if ((${#missing[@]})); then
  if [[ "$(id -u)" != 0 ]]; then
    echo "build.sh: missing Debian packages: ${missing[*]}; install them as root (apt-get install ${missing[*]}) and rerun" >&2
    exit 1
  fi
  echo "build.sh: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for cmd in runc iptables conntrack debootstrap buildah; do
    if [[ -z "$(find_cmd "$cmd")" ]]; then
      echo "build.sh: $cmd still not found after apt-get install" >&2
      exit 1
    fi
  done
  installed=", installed ${missing[*]}"
fi

# --- containerd and the CNI plugins, from runtime/go.mod.
cd runtime
ctrd_version=$(go list -mod=readonly -m -f '{{.Version}}' github.com/containerd/containerd/v2)
cni_version=$(go list -mod=readonly -m -f '{{.Version}}' github.com/containernetworking/plugins)
# containerd's Makefile with STATIC=1: osusergo netgo static_build; btrfs needs cgo (excluded anyway with
# CGO_ENABLED=0), devmapper and zfs snapshotters are not used on a test node. The shim adds no_grpc (ttrpc only).
ctrd_tags="urfave_cli_no_docs osusergo netgo static_build no_btrfs no_devmapper no_zfs"
shim_tags="$ctrd_tags no_grpc"
ctrd_ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=$ctrd_version"
cni_ldflags="-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$cni_version"
ctrd=github.com/containerd/containerd/v2/cmd
cni=github.com/containernetworking/plugins/plugins
binaries=(../bin/containerd ../bin/containerd-shim-runc-v2 ../bin/ctr
  ../bin/cni/bridge ../bin/cni/host-local ../bin/cni/loopback ../bin/cni/portmap)

key=$({
  cat go.mod go.sum
  go version
  echo "$ctrd_tags|$shim_tags|$ctrd_ldflags|$cni_ldflags|${binaries[*]}"
} | sha256sum | cut -d' ' -f1)
stamp=../bin/.build-key
up_to_date=1
[[ -f "$stamp" && "$(cat "$stamp")" == "$key" ]] || up_to_date=0
for b in "${binaries[@]}"; do [[ -x "$b" ]] || up_to_date=0; done

if ((up_to_date)); then
  built="containerd $ctrd_version and CNI plugins $cni_version up to date"
else
  mkdir -p ../bin/cni
  rm -f "$stamp"
  build=(go build -mod=readonly -trimpath)
  "${build[@]}" -tags "$ctrd_tags" -ldflags "$ctrd_ldflags" -o ../bin/ "$ctrd/containerd" "$ctrd/ctr"
  "${build[@]}" -tags "$shim_tags" -ldflags "$ctrd_ldflags" -o ../bin/ "$ctrd/containerd-shim-runc-v2"
  "${build[@]}" -ldflags "$cni_ldflags" -o ../bin/cni/ \
    "$cni/main/bridge" "$cni/ipam/host-local" "$cni/main/loopback" "$cni/meta/portmap"
  echo "$key" >"$stamp"
  built="built containerd $ctrd_version ($(du -cm ../bin/containerd ../bin/containerd-shim-runc-v2 ../bin/ctr | tail -1 | cut -f1) MB) and CNI plugins $cni_version"
fi
cd ..

# --- Debian's runc, where containerd's shim finds it (the generated config also names it as BinaryName).
ln -sfn "$(find_cmd runc)" bin/runc

echo "build.sh: $built, runc $(bin/runc --version | awk 'NR==1{print $3}') from Debian$installed in $(($(date +%s) - start))s: $(pwd)/bin" >&2
