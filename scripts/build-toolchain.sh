#!/usr/bin/env bash
# Build the pinned Pulumi toolchain from the Go module proxy into a per-version cache outside the
# repository, and gather it in one bin directory (printed on the last line):
#
#   pulumi                          CLI and engine          github.com/pulumi/pulumi/pkg/v3   $PULUMI_CLI_VERSION
#   pulumi-language-python(-exec)   Python language host    github.com/pulumi/pulumi/sdk/v3   $PULUMI_HOSTS_SDK_VERSION
#   pulumi-language-nodejs          Node.js language host   github.com/pulumi/pulumi/sdk/v3   $PULUMI_HOSTS_SDK_VERSION
#   pulumi-language-yaml            YAML language host      github.com/pulumi/pulumi-yaml     $PULUMI_YAML_VERSION
#   pulumi-language-go              Go language host        github.com/pulumi/pulumi/sdk/v3   $PULUMI_GO_HOST_SDK_VERSION
#   pulumi-resource-pulumi-python   dynamic-provider plugin (a script from sdk/v3 $PULUMI_CLI_VERSION)
#
# Versions live in scripts/toolchain.env. One throw-away wrapper module per upstream module version;
# each component is cached under its own version, so changing one rebuilds only that one.
# Env: PULUMI_CLI_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-copyai).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=toolchain.env
source "$here/toolchain.env"
CACHE="${PULUMI_CLI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-copyai}"
BIN="$CACHE/toolchain-$PULUMI_CLI_VERSION-hosts-$PULUMI_HOSTS_SDK_VERSION-go-$PULUMI_GO_HOST_SDK_VERSION-yaml-$PULUMI_YAML_VERSION/bin"

log() { printf '[toolchain] %s\n' "$*" >&2; }

if [ -f "$BIN/.complete" ]; then
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || { log "Go is required to build the Pulumi toolchain (none on PATH)"; exit 1; }
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

