#!/usr/bin/env bash
# Build the pinned Pulumi CLI (and, when the module proxy serves it, the Python language host)
# from the Go module proxy into a per-version cache outside the repository.
#
#   scripts/build-pulumi-cli.sh            # prints the bin directory on the last line
#
# Env: PULUMI_CLI_VERSION (default v3.274.1), PULUMI_CLI_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-copyai),
#      PULUMI_LANGUAGE_PYTHON_VERSION (pseudo-version of the host module; default derived below).
set -euo pipefail

VERSION="${PULUMI_CLI_VERSION:-v3.274.1}"
CACHE="${PULUMI_CLI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-copyai}"
BIN="$CACHE/pulumi-$VERSION/bin"
HOST_MODULE="github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3"

log() { printf '[build-pulumi-cli] %s\n' "$*" >&2; }

if [ -x "$BIN/pulumi" ] && [ -x "$BIN/pulumi-resource-pulumi-python" ] && [ -f "$BIN/.complete" ] \
   && { [ -x "$BIN/pulumi-language-python" ] || [ -z "${PULUMI_LANGUAGE_PYTHON_VERSION:-}" ]; }; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { log "Go is required to build the Pulumi CLI (none on PATH)"; exit 1; }
mkdir -p "$BIN"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0

log "resolving github.com/pulumi/pulumi/{pkg,sdk}/v3@$VERSION from the Go module proxy"
pkg_dir="$(cd "$work" && go mod download -json "github.com/pulumi/pulumi/pkg/v3@$VERSION" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')"
sdk_dir="$(cd "$work" && go mod download -json "github.com/pulumi/pulumi/sdk/v3@$VERSION" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')"
[ -d "$pkg_dir" ] && [ -d "$sdk_dir" ] || { log "could not download pulumi $VERSION modules"; exit 1; }

# Upstream's non-local replace directives (go install refuses modules that carry them).
replaces="$(sed -n 's/^replace \(.*=> [^.].*\)$/replace \1/p' "$pkg_dir/go.mod" | grep -v '=> \.' || true)"

write_wrapper() {  # $1 = dir, $2 = extra require lines
  mkdir -p "$1"
  cat > "$1/go.mod" <<MOD
module example.invalid/pulumi-cli-wrapper

go 1.26

require (
	github.com/pulumi/pulumi/pkg/v3 $VERSION
	github.com/pulumi/pulumi/sdk/v3 $VERSION
$2)

$replaces
MOD
}

ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION"
build() {  # $1 = wrapper dir, $2 = package, $3 = output
  (cd "$1" && go build -trimpath -tags osusergo,grpcnotrace -ldflags "$ldflags" -o "$3" "$2")
}

if [ ! -x "$BIN/pulumi" ]; then
  write_wrapper "$work/cli" ""
  printf 'package tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' > "$work/cli/tools.go"
  log "go mod tidy (downloads the CLI's dependencies; minutes on a cold cache)"
  (cd "$work/cli" && go mod tidy)
  log "go build pulumi (a cold build takes many minutes on 2 cores)"
  build "$work/cli" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$BIN/pulumi.tmp"
  mv "$BIN/pulumi.tmp" "$BIN/pulumi"
fi

# The Python language host: a separate module with no tags of its own, pinned by pseudo-version.
if [ ! -x "$BIN/pulumi-language-python" ]; then
  host_version="${PULUMI_LANGUAGE_PYTHON_VERSION:-}"
  if [ -z "$host_version" ]; then
    commit="$(cd "$work" && go mod download -json "github.com/pulumi/pulumi/pkg/v3@$VERSION" | sed -n 's/.*"Hash": "\([0-9a-f]*\)".*/\1/p' | head -1)"
    time="$(cd "$work" && go mod download -json "github.com/pulumi/pulumi/pkg/v3@$VERSION" >/dev/null; go list -m -json "github.com/pulumi/pulumi/pkg/v3@$VERSION" | sed -n 's/.*"Time": "\(.*\)".*/\1/p')"
    if [ -n "$commit" ] && [ -n "$time" ]; then
      host_version="v3.0.0-$(date -u -d "$time" +%Y%m%d%H%M%S)-${commit:0:12}"
    fi
  fi
  host_ok=""
  for v in $host_version latest; do
    log "trying the language host $HOST_MODULE@$v"
    write_wrapper "$work/host" ""
    printf 'package tools\n\nimport _ "%s"\n' "$HOST_MODULE" > "$work/host/tools.go"
    if (cd "$work/host" && go get "$HOST_MODULE@$v" && go mod tidy) >"$work/host.log" 2>&1 \
       && build "$work/host" "$HOST_MODULE" "$BIN/pulumi-language-python"; then
      host_ok=1; break
    fi
    log "  not available: $(grep -m1 -i 'error\|forbidden\|not available' "$work/host.log" || tail -1 "$work/host.log")"
  done
  [ -n "$host_ok" ] || log "WARNING: no Python language host; 'pulumi up' on a project directory will not work"
fi

install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$BIN/pulumi-language-python-exec"
install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$BIN/pulumi-resource-pulumi-python"
touch "$BIN/.complete"
log "done: $("$BIN/pulumi" version)"
echo "$BIN"
