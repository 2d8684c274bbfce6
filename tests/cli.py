"""Pulumi projects in temporary directories, driven through the `pulumi` CLI the way users run it.

Project "dyn"-style programs are Python with the dynamic provider (CopyAIWebhook); "pkg"-style are
Pulumi YAML with the `copyai` package's plugin (copyai:index:Webhook): both front doors.
A webhook spec is {"name", "url", "eventType", "secret"?: bool, "workflowId"?, "importId"?}; "{stack}" in
a URL becomes the stack's name, so each stack of a project declares its own webhooks. "importId" adopts
an existing webhook: the `import_id` input of CopyAIWebhook, the `import` resource option in YAML.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from pulumi_copyai.emulator.testing import Emulator

REPO = Path(__file__).resolve().parent.parent
TYPES = ("pulumi-python:dynamic/copyai:CopyAIWebhook", "copyai:index:Webhook")


def cli_env(backend_url: str, emu: Emulator | None, home: Path, venv: Path | None = None,
            **extra: str) -> dict[str, str]:
    """A clean environment: the venv's python and plugin, the pinned CLI and hosts, nothing else.
    `venv`: that virtualenv, activated (its bin first on PATH, VIRTUAL_ENV), instead of the one running the tests."""
    venv_bin = venv / "bin" if venv is not None else Path(sys.executable).parent
    bin_dirs = [str(venv_bin), str(REPO / ".pulumi-bin")]
    env = {
        "PATH": os.pathsep.join([*bin_dirs, "/usr/local/bin", "/usr/bin", "/bin"]),
        "VIRTUAL_ENV": str(venv_bin.parent),
        "HOME": str(home),
        "PULUMI_HOME": str(home / ".pulumi"),
        "PULUMI_BACKEND_URL": backend_url,
        "PULUMI_CONFIG_PASSPHRASE": "test-passphrase",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",  # the Python host runs `pip list` on every operation
    }
    if emu is not None:
        env.update(emu.env())
    env.update(extra)
    return env


def hooks_for(project: str, n: int, event_type: str = "workflowRun.completed") -> list[dict[str, Any]]:
    """`n` webhooks whose URLs name the project and the stack."""
    return [{"name": f"hook-{i:03d}", "url": f"https://hooks.example.com/{project}/{{stack}}/{i}",
             "eventType": event_type} for i in range(n)]


class Project:
    """A Pulumi project directory outside the repository."""

    def __init__(self, root: Path, name: str, env: dict[str, str]) -> None:
        self.dir = root / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.env = env

    def python(self, hooks: list[dict[str, Any]], virtualenv: Path | None = None, extra: str = "") -> Project:
        """A Python program declaring `hooks` as CopyAIWebhook resources (re-read on every run).
        `virtualenv`: Pulumi.yaml's `runtime.options.virtualenv`; `extra`: code appended to the program."""
        if virtualenv is None:
            (self.dir / "Pulumi.yaml").write_text(f"name: {self.name}\nruntime: python\n")
        else:
            runtime = {"name": "python", "options": {"virtualenv": str(virtualenv)}}
            (self.dir / "Pulumi.yaml").write_text(json.dumps({"name": self.name, "runtime": runtime}, indent=1))
        (self.dir / "hooks.json").write_text(json.dumps(hooks))
        (self.dir / "__main__.py").write_text(textwrap.dedent("""
            import json
            import pulumi
            from pulumi_copyai import CopyAIWebhook
            for spec in json.load(open("hooks.json")):
                url = spec["url"].replace("{stack}", pulumi.get_stack())
                url = pulumi.Output.secret(url) if spec.get("secret") else url
                hook = CopyAIWebhook(spec["name"], url=url, event_type=spec["eventType"],
                                     workflow_id=spec.get("workflowId"), import_id=spec.get("importId"))
                pulumi.export(spec["name"], hook.id)
        """) + textwrap.dedent(extra))
        return self

    def yaml(self, hooks: list[dict[str, Any]]) -> Project:
        """A Pulumi YAML program declaring `hooks` as copyai:index:Webhook resources."""
        resources = {}
        for spec in hooks:
            plain = spec["url"].replace("{stack}", "${pulumi.stack}")
            url: Any = {"fn::secret": plain} if spec.get("secret") else plain
            props = {"url": url, "eventType": spec["eventType"]}
            if spec.get("workflowId"):
                props["workflowId"] = spec["workflowId"]
            resources[spec["name"]] = {"type": "copyai:index:Webhook", "properties": props}
            if spec.get("importId"):
                resources[spec["name"]]["options"] = {"import": spec["importId"]}
        outputs = {spec["name"]: f"${{{spec['name']}.id}}" for spec in hooks}
        program = {"name": self.name, "runtime": "yaml", "resources": resources, "outputs": outputs}
        (self.dir / "Pulumi.yaml").write_text(json.dumps(program, indent=1))  # JSON is YAML
        return self

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(["pulumi", *args, "--non-interactive"], cwd=self.dir, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def run(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["pulumi", *args, "--non-interactive"], cwd=self.dir, env=self.env, text=True,
                              capture_output=True, check=False, timeout=timeout)
        if check:
            assert done.returncode == 0, f"pulumi {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    def export(self, stack: str, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "export", "--stack", stack] + (["--show-secrets"] if show_secrets else [])
        return dict(json.loads(self.run(*args).stdout)["deployment"])

    def ids(self, stack: str) -> set[str]:
        return {r["id"] for r in self.export(stack).get("resources") or [] if r["type"] in TYPES}
