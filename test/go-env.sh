# Sourced by the Go builds of the test tools (control plane, helm): a pinned toolchain, static binaries, and the
# optional shared caches. CPLANE_CACHE_DIR, if set, holds the module and build caches ({mod,build}) so CI can keep
# one directory between runs; otherwise Go's default caches are used.
export GOTOOLCHAIN=local CGO_ENABLED=0
if [[ -n "${CPLANE_CACHE_DIR:-}" ]]; then
  mkdir -p "$CPLANE_CACHE_DIR"
  CPLANE_CACHE_DIR="$(cd "$CPLANE_CACHE_DIR" && pwd)"
  export GOMODCACHE="$CPLANE_CACHE_DIR/mod" GOCACHE="$CPLANE_CACHE_DIR/build"
fi
