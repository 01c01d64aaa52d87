#!/usr/bin/env bash
# Build the three images a test Kubernetes node needs, without a container engine or an image registry, and export
# each as an image archive that `ctr -n k8s.io images import FILE` (containerd 2.x) accepts (docker-archive: the
# name travels in manifest.json's RepoTags):
#   OUT/base.tar              docker.io/library/node:<version>-<suite>-slim, a stand-in for the official image (the
#                             Dockerfile's ARG NODE_IMAGE): `debootstrap --variant=minbase` slimmed as Debian's slim
#                             images are, the Node binary the project installs (node_modules), npm from the npm
#                             registry. See README.md for how it differs from the official image.
#   OUT/countersign-TAG.tar   docker.io/library/countersign:TAG (or COUNTERSIGN_REPOSITORY:TAG), `buildah bud` of the
#                             repository's Dockerfile as is
#   OUT/pause.tar             registry.k8s.io/pause:<kubeadm's PauseVersion>, Kubernetes' own build/pause/linux/pause.c
#                             compiled static with gcc, as its Makefile and Dockerfile do
# Images live in a buildah storage under CACHE (overlay driver), with chroot isolation and the host's network, so
# no runc, no network namespace and no daemon are needed. Everything is cached: a base or pause image whose inputs
# are unchanged is not rebuilt, the Countersign build reuses buildah's layer cache (--layers), and an archive whose
# image is unchanged is not exported again.
#
# Usage: build.sh [TAG [OUT_DIR]]     TAG defaults to dev
# Env:   IMAGES_OUT_DIR    output directory when OUT_DIR is not given (default: test/node/images/out)
#        COUNTERSIGN_REPOSITORY  the Countersign image's name without tag (default: docker.io/library/countersign)
#        IMAGES_CACHE_DIR  debootstrap tarballs, npm tarballs, the pause binary and the buildah storage
#                          (default: test/node/images/cache, gitignored)
#        CPLANE_CACHE_DIR  optional; shared Go module cache, as in test/control-plane/build.sh (pause.c is read
#                          from the k8s.io/kubernetes module that test/control-plane/go.mod requires)
#        NPM_VERSION       npm to install in the base image (default: the npm this Node release bundles, read
#                          from its CHANGELOG.md)
# Needs root (debootstrap, buildah), Debian's mirror (the one the host's apt uses) and the npm registry.
set -Eeuo pipefail
trap 'echo "images: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")"
here=$(pwd)
repo=$(cd ../../.. && pwd)
start=$(date +%s)
log() { echo "images: $*" >&2; }
die() { echo "images: $*" >&2; exit 1; }

tag=${1:-dev}
repository=${COUNTERSIGN_REPOSITORY:-docker.io/library/countersign}
out=${2:-${IMAGES_OUT_DIR:-$here/out}}
cache=${IMAGES_CACHE_DIR:-$here/cache}
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "invalid image tag '$tag'"
[[ "$repository" =~ ^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+$ ]] || die "invalid COUNTERSIGN_REPOSITORY '$repository'"
[[ "$(id -u)" == 0 ]] || die "needs root (debootstrap, and buildah's chroot isolation)"
mkdir -p "$out" "$cache"
out=$(cd "$out" && pwd)
cache=$(cd "$cache" && pwd)

