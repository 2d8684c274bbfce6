# Source me: puts the project's Python and Pulumi CLI first on PATH and sets an offline Pulumi environment.
#   source scripts/env.sh
_copyai_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export PATH="$_copyai_root/.venv/bin:$_copyai_root/.pulumi-bin:$PATH"
export VIRTUAL_ENV="$_copyai_root/.venv"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PIP_DISABLE_PIP_VERSION_CHECK=1
# A local file backend inside the repository, unless the user chose a backend already.
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  mkdir -p "$_copyai_root/.pulumi-state"
  export PULUMI_BACKEND_URL="file://$_copyai_root/.pulumi-state"
  # The file backend encrypts secrets with a passphrase; an empty one suits a local demo only.
  export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
fi
unset _copyai_root