module_dir() {  # $1 = module@version -> its directory in the module cache
  (cd "$work" && go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
}

# A wrapper module requiring $2 (module version lines) with the non-local replace directives of
# the go.mod at $3 (go install refuses modules that carry them, so we build through a wrapper).
wrapper() {  # $1 = dir, $2 = require lines, $3 = upstream go.mod, $4.. = packages to import
  local dir="$1" requires="$2" upstream="$3"; shift 3
  mkdir -p "$dir"
  {
    printf 'module example.invalid/wrapper\n\ngo 1.26\n\nrequire (\n%s\n)\n\n' "$requires"
    sed -n 's/^replace \(.*=> [^.].*\)$/replace \1/p' "$upstream" | grep -v '=> \.' || true
  } > "$dir/go.mod"
  { printf 'package tools\n\nimport (\n'; printf '\t_ "%s"\n' "$@"; printf ')\n'; } > "$dir/tools.go"
  (cd "$dir" && go mod tidy) 2> "$dir/tidy.log" || { cat "$dir/tidy.log" >&2; return 1; }
}

build() {  # $1 = wrapper dir, $2 = package, $3 = output, $4 = version to stamp (optional)
  local flags=()
  [ -n "${4:-}" ] && flags=(-ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$4")
  local started=$SECONDS
  (cd "$1" && go build -trimpath -tags osusergo,grpcnotrace "${flags[@]}" -o "$3.tmp" "$2")
  mv "$3.tmp" "$3"
  log "  built $(basename "$3") in $((SECONDS - started)) s"
}

# 1. The CLI: pkg/v3 and sdk/v3 at the CLI version.
cli="$CACHE/cli-$PULUMI_CLI_VERSION"
if [ ! -x "$cli/pulumi" ]; then
  log "CLI $PULUMI_CLI_VERSION: resolving github.com/pulumi/pulumi/{pkg,sdk}/v3 (a cold build takes about 5 minutes on 2 cores)"
  pkg_dir="$(module_dir "github.com/pulumi/pulumi/pkg/v3@$PULUMI_CLI_VERSION")"
  wrapper "$work/cli" "	github.com/pulumi/pulumi/pkg/v3 $PULUMI_CLI_VERSION
	github.com/pulumi/pulumi/sdk/v3 $PULUMI_CLI_VERSION" "$pkg_dir/go.mod" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  log "  go build pulumi"
  mkdir -p "$cli"
  build "$work/cli" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$cli/pulumi" "$PULUMI_CLI_VERSION"
fi
sdk_dir="$(module_dir "github.com/pulumi/pulumi/sdk/v3@$PULUMI_CLI_VERSION")"
install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$cli/pulumi-language-python-exec"
install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$cli/pulumi-resource-pulumi-python"

# 2. The Python and Node.js hosts: packages of sdk/v3 itself up to this version.
hosts="$CACHE/sdk-hosts-$PULUMI_HOSTS_SDK_VERSION"
if [ ! -x "$hosts/pulumi-language-python" ] || [ ! -x "$hosts/pulumi-language-nodejs" ]; then
  log "Python and Node.js language hosts from github.com/pulumi/pulumi/sdk/v3@$PULUMI_HOSTS_SDK_VERSION"
  m="github.com/pulumi/pulumi/sdk/v3"
  wrapper "$work/hosts" "	$m $PULUMI_HOSTS_SDK_VERSION" "$(module_dir "$m@$PULUMI_HOSTS_SDK_VERSION")/go.mod" \
    "$m/python/cmd/pulumi-language-python" "$m/nodejs/cmd/pulumi-language-nodejs"
  mkdir -p "$hosts"
  build "$work/hosts" "$m/python/cmd/pulumi-language-python" "$hosts/pulumi-language-python" "$PULUMI_HOSTS_SDK_VERSION"
  build "$work/hosts" "$m/nodejs/cmd/pulumi-language-nodejs" "$hosts/pulumi-language-nodejs" "$PULUMI_HOSTS_SDK_VERSION"
fi

# 3. The YAML host: its own module.
yaml="$CACHE/yaml-host-$PULUMI_YAML_VERSION"
if [ ! -x "$yaml/pulumi-language-yaml" ]; then
  log "YAML language host from github.com/pulumi/pulumi-yaml@$PULUMI_YAML_VERSION"
  m="github.com/pulumi/pulumi-yaml"
  wrapper "$work/yaml" "	$m $PULUMI_YAML_VERSION" "$(module_dir "$m@$PULUMI_YAML_VERSION")/go.mod" \
    "$m/cmd/pulumi-language-yaml"
  mkdir -p "$yaml"
  build "$work/yaml" "$m/cmd/pulumi-language-yaml" "$yaml/pulumi-language-yaml"
fi

# 4. The Go host: a package of sdk/v3 at an older tag.
gohost="$CACHE/go-host-$PULUMI_GO_HOST_SDK_VERSION"
if [ ! -x "$gohost/pulumi-language-go" ]; then
  log "Go language host from github.com/pulumi/pulumi/sdk/v3@$PULUMI_GO_HOST_SDK_VERSION"
  m="github.com/pulumi/pulumi/sdk/v3"
  wrapper "$work/gohost" "	$m $PULUMI_GO_HOST_SDK_VERSION" "$(module_dir "$m@$PULUMI_GO_HOST_SDK_VERSION")/go.mod" \
    "$m/go/pulumi-language-go"
  mkdir -p "$gohost"
  build "$work/gohost" "$m/go/pulumi-language-go" "$gohost/pulumi-language-go" "$PULUMI_GO_HOST_SDK_VERSION"
fi

# 5. One directory with everything side by side: the Python host runs the -exec script found next
# to its own (resolved) executable, so these are hard links or copies, not symlinks.
rm -rf "$BIN.tmp" && mkdir -p "$BIN.tmp"
for f in "$cli"/* "$hosts"/* "$yaml"/* "$gohost"/*; do
  ln -f "$f" "$BIN.tmp/" 2>/dev/null || cp -p "$f" "$BIN.tmp/"
done
touch "$BIN.tmp/.complete"
rm -rf "$BIN" && mkdir -p "$(dirname "$BIN")" && mv "$BIN.tmp" "$BIN"
log "ready: $("$BIN/pulumi" version) with the python, nodejs, yaml and go language hosts in $BIN"
echo "$BIN"