# --- Debian packages. test/node/build.sh may have installed them already.
find_cmd() { PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$1" || true; }
missing=()
for pkg in buildah debootstrap; do [[ -n "$(find_cmd "$pkg")" ]] || missing+=("$pkg"); done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for pkg in "${missing[@]}"; do [[ -n "$(find_cmd "$pkg")" ]] || die "$pkg still not found after apt-get install"; done
fi
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# --- buildah, with its own storage. The runroot holds mount state only; it must not outlive a reboot.
storage=$cache/storage
runroot=$cache/storage-run
boot_id=$(cat /proc/sys/kernel/random/boot_id)
if [[ -d "$runroot" && "$(cat "$cache/storage-run.boot" 2>/dev/null)" != "$boot_id" ]]; then rm -rf "$runroot"; fi
mkdir -p "$storage" "$runroot"
echo "$boot_id" >"$cache/storage-run.boot"
B() { buildah --root "$storage" --runroot "$runroot" --storage-driver overlay "$@"; }
containers=()
cleanup() {
  local c
  for c in "${containers[@]}"; do [[ -z "$c" ]] || B rm "$c" >/dev/null 2>&1 || true; done
  if [[ -n "${rootfs_tmp:-}" && -d "$rootfs_tmp" ]]; then
    grep -o " $rootfs_tmp/[^ ]*" /proc/mounts | sort -r | xargs -r umount -l || true
    rm -rf --one-file-system "$rootfs_tmp"
  fi
}
trap cleanup EXIT
new_container() { # FROM NAME: a working container the EXIT trap removes
  B rm "$2" >/dev/null 2>&1 || true
  B from --pull=never --name "$2" "$1" >/dev/null
  containers+=("$2")
}
image_id() { B images --no-trunc --noheading --format '{{.ID}}' "$1" 2>/dev/null | head -1 || true; }
size() { echo "$(numfmt --to=iec "$(stat -c %s "$1")")iB"; }

# --- Inputs: the Dockerfile's base image, the Node binary, npm.
[[ "$(grep -m1 '^ARG NODE_IMAGE=' "$repo/Dockerfile")" =~ ^ARG\ NODE_IMAGE=node:([0-9]+\.[0-9]+\.[0-9]+)-([a-z]+)-slim$ ]] ||
  die "Dockerfile: expected 'ARG NODE_IMAGE=node:X.Y.Z-SUITE-slim'"
node_version=${BASH_REMATCH[1]} suite=${BASH_REMATCH[2]}
base_image=docker.io/library/node:$node_version-$suite-slim
arch=$(dpkg --print-architecture)
case "$arch" in
  amd64) node_arch=x64 ;;
  arm64) node_arch=arm64 ;;
  *) die "unsupported architecture $arch" ;;
esac
# The `node` devDependency installs the binary as node-linux-<arch>, nested or hoisted.
node_pkg=""
for d in "$repo/node_modules/node/node_modules/node-linux-$node_arch" "$repo/node_modules/node-linux-$node_arch"; do
  if [[ -x "$d/bin/node" ]]; then node_pkg=$d; break; fi
done
[[ -n "$node_pkg" ]] || die "no node_modules/**/node-linux-$node_arch/bin/node: run npm ci in $repo"
[[ "$("$node_pkg/bin/node" --version)" == "v$node_version" ]] ||
  die "$node_pkg/bin/node is $("$node_pkg/bin/node" --version), the Dockerfile wants $node_version"
if [[ -z "${NPM_VERSION:-}" ]]; then
  # Releases are listed newest first; the first npm upgrade at or below this release's heading is the npm it bundles.
  NPM_VERSION=$(sed -n "/^<a id=\"$node_version\"><\/a>/,\$p" "$node_pkg/CHANGELOG.md" 2>/dev/null |
    grep -m1 -o 'upgrade npm to [0-9]*\.[0-9]*\.[0-9]*' | awk '{print $4}' || true)
  [[ -n "$NPM_VERSION" ]] || die "cannot tell which npm Node $node_version bundles from its CHANGELOG.md; set NPM_VERSION"
fi

