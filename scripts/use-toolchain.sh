# Source me from your own project to use this repository's pinned Pulumi CLI and language hosts:
#   source /path/to/pulumi-copyai/scripts/use-toolchain.sh
# Only PATH changes (the CLI and hosts come first), plus Pulumi's offline switches; your virtualenv,
# your backend (PULUMI_BACKEND_URL or `pulumi login`) and your secrets settings are left alone.
# Activate your project's virtualenv as well: these language hosts run `python3` from PATH.
_copyai_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
if [ ! -x "$_copyai_root/.pulumi-bin/pulumi" ]; then
  echo "use-toolchain.sh: run \`make bootstrap\` in $_copyai_root first" >&2
else
  export PATH="$_copyai_root/.pulumi-bin:$PATH"
  export PULUMI_SKIP_UPDATE_CHECK=true
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
fi
unset _copyai_root
