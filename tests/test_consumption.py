"""Another team's stack: the built wheel installed into a fresh virtualenv of a sample project outside
this repository, deployed with the `pulumi` CLI in that project directory against the emulator."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from pulumi_copyai.emulator.testing import Emulator

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


def test_installed_wheel_deploys_from_a_separate_project(emu: Emulator, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT / "provider")])
    (wheel,) = dist.glob("pulumi_copyai-*.whl")

    project = tmp_path / "team-webhooks"
    project.mkdir()
    assert ROOT not in project.parents
    (project / "Pulumi.yaml").write_text("name: team-webhooks\nruntime:\n  name: python\n")
    (project / "requirements.txt").write_text(f"{wheel}\npulumi==3.272.0\n")
    (project / "__main__.py").write_text(MAIN)
    venv = project / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "-r", str(project / "requirements.txt")])

    # The team's own venv active, and of this repository only the directory with the CLI and its hosts.
    pulumi_bin = Path(shutil.which("pulumi") or "").resolve().parent
    env = {
        "PATH": f"{venv / 'bin'}:{pulumi_bin}:/usr/local/bin:/usr/bin:/bin",
        "VIRTUAL_ENV": str(venv),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PULUMI_BACKEND_URL": f"file://{project / '.state'}",
        "PULUMI_CONFIG_PASSPHRASE": "team",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        **emu.env(),
    }
    (project / ".state").mkdir()

    def pulumi(*args: str) -> str:
        return run(["pulumi", *args, "--non-interactive", "--color", "never"], cwd=project, env=env).stdout

    pulumi("stack", "init", "team")
    pulumi("config", "set", "receiverUrl", "http://127.0.0.1:9/team")

    up = pulumi("up", "--yes", "--skip-preview")
    assert summary(up) == {"created": 6}, up  # the stack, the component, its 3 webhooks, the alerts webhook
    outputs = json.loads(pulumi("stack", "output", "--json"))
    assert outputs["package"].startswith(str(venv)), "the sample must use the installed wheel"
    assert set(outputs["ids"]) == {"workflowRun.started", "workflowRun.completed", "workflowRun.failed"}
    assert set(outputs["ids"].values()) | {outputs["alerts"]} == {h["id"] for h in emu.webhooks()}

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
