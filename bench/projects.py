"""Benchmark projects: one Pulumi project directory per provider, driven through the `pulumi` CLI.

Each project lives in a temporary directory with its own file backend, PULUMI_HOME and HOME, and
sees only the venv's python and plugins, the pinned CLI and its language hosts: the way a user runs
`pulumi up` in a project directory. Four kinds:

- ``floor``: Python program of N `FloorWebhook` (baselines.py: a dynamic resource that does no I/O):
  the engine's own cost for a dynamic provider.
- ``dynamic``: Python program of N `CopyAIWebhook` (the dynamic provider).
- ``yaml-floor``: the YAML program of ``plugin``, word for word, served by a plugin that does no I/O
  (floor_plugin.py, installed as `pulumi-resource-copyai` on this project's PATH only).
- ``plugin``: Pulumi YAML program of N `copyai:index:Webhook` (the `copyai` plugin).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
KINDS = ("floor", "dynamic", "yaml-floor", "plugin")
#: Resource types the bench declares (for state sizes).
TYPES = ("pulumi-python:dynamic", "copyai:index:Webhook")


def hook_url(kind: str, i: int) -> str:
    return f"https://hooks.example.com/bench/{kind}/{i}"


@dataclass
class Timed:
    seconds: float
    cpu: float  # user + system CPU seconds of the whole command tree (CLI, language host, plugins)
    output: str


class Project:
    """A project directory for one kind, with one stack ("bench") in a file backend of its own."""

    def __init__(self, root: Path, kind: str, n: int, api_env: dict[str, str]) -> None:
        assert kind in KINDS, kind
        self.kind, self.n = kind, n
        self.dir = root / f"{kind}-{n}"
        home = root / f"home-{kind}-{n}"
        state = root / f"state-{kind}-{n}"
        bindir = root / f"bin-{kind}-{n}"
        for d in (self.dir, home, state, bindir):
            d.mkdir(parents=True, exist_ok=True)
        venv_bin = Path(sys.executable).parent
        path = [str(venv_bin), str(REPO / ".pulumi-bin"), "/usr/local/bin", "/usr/bin", "/bin"]
        if kind == "yaml-floor":
            launcher = bindir / "pulumi-resource-copyai"  # shadows the real plugin for this project only
            launcher.write_text(f"#!/bin/sh\nexec {sys.executable} {HERE / 'floor_plugin.py'} \"$@\"\n")
            launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            path.insert(0, str(bindir))
        self.env = {
            "PATH": os.pathsep.join(path),
            "VIRTUAL_ENV": str(venv_bin.parent),
            "HOME": str(home),
            "PULUMI_HOME": str(home / ".pulumi"),
            "PULUMI_BACKEND_URL": f"file://{state}",
            "PULUMI_CONFIG_PASSPHRASE": "bench",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",  # the Python host runs `pip list` on every up/preview
            "PYTHONPATH": str(HERE),  # baselines.FloorWebhook, pickled by reference
            **api_env,
        }
        self._write_program()
        self.cli("stack", "init", "bench")

    def _write_program(self) -> None:
        name = f"bench-{self.kind}"
        if self.kind in ("floor", "dynamic"):
            (self.dir / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
            make = ("FloorWebhook(name, url, 'workflowRun.completed')" if self.kind == "floor" else
                    "CopyAIWebhook(name, url=url, event_type='workflowRun.completed')")
            lines = [
                "from baselines import FloorWebhook" if self.kind == "floor" else
                "from pulumi_copyai import CopyAIWebhook",
                f"for i in range({self.n}):",
                "    name = f'hook-{i:03d}'",
                f"    url = {hook_url(self.kind, 0).rsplit('/', 1)[0] + '/'!r} + str(i)",
                f"    {make}",
            ]
            (self.dir / "__main__.py").write_text("\n".join(lines) + "\n")
        else:
            # Both YAML kinds declare the same resources (the url names the kind, as for the others).
            resources = {f"hook-{i:03d}": {"type": "copyai:index:Webhook",
                                           "properties": {"url": hook_url(self.kind, i),
                                                          "eventType": "workflowRun.completed"}}
                         for i in range(self.n)}
            program = {"name": name, "runtime": "yaml", "resources": resources}
            (self.dir / "Pulumi.yaml").write_text(json.dumps(program, indent=1))  # JSON is YAML

    def cli(self, *args: str, timeout: float = 600) -> Timed:
        """Run `pulumi <args> --non-interactive`; raises with the output when it fails.

        The command runs in a process group of its own, killed whole if the bench is interrupted,
        so no plugin or language host outlives it.
        """
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.Popen(["pulumi", *args, "--non-interactive"], cwd=self.dir, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.kind} N={self.n}: pulumi {' '.join(args)} failed:\n{output}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return Timed(seconds, cpu, output)

    def op(self, op: str, parallel: int | None) -> Timed:
        """One operation as a user runs it, without the preview `up`/`refresh`/`destroy` would show first."""
        par = [] if parallel is None else ["--parallel", str(parallel)]
        if op == "preview":
            return self.cli("preview", "--expect-no-changes", *par)
        return self.cli(op, "--yes", "--skip-preview", *par)

    def resources(self) -> list[dict[str, Any]]:
        deployment = json.loads(self.cli("stack", "export").output)["deployment"]
        return [r for r in deployment.get("resources") or [] if r["type"].startswith(TYPES)]
