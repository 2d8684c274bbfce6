#!/usr/bin/env bash
# Build the TypeScript SDK (sdk/nodejs) into an npm package tarball that a project installs with
# `npm install <tarball>`: compiled with the pinned typescript against npm @pulumi/pulumi 3.270.0
# (scripts/node-deps.sh), in a temporary copy so sdk/ stays as generated.
#
#   tools/npm-pack.sh [OUT_DIR [SDK_DIR]]   # default dist/ and sdk/nodejs; prints the tarball's path
#                                           # (dist/pulumi-copyai-copyai-<version>.tgz)
# (`make release` packs the SDK it generated from the release's schema: tools/release/release.py.)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "${1:-$root/dist}" && cd "${1:-$root/dist}" && pwd)"
src="${2:-$root/sdk/nodejs}"
modules="$("$root/scripts/node-deps.sh")"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
cp -r "$src/." "$build/"
ln -s "$modules" "$build/node_modules"
(cd "$build" && "$modules/.bin/tsc")
cp "$build/package.json" "$build/README.md" "$build/bin/"
(cd "$build/bin" && npm pack --silent --pack-destination "$out" >/dev/null)
name="$(cd "$build/bin" && node -p 'const p = require("./package.json"); p.name.replace("@", "").replace("/", "-") + "-" + p.version')"
[ -f "$out/$name.tgz" ] || { echo "npm pack did not write $out/$name.tgz" >&2; exit 1; }
echo "[npm-pack] $out/$name.tgz" >&2
echo "$out/$name.tgz"