# The Debian mirror the host's apt uses for SUITE (first match; one-line and deb822 sources), or deb.debian.org.
apt_mirror() {
  local s=$1 default=$2 f uri=""
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" && -z "$uri" ]] || continue
    uri=$(awk -v s="$s" '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
      if ($(i + 1) == s) { print $i; exit } }' "$f")
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" && -z "$uri" ]] || continue
    uri=$(awk -v s="$s" 'BEGIN { RS = "" } {
      types = ""; uris = ""; suites = ""; enabled = "yes"; n = split($0, line, "\n")
      for (j = 1; j <= n; j++) {
        if (line[j] ~ /^Types:/) types = " " substr(line[j], 7) " "
        else if (line[j] ~ /^URIs:/) uris = substr(line[j], 6)
        else if (line[j] ~ /^Suites:/) suites = " " substr(line[j], 8) " "
        else if (line[j] ~ /^Enabled:/) enabled = substr(line[j], 9)
      }
      gsub(/[ \t]+/, " ", types); gsub(/[ \t]+/, " ", suites); gsub(/[ \t]/, "", enabled)
      if (types ~ / deb / && suites ~ (" " s " ") && enabled != "no") { split(uris, u, " "); print u[1]; exit }
    }' "$f")
  done
  echo "${uri:-$default}"
}
mirror=$(apt_mirror "$suite" http://deb.debian.org/debian)
security_mirror=$(apt_mirror "$suite-security" http://deb.debian.org/debian-security)

# --- 1. debootstrap --variant=minbase, cached as a tarball keyed on its inputs (debuerreotype-tar's exclusions).
make_rootfs() { # DIR TARBALL
  debootstrap --variant=minbase --arch="$arch" "$suite" "$1" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
    die "debootstrap failed, see $cache/debootstrap.log"
  # Container runtimes provide these; debootstrap copied the host's.
  rm -f "$1"/etc/hostname "$1"/etc/resolv.conf "$1"/var/log/dpkg.log "$1"/var/log/bootstrap.log \
    "$1"/var/log/alternatives.log "$1"/var/cache/ldconfig/aux-cache
  tar --create --file "$2.tmp" --directory "$1" --numeric-owner --sort=name --exclude='./dev/*' \
    --exclude='./proc/*' --exclude='./sys/*' --exclude='./var/cache/apt/*' --exclude='./var/lib/apt/lists/*' \
    --exclude=./etc/apt/apt.conf.d/01autoremove-kernels --exclude=./var/log/apt/history.log \
    --exclude=./var/log/apt/term.log .
  mv "$2.tmp" "$2"
}
rootfs_key=$({
  echo "$suite $arch minbase $mirror"
  debootstrap --version
  declare -f make_rootfs
} | sha256sum | cut -c1-16)
rootfs_tar=$cache/rootfs-$suite-$arch-$rootfs_key.tar
if [[ -f "$rootfs_tar" ]]; then
  rootfs_note="debootstrap cached"
else
  log "debootstrap --variant=minbase $suite from $mirror"
  t=$(date +%s)
  rootfs_tmp=$(mktemp -d "$cache/rootfs.XXXXXX")
  make_rootfs "$rootfs_tmp" "$rootfs_tar"
  rm -rf --one-file-system "$rootfs_tmp"
  rootfs_note="debootstrap $(($(date +%s) - t)) s"
fi
find "$cache" -maxdepth 1 -name 'rootfs-*.tar' ! -name "${rootfs_tar##*/}" -delete

# --- npm, as `npm pack` fetches it from the registry (integrity checked by npm).
npm_tgz=$cache/npm/npm-$NPM_VERSION.tgz
if [[ ! -f "$npm_tgz" ]]; then
  mkdir -p "$cache/npm"
  (cd "$cache/npm" && npm pack --silent --ignore-scripts "npm@$NPM_VERSION" >/dev/null)
  [[ -f "$npm_tgz" ]] || die "npm pack npm@$NPM_VERSION did not produce $npm_tgz"
fi
find "$cache/npm" -name 'npm-*.tgz' ! -name "${npm_tgz##*/}" -delete

# --- 2. The base image, as the official node:*-slim Dockerfile lays it out on debian:*-slim.
# The official entrypoint (docker-library/node's docker-entrypoint.sh): run the arguments with node unless the first
# one is a command.
entrypoint_sh=$(cat <<'EOF'
#!/bin/sh
set -e

# Run command with node if the first argument contains a "-" or is not a system command. The last
# part inside the "{}" is a workaround for the following bug in ash/dash:
# https://bugs.debian.org/cgi-bin/bugreport.cgi?bug=874264
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi

exec "$@"
EOF
)
# What debuerreotype (the official Debian images' builder) removes for slim variants, and keeps out of later installs.
slim_excludes=('/usr/share/doc/*' '/usr/share/groff/*' '/usr/share/info/*' '/usr/share/linda/*'
  '/usr/share/lintian/overrides/*' '/usr/share/locale/*' '/usr/share/man/*')
slim_includes=('/usr/share/doc/*/copyright' '/usr/share/doc/kde/HTML/C/*' '/usr/share/gnome/help/*/C/*'
  '/usr/share/locale/all_languages' '/usr/share/locale/currency/*' '/usr/share/locale/l10n/*'
  '/usr/share/locale/languages' '/usr/share/locale/locale.alias' '/usr/share/omf/*/*-C.emf')
# debuerreotype-minimizing-config, then the official images' sources (deb822, with security updates).
write_base_config() { # ROOT
  local r=$1 p
  printf '#!/bin/sh\n\n# Stop services from starting during image builds (debuerreotype).\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
  chmod 0755 "$r/usr/sbin/policy-rc.d"
  echo force-unsafe-io >"$r/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$r/etc/apt/apt.conf.d/docker-autoremove-suggests"
  p='"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true";'
  printf 'DPkg::Post-Invoke { %s };\nAPT::Update::Post-Invoke { %s };\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n' \
    "$p" "$p" >"$r/etc/apt/apt.conf.d/docker-clean"
  echo 'Acquire::GzipIndexes "true";' >"$r/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
  {
    echo '# This is the "slim" variant of the Debian base image.'
    echo '# Many files which are normally unnecessary in containers are excluded,'
    echo '# and this configuration file keeps them that way.'
    echo
    printf 'path-exclude %s\n' "${slim_excludes[@]}"
    echo
    printf 'path-include %s\n' "${slim_includes[@]}"
  } >"$r/etc/dpkg/dpkg.cfg.d/docker"
  rm -f "$r/etc/apt/sources.list"
  cat >"$r/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
}
# Runs in the container: security and point-release updates, the official image's node user, slimify, cleanup.
base_run_script() {
  cat <<EOF
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get dist-upgrade -y -qq -o Dpkg::Options::=--force-confold >/dev/null
apt-get clean
groupadd --gid 1000 node
useradd --uid 1000 --gid node --shell /bin/bash --create-home node
excludes=($(printf "'%s' " "${slim_excludes[@]}"))
includes=()
for p in $(printf "'%s' " "${slim_includes[@]}"); do includes+=(-o -path "\$p"); done
for p in "\${excludes[@]}"; do
  d=\${p%/*}
  [[ -d "\$d" ]] || continue
  # debuerreotype-slimify: files first (but the includes), then empty directories and dangling links until none.
  find "\$d" -depth -mindepth 1 -not \\( "\${includes[@]:1}" \\) -not \\( -type d -o -type l \\) -exec rm -f {} +
  while [[ \$(find "\$d" -depth -mindepth 1 \\( -empty -o -xtype l \\) -exec rm -rf {} + -printf . | wc -c) -gt 0 ]]; do :; done
done
node --version >/dev/null
npm --version >/dev/null
# debuerreotype-fixup and -tar's exclusions; npm's compile cache in /tmp.
rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old /var/log/apt/* \
  /var/log/dpkg.log /var/log/alternatives.log /var/cache/ldconfig/aux-cache /run/mount/utab /tmp/* /var/tmp/*
rmdir /run/mount 2>/dev/null || :
EOF
}
build_base() {
  local c mnt
  c=countersign-images-base
  new_container scratch "$c"
  mnt=$(B mount "$c")
  tar --extract --file "$rootfs_tar" --directory "$mnt" --numeric-owner --same-permissions
  write_base_config "$mnt"
  # The official image unpacks Node's release tarball into /usr/local; this is its binary and npm's package.
  install -m 0755 "$node_pkg/bin/node" "$mnt/usr/local/bin/node"
  ln -s node "$mnt/usr/local/bin/nodejs"
  mkdir -p "$mnt/usr/local/lib/node_modules/npm"
  tar --extract --gzip --file "$npm_tgz" --directory "$mnt/usr/local/lib/node_modules/npm" --strip-components=1 \
    --no-same-owner --no-same-permissions
  chmod 0755 "$mnt"/usr/local/lib/node_modules/npm/bin/{npm,npx}-cli.js
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  printf '%s\n' "$entrypoint_sh" >"$mnt/usr/local/bin/docker-entrypoint.sh"
  chmod 0755 "$mnt/usr/local/bin/docker-entrypoint.sh"
  B umount "$c" >/dev/null
  B config --os linux --arch "$arch" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="$node_version" --entrypoint '["docker-entrypoint.sh"]' --cmd '["node"]' \
    --created-by "test/node/images/build.sh: debootstrap --variant=minbase $suite, slimmed; node $node_version, npm $NPM_VERSION" "$c"
  B run --isolation chroot --network host "$c" -- bash -c "$(base_run_script)" >"$cache/base.log" 2>&1 ||
    { tail -40 "$cache/base.log" >&2; die "the base image's apt-get/slimify step failed, see $cache/base.log"; }
  # buildah run leaves its (empty) mount points for these behind; the runtime provides them.
  mnt=$(B mount "$c")
  find "$mnt/etc" -maxdepth 1 \( -name hostname -o -name hosts -o -name resolv.conf \) -type f -size 0 -delete
  B umount "$c" >/dev/null
  B commit --quiet --format docker --rm "$c" "$base_image" >/dev/null
  containers=("${containers[@]/$c/}")
}
base_key=$({
  echo "$rootfs_key $security_mirror $arch $node_version $NPM_VERSION"
  sha256sum "$node_pkg/bin/node" "$npm_tgz" | cut -d' ' -f1
  declare -f write_base_config base_run_script build_base
  echo "$entrypoint_sh ${slim_excludes[*]} ${slim_includes[*]}"
} | sha256sum | cut -c1-16)
base_id=$(image_id "$base_image")
if [[ -n "$base_id" && "$(cat "$cache/base.key" 2>/dev/null)" == "$base_key $base_id" ]]; then
  base_note="cached"
else
  log "building $base_image (Node $node_version, npm $NPM_VERSION, $suite minbase + updates)"
  t=$(date +%s)
  build_base
  base_id=$(image_id "$base_image")
  echo "$base_key $base_id" >"$cache/base.key"
  base_note="built in $(($(date +%s) - t)) s"
fi

# --- 3. Countersign's image, from the Dockerfile as written; the build stage's npm ci uses the host's network.
# RUN steps get $cache/build-home as /root (a bind mount, never committed): npm's download cache persists between
# builds, and if the host's npm trusts a CA of its own (a TLS-inspecting egress proxy), the build's npm does too.
image=$repository:$tag
home=$cache/build-home
mkdir -p "$home"
host_cafile=$( (cd / && npm config get cafile) 2>/dev/null || true)
if [[ -n "$host_cafile" && "$host_cafile" != null && -f "$host_cafile" ]]; then
  cat "$host_cafile" >"$home/.build-ca.crt"
elif [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -f "$NODE_EXTRA_CA_CERTS" ]]; then
  # NODE_EXTRA_CA_CERTS adds to Node's roots; npm's cafile replaces them, so it gets both.
  { node -p "require('tls').rootCertificates.join('\n')"; cat "$NODE_EXTRA_CA_CERTS"; } >"$home/.build-ca.crt"
else
  rm -f "$home/.build-ca.crt"
fi
if [[ -f "$home/.build-ca.crt" ]]; then echo 'cafile=/root/.build-ca.crt' >"$home/.npmrc"; else rm -f "$home/.npmrc"; fi
log "buildah bud $repo/Dockerfile -> $image"
t=$(date +%s)
B bud --pull=never --isolation chroot --network host --layers --force-rm --format docker -v "$home:/root" \
  -f "$repo/Dockerfile" -t "$image" "$repo" >"$cache/bud.log" 2>&1 ||
  { tail -40 "$cache/bud.log" >&2; die "buildah bud failed, see $cache/bud.log"; }
countersign_note="bud $(($(date +%s) - t)) s"
# Drop what earlier builds left: untagged images without children, but this build's layer cache (the ids bud.log
# names), until none is left (removing a leaf exposes its parent).
keep=$(sed -n 's/^--> \(Using cache \)\{0,1\}\([0-9a-f]\{11,\}\)$/\2/p' "$cache/bud.log" | cut -c1-11)
pruned=0
while :; do
  removed=0
  for id in $(B images --filter dangling=true --noheading --no-trunc --format '{{.ID}}'); do
    id=${id#sha256:}
    grep -qx "${id:0:11}" <<<"$keep" && continue
    if B rmi "$id" >/dev/null 2>&1; then removed=$((removed + 1)); fi
  done
  ((removed)) || break
  pruned=$((pruned + removed))
done
((pruned == 0)) || countersign_note+=", pruned $pruned stale images and their untagged parents"

# --- 4. The pause image: pause.c from the Kubernetes module test/control-plane builds, flags from its Makefile.
# shellcheck source=../../go-env.sh
read -r k8s_version k8s_dir < <(cd ../../control-plane && source ../go-env.sh &&
  go list -mod=readonly -m -f '{{.Version}} {{.Dir}}' k8s.io/kubernetes)
if [[ -z "${k8s_dir:-}" ]]; then
  log "downloading the k8s.io/kubernetes $k8s_version module"
  # shellcheck source=../../go-env.sh
  k8s_dir=$(cd ../../control-plane && source ../go-env.sh && go mod download -json k8s.io/kubernetes |
    sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
fi
pause_c=$k8s_dir/build/pause/linux/pause.c
[[ -f "$pause_c" ]] || die "no $pause_c"
# The sandbox image kubeadm pins (containerd's default agrees); the Makefile's TAG is the version pause.c reports.
pause_tag=$(sed -n 's/^[[:space:]]*PauseVersion[[:space:]]*=[[:space:]]*"\(.*\)"$/\1/p' "$k8s_dir/cmd/kubeadm/app/constants/constants.go")
make_tag=$(sed -n 's/^TAG ?= //p' "$k8s_dir/build/pause/Makefile")
[[ -n "$pause_tag" && -n "$make_tag" ]] || die "cannot read PauseVersion or the pause Makefile's TAG in $k8s_dir"
pause_image=registry.k8s.io/pause:$pause_tag
# Makefile: CFLAGS = -Os -Wall -Werror -static -DVERSION=v$(TAG)-$(REV), then strip; REV is the git revision.
pause_cflags="-Os -Wall -Werror -static -DVERSION=v$make_tag-$k8s_version"
pause_bin_key=$({
  echo "$pause_cflags $arch"
  gcc --version | head -1
  sha256sum "$pause_c" | cut -d' ' -f1
} | sha256sum | cut -c1-16)
pause_bin=$cache/pause/pause-$pause_bin_key
if [[ ! -x "$pause_bin" ]]; then
  mkdir -p "$cache/pause"
  # shellcheck disable=SC2086 # word splitting of the flags is intended
  gcc $pause_cflags -o "$pause_bin.tmp" "$pause_c"
  strip "$pause_bin.tmp"
  mv "$pause_bin.tmp" "$pause_bin"
fi
find "$cache/pause" -name 'pause-*' ! -name "${pause_bin##*/}" -delete
[[ "$("$pause_bin" -v 2>&1)" == *"v$make_tag-"* ]] || die "$pause_bin -v does not report v$make_tag"
build_pause() {
  local c
  c=countersign-images-pause
  new_container scratch "$c"
  B copy --quiet "$c" "$pause_bin" /pause >/dev/null
  # build/pause/Dockerfile: FROM scratch, ADD pause, USER 65535:65535, ENTRYPOINT ["/pause"].
  B config --os linux --arch "$arch" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --user 65535:65535 --entrypoint '["/pause"]' --created-by "test/node/images/build.sh: gcc $pause_cflags pause.c" "$c"
  B commit --quiet --format docker --rm "$c" "$pause_image" >/dev/null
  containers=("${containers[@]/$c/}")
}
pause_key=$({
  echo "$pause_bin_key $pause_image"
  declare -f build_pause
} | sha256sum | cut -c1-16)
pause_id=$(image_id "$pause_image")
if [[ -n "$pause_id" && "$(cat "$cache/pause.key" 2>/dev/null)" == "$pause_key $pause_id" ]]; then
  pause_note="cached"
else
  build_pause
  pause_id=$(image_id "$pause_image")
  echo "$pause_key $pause_id" >"$cache/pause.key"
  pause_note="built"
fi

# --- 5. Export: docker-archive with the image's name as its RepoTag; skipped when the archive holds the same image.
export_image() { # NAME FILE
  local id stamp
  id=$(image_id "$1")
  stamp=$out/.$(basename "$2").id
  if [[ -f "$2" && "$(cat "$stamp" 2>/dev/null)" == "$id $1" ]]; then return; fi
  rm -f "$2" "$2.tmp" "$stamp"
  B push --quiet "$1" "docker-archive:$2.tmp:$1" >/dev/null
  mv "$2.tmp" "$2"
  echo "$id $1" >"$stamp"
  exported+=("$(basename "$2")")
}
exported=()
export_image "$base_image" "$out/base.tar"
export_image "$image" "$out/countersign-$tag.tar"
export_image "$pause_image" "$out/pause.tar"

# A freshly exported Countersign image must start and run as 65532 (the Dockerfile's numeric non-root user).
if [[ " ${exported[*]} " == *" countersign-$tag.tar "* ]]; then
  user=$(B inspect --type image --format '{{.OCIv1.Config.User}}' "$image")
  [[ "$user" == 65532:65532 ]] || die "$image runs as '$user', not 65532:65532"
  c=countersign-images-smoke
  new_container "$image" "$c"
  [[ "$(B run --isolation chroot --network host "$c" -- node /app/dist/cli/main.js version)" =~ ^[0-9]+\.[0-9]+ ]] ||
    die "$image: countersign version did not print a version"
  B rm "$c" >/dev/null
  containers=("${containers[@]/$c/}")
fi

echo "images: base.tar $(size "$out/base.tar") ($base_image: $rootfs_note, $base_note)," \
  "countersign-$tag.tar $(size "$out/countersign-$tag.tar") ($image: $countersign_note)," \
  "pause.tar $(size "$out/pause.tar") ($pause_image: $pause_note);" \
  "exported: ${exported[*]:-none}; $(($(date +%s) - start)) s total: $out"
