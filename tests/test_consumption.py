"""Another team's stack: the built wheel installed into a fresh virtualenv of a sample project outside
this repository, deployed with the `pulumi` CLI in that project directory against the emulator."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from pulumi_copyai.emulator.testing import Emulator

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

ROOT = Path(__file__).resolve().parent.parent

MAIN = textwrap.dedent("""
    import pulumi
    import pulumi_copyai
    from pulumi_copyai import CopyAIWebhook, EventType, WorkflowWebhooks

    config = pulumi.Config()
    url = config.require("receiverUrl")
    group = WorkflowWebhooks("team-pipeline", url=url, workflow_id="WCFG-team")
    alerts = CopyAIWebhook("team-alerts", url=url + "/alerts", event_type=EventType.WORKFLOW_RUN_FAILED)
    pulumi.export("ids", group.webhook_ids)
    pulumi.export("alerts", alerts.id)
    pulumi.export("package", pulumi_copyai.__file__)  # which installation the program imported
""")

_COUNT = re.compile(r"^\s+(?:\+-|[+~-])?\s*(\d+) (\w[\w ]*)$")


def summary(stdout: str) -> dict[str, int]:
    """The engine's (last) "Resources:" block, e.g. {"created": 6} or {"unchanged": 6}."""
    block = stdout.rsplit("\nResources:\n", 1)[1].split("\n\n", 1)[0]  # the last: after a preview
    return {m.group(2): int(m.group(1)) for m in map(_COUNT.match, block.splitlines()) if m}


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, text=True, capture_output=True, check=False, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout}\n{done.stderr}"
    return done  # type: ignore[no-any-return]


WALKTHROUGH = """\
set -euo pipefail
python3.11 -m venv venv && source venv/bin/activate
pip install -q --disable-pip-version-check {repo}/provider
source {repo}/scripts/use-toolchain.sh
mkdir -p .state && pulumi login file://$PWD/.state
export PULUMI_CONFIG_PASSPHRASE=team-passphrase
pulumi stack init dev
pulumi config set --secret copyai:apiKey {key}
pulumi config set copyai:baseUrl {base_url}
pulumi config set receiverUrl http://127.0.0.1:9/team
pulumi up --yes
"""


def test_readme_walkthrough_from_a_separate_project(emu: Emulator, tmp_path: Path) -> None:
    """README, "Use it from your own Python project", with this repository's toolchain, word for word:
    the project's own venv and backend; of this repository only the CLI and hosts on PATH."""
    project = tmp_path / "team-webhooks"
    project.mkdir()
    assert ROOT not in project.parents
    (project / "Pulumi.yaml").write_text("name: team-webhooks\nruntime:\n  name: python\n")
    (project / "__main__.py").write_text(MAIN)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "PULUMI_HOME": str(tmp_path / ".pulumi")}
    script = WALKTHROUGH.format(repo=ROOT, key=emu.api_key, base_url=emu.base_url)
    done = subprocess.run(["bash", "-c", script], cwd=project, env=env, text=True, capture_output=True, check=False,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary(done.stdout) == {"created": 6}, done.stdout
    assert not (ROOT / ".pulumi-state" / ".pulumi" / "stacks" / "team-webhooks").exists(), "the repo's backend"
    assert (project / ".state" / ".pulumi").is_dir(), "the project's own backend"

    venv = project / "venv"
    env = {"PATH": f"{venv / 'bin'}:{ROOT / '.pulumi-bin'}:/usr/local/bin:/usr/bin:/bin", "VIRTUAL_ENV": str(venv),
           "HOME": str(tmp_path), "PULUMI_HOME": str(tmp_path / ".pulumi"),
           "PULUMI_CONFIG_PASSPHRASE": "team-passphrase", "PULUMI_SKIP_UPDATE_CHECK": "true",
           "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true"}

    def pulumi(*args: str) -> str:
        return run(["pulumi", *args, "--non-interactive", "--color", "never"], cwd=project, env=env).stdout

    outputs = json.loads(pulumi("stack", "output", "--json"))
    assert outputs["package"].startswith(str(venv)), "the project uses the package installed in its own venv"
    assert set(outputs["ids"]) == {"workflowRun.started", "workflowRun.completed", "workflowRun.failed"}
    assert set(outputs["ids"].values()) | {outputs["alerts"]} == {h["id"] for h in emu.webhooks()}
    assert "warning: using pulumi-resource-copyai" not in done.stdout + done.stderr, "no plugin needed"

    preview = pulumi("preview", "--expect-no-changes")
    assert summary(preview) == {"unchanged": 6}, preview

    export = json.loads(pulumi("stack", "export"))["deployment"]
    providers = {r["inputs"]["__provider"] for r in export["resources"] if r["type"].endswith("CopyAIWebhook")}
    assert len(providers) == 1 and len(next(iter(providers))) < 200  # one tiny by-reference pickle

    destroy = pulumi("destroy", "--yes")
    assert summary(destroy) == {"deleted": 6}, destroy
    assert emu.webhooks() == []
    methods = [r["method"] for r in emu.requests()]
    assert methods.count("POST") == 4 and methods.count("DELETE") == 4
