#!/usr/bin/env bash
# The Node.js packages of the TypeScript smoke project, installed once per set of pins into a cache
# directory and shared by every test (which links it as its node_modules). Prints that node_modules.
#   scripts/node-deps.sh            # install if missing, print the directory
set -euo pipefail
# Exact pins: the npm SDK the README's Node.js route uses, and the compiler the smoke test runs.
PINS=(
  "@pulumi/pulumi@3.270.0"
  "typescript@5.9.3"
  "@types/node@20.17.58"
)
log() { printf '[node-deps] %s\n' "$*" >&2; }

command -v npm >/dev/null || { log "npm not found; install Node.js (>= 20) and npm"; exit 1; }
key="$(printf '%s\n' "${PINS[@]}" | sha256sum | cut -c1-16)"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-copyai/node-$key"
if [ ! -f "$dir/.complete" ]; then
  log "installing ${PINS[*]} into $dir (once per set of pins)"
  mkdir -p "$(dirname "$dir")"
  tmp="$(mktemp -d "${dir}.tmp.XXXXXX")"  # installed aside, then moved in place: never half a cache
  trap 'rm -rf "$tmp"' EXIT
  printf '{"name": "pulumi-copyai-node-deps", "private": true}\n' > "$tmp/package.json"
  (cd "$tmp" && npm install --no-audit --no-fund --save-exact --loglevel=error "${PINS[@]}" >&2) \
    || { log "npm install failed"; exit 1; }
  touch "$tmp/.complete"
  [ -f "$dir/.complete" ] || rm -rf "$dir"
  mv -T "$tmp" "$dir" 2>/dev/null || true  # a concurrent run may have put its copy there first
  [ -f "$dir/.complete" ] || { log "could not move the packages into $dir"; exit 1; }
fi
echo "$dir/node_modules"
