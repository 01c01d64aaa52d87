#!/bin/sh
# Builds Countersign's production bundle: compiled code, the default policy and production dependencies only.
# The Dockerfile runs exactly this script, and CI runs it on the host (there is no container engine there), so
# the image's build steps are the ones CI checks. Usage: build-bundle.sh SOURCE_DIR OUTPUT_DIR
set -eu
src=$1
out=$2
cd "$src"
# --ignore-scripts: the image brings its own Node, so the `node` devDependency's download must not run, nor `prepare`.
npm ci --ignore-scripts --no-audit --no-fund
node node_modules/typescript/bin/tsc -p tsconfig.build.json
npm prune --omit=dev --ignore-scripts --no-audit --no-fund
# prune leaves the emptied scope directories (@jest, @eslint, ...) behind.
find node_modules -type d -empty -delete
rm -rf "$out"
mkdir -p "$out"
cp -R package.json dist policy node_modules "$out"/
# Nothing in the bundle may be writable at run time (the root filesystem is read-only in the chart).
chmod -R a-w "$out"
