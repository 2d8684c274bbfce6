#!/usr/bin/env bash
# Generate the copyai package's SDKs (TypeScript, Python, Go) from the plugin's schema with the code
# generators of github.com/pulumi/pulumi/pkg/v3 at the pinned CLI version (tools/gen-sdk).
#
#   scripts/gen-sdk.sh              # regenerate sdk/nodejs, sdk/python, sdk/go in the repository
#   scripts/gen-sdk.sh OUT          # write OUT/nodejs, OUT/python, OUT/go instead (the drift test)
#   scripts/gen-sdk.sh --binary     # only build (or find) the generator; print its path
#
# The generator is built once per version of its source and of the pinned toolchain, into
# ${XDG_CACHE_HOME:-~/.cache}/pulumi-copyai/gen-sdk-<hash>/ (a warm Go module cache: about 25 s; cold,
# a few minutes); later runs, also from fresh clones, only run it (well under a second).
# Env: PULUMI_CLI_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-copyai).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=toolchain.env
source "$root/scripts/toolchain.env"
CACHE="${PULUMI_CLI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-copyai}"
src="$root/tools/gen-sdk"
log() { printf '[gen-sdk] %s\n' "$*" >&2; }

key="$( { echo "$PULUMI_CLI_VERSION"; cat "$src/go.mod" "$src/go.sum" "$src"/*.go; } | sha256sum | cut -c1-16)"
bin="$CACHE/gen-sdk-$key/gen-sdk"
if [ ! -x "$bin" ]; then
  command -v go >/dev/null || { log "Go is required to build tools/gen-sdk (none on PATH)"; exit 1; }
  log "building tools/gen-sdk (github.com/pulumi/pulumi/pkg/v3 $PULUMI_CLI_VERSION codegen) into $(dirname "$bin")"
  grep -q "github.com/pulumi/pulumi/pkg/v3 $PULUMI_CLI_VERSION\$" "$src/go.mod" \
    || { log "tools/gen-sdk/go.mod does not require github.com/pulumi/pulumi/pkg/v3 $PULUMI_CLI_VERSION (scripts/toolchain.env)"; exit 1; }
  mkdir -p "$(dirname "$bin")"
  started=$SECONDS
  (cd "$src" && GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0 go build -mod=readonly -trimpath -o "$bin.tmp.$$" .)
  mv "$bin.tmp.$$" "$bin"
  log "built in $((SECONDS - started)) s"
fi

if [ "${1:-}" = "--binary" ]; then
  echo "$bin"
  exit 0
fi
out="${1:-$root/sdk}"
"$bin" -schema "$root/provider/pulumi_copyai/plugin/schema.json" -out "$out" -lang nodejs,python,go
