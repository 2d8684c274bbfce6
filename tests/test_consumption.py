"""Another team's stack: the built wheel installed into a fresh virtualenv of a sample project outside
this repository, deployed through the real engine against the emulator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from pulumi_copyai.emulator.testing import Emulator

ROOT = Path(__file__).resolve().parent.parent

MAIN = textwrap.dedent("""
    import pulumi
    from pulumi_copyai import CopyAIWebhook, EventType, WorkflowWebhooks

    config = pulumi.Config()
    url = config.require("receiverUrl")
    group = WorkflowWebhooks("team-pipeline", url=url, workflow_id="WCFG-team")
    alerts = CopyAIWebhook("team-alerts", url=url + "/alerts", event_type=EventType.WORKFLOW_RUN_FAILED)
    pulumi.export("ids", group.webhook_ids)
    pulumi.export("alerts", alerts.id)
""")

# The sample project drives the engine the way this repository's scripts do (see README, Toolchain).
RUN = textwrap.dedent("""
    import json, runpy, sys
    from pathlib import Path
    import pulumi_copyai
    from pulumi import automation as auto

    here = Path(__file__).resolve().parent
    stack = auto.create_or_select_stack(
        "team", project_name="team-webhooks",
        program=lambda: runpy.run_path(str(here / "__main__.py"), run_name="__main__"),
        opts=auto.LocalWorkspaceOptions(work_dir=str(here)))
    stack.set_config("team-webhooks:receiverUrl", auto.ConfigValue("http://127.0.0.1:9/team"))
    result = {"package": pulumi_copyai.__file__}
    up = stack.up()
    result["up"] = up.summary.resource_changes
    result["outputs"] = {k: v.value for k, v in up.outputs.items()}
    result["preview"] = stack.preview(expect_no_changes=True).change_summary
    result["export"] = stack.export_stack().deployment
    result["destroy"] = stack.destroy().summary.resource_changes
    print("RESULT " + json.dumps(result))
""")


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
    (project / "run.py").write_text(RUN)
    venv = project / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "-r", str(project / "requirements.txt")])

    pulumi_bin = Path(shutil.which("pulumi") or "").resolve().parent
    env = {
        "PATH": f"{venv / 'bin'}:{pulumi_bin}:/usr/local/bin:/usr/bin:/bin",  # nothing of this repository
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PULUMI_BACKEND_URL": f"file://{project / '.state'}",
        "PULUMI_CONFIG_PASSPHRASE": "team",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        **emu.env(),
    }
    (project / ".state").mkdir()
    out = run([str(venv / "bin" / "python"), "run.py"], cwd=project, env=env).stdout
    result = json.loads(out.split("RESULT ", 1)[1])

    assert result["package"].startswith(str(venv)), "the sample must use the installed wheel"
    assert result["up"] == {"create": 6}
    assert set(result["outputs"]["ids"]) == {"workflowRun.started", "workflowRun.completed", "workflowRun.failed"}
    assert result["preview"] == {"same": 6}
    assert result["destroy"] == {"delete": 6}
    providers = {r["inputs"]["__provider"] for r in result["export"]["resources"]
                 if r["type"].endswith("CopyAIWebhook")}
    assert len(providers) == 1 and len(next(iter(providers))) < 200  # one tiny by-reference pickle
    assert emu.webhooks() == []
    methods = [r["method"] for r in emu.requests()]
    assert methods.count("POST") == 4 and methods.count("DELETE") == 4
