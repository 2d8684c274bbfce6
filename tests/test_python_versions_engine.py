"""One CopyAIWebhook lifecycle through the `pulumi` CLI on the Python of a given virtualenv (and every module
of the package imported by that Python).

`make test-matrix` (scripts/test-matrix.sh) runs this once per supported Python version (3.10 to 3.13), with
COPYAI_MATRIX_VENV naming that version's virtualenv (pinned `pulumi` SDK, the package installed from a wheel of
this checkout) and COPYAI_MATRIX_PYTHON the version it must be ("3.10"). Without COPYAI_MATRIX_VENV it is skipped.

The project's Pulumi.yaml points `runtime.options.virtualenv` at that venv, and the CLI runs with the venv
activated (its bin first on PATH, VIRTUAL_ENV): the Python language host built here (sdk v3.68.0) reads its
options from flags only, which this CLI does not pass, so it runs the `python3` found on PATH, as does the
dynamic-provider plugin. The test checks which Python actually ran: the program exports its `sys.version`,
and a probe dynamic resource, created in the provider process, reports that process's. Lifecycle: create,
`preview --expect-no-changes`, a replace (the url changes), refresh, destroy, against the emulator, asserting
on the engine's output and on the emulator's webhooks.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from pulumi_copyai.emulator.testing import Emulator
from tests.cli import Project, cli_env

API_KEY = "matrix-key-5c1d"
WORKFLOW = "WCFG-matrix-1"
VENV = os.environ.get("COPYAI_MATRIX_VENV", "")
EXPECTED = os.environ.get("COPYAI_MATRIX_PYTHON", "")

pytestmark = [pytest.mark.engine,
              pytest.mark.skipif(not VENV, reason="run by `make test-matrix` (COPYAI_MATRIX_VENV names the venv)")]

# Appended to tests.cli's program: which Python ran the program, and which ran the dynamic provider.
PROBE = """
import sys as _sys
import pulumi_copyai as _package
from pulumi.dynamic import CreateResult, Resource, ResourceProvider

class _PythonProbeProvider(ResourceProvider):
    def create(self, props):
        import sys
        return CreateResult("python-probe", {"version": sys.version, "executable": sys.executable})

class _PythonProbe(Resource):
    version: pulumi.Output[str]
    executable: pulumi.Output[str]

    def __init__(self, name):
        super().__init__(_PythonProbeProvider(), name, {"version": None, "executable": None})

_probe = _PythonProbe("python-probe")
pulumi.export("program_python", _sys.version)
pulumi.export("program_executable", _sys.executable)
pulumi.export("package_file", _package.__file__)
pulumi.export("provider_python", _probe.version)
pulumi.export("provider_executable", _probe.executable)
"""


# Every module of the package, imported by the venv's Python: syntax or a runtime-evaluated annotation newer
# than the interpreter fails here even in modules that no test of the matrix loads (audit, plugin server).
IMPORT_ALL = """
import importlib, pkgutil, pulumi_copyai
names = [m.name for m in pkgutil.walk_packages(pulumi_copyai.__path__, "pulumi_copyai.")]
for name in names:
    importlib.import_module(name)
print(len(names), pulumi_copyai.__file__)
"""


def venv_python() -> tuple[Path, Path, str]:
    """The venv, its python, and that python's `sys.version` (checked against COPYAI_MATRIX_PYTHON)."""
    venv = Path(VENV).resolve()
    python = venv / "bin" / "python"
    assert python.exists(), f"COPYAI_MATRIX_VENV={VENV}: no {python}"
    version = subprocess.run([str(python), "-c", "import sys; print(sys.version)"], capture_output=True,
                             text=True, check=True).stdout.strip()
    if EXPECTED:
        assert version.startswith(EXPECTED + "."), f"{python} is Python {version}, not {EXPECTED}"
    return venv, python, version


def test_every_module_of_the_package_imports_on_this_python() -> None:
    venv, python, _ = venv_python()
    done = subprocess.run([str(python), "-c", IMPORT_ALL], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    count, where = done.stdout.split()
    assert int(count) >= 10 and Path(where).is_relative_to(venv), done.stdout


def hook(url: str) -> list[dict[str, str]]:
    return [{"name": "hook", "url": url, "eventType": "workflowRun.completed", "workflowId": WORKFLOW}]


def test_create_preview_replace_refresh_destroy_on_this_python(tmp_path: Path) -> None:
    venv, _, version = venv_python()
    (tmp_path / "state").mkdir()
    with Emulator(api_key=API_KEY) as emu:
        env = cli_env(f"file://{tmp_path / 'state'}", emu, tmp_path, venv=venv)
        p = Project(tmp_path, "pyver", env).python(hook("https://hooks.example.com/pyver/a"), virtualenv=venv,
                                                   extra=PROBE)
        p.run("stack", "init", "dev")

        # create: one POST, and the program and the provider ran on the venv's Python
        up = p.run("up", "--yes", "--skip-preview", "--stack", "dev")
        assert "+ 3 created" in up.stdout, up.stdout
        out = json.loads(p.run("stack", "output", "--json", "--stack", "dev").stdout)
        assert out["program_python"] == version, f"the program ran on {out['program_python']}, not {version}"
        assert out["provider_python"] == version, f"the provider ran on {out['provider_python']}, not {version}"
        for key in ("program_executable", "provider_executable", "package_file"):
            assert Path(out[key]).is_relative_to(venv), f"{key} {out[key]} is not in {venv}"
        assert emu.call_counts() == {"GET": 1, "POST": 1}  # a view of the list before the first POST
        [first] = emu.webhooks()
        assert (first["url"], first["eventType"], first["workflowId"]) == \
            ("https://hooks.example.com/pyver/a", "workflowRun.completed", WORKFLOW)
        assert out["hook"] == first["id"] and p.ids("dev") == {first["id"]}

        # no diff, and no API call
        emu.clear_requests()
        p.run("preview", "--expect-no-changes", "--stack", "dev")
        assert emu.requests() == []

        # replace: a new url registers a new webhook, then removes the old one
        p.python(hook("https://hooks.example.com/pyver/b"), virtualenv=venv, extra=PROBE)
        diff = p.run("preview", "--diff", "--stack", "dev")
        assert "+-1 to replace" in diff.stdout and "2 unchanged" in diff.stdout, diff.stdout
        assert "https://hooks.example.com/pyver/b" in diff.stdout, diff.stdout
        up = p.run("up", "--yes", "--skip-preview", "--stack", "dev")
        assert "+-1 replaced" in up.stdout and "2 unchanged" in up.stdout, up.stdout
        calls = [(r["method"], r["path"]) for r in emu.requests() if r["status"] < 300]
        assert calls == [("GET", "/api/webhook"), ("POST", "/api/webhook"),  # the view before the POST
                         ("DELETE", f"/api/webhook/{first['id']}")], emu.requests()
        [second] = emu.webhooks()
        assert second["url"] == "https://hooks.example.com/pyver/b" and second["id"] != first["id"]
        assert p.ids("dev") == {second["id"]}

        # refresh: reads only (the webhook, or the list), nothing changed, still no diff
        emu.clear_requests()
        refresh = p.run("refresh", "--yes", "--skip-preview", "--stack", "dev")
        assert "3 unchanged" in refresh.stdout, refresh.stdout
        assert {r["method"] for r in emu.requests()} == {"GET"}, emu.requests()
        p.run("preview", "--expect-no-changes", "--stack", "dev")

        # destroy: the webhook is gone at the API and from the state
        destroy = p.run("destroy", "--yes", "--skip-preview", "--stack", "dev")
        assert "- 3 deleted" in destroy.stdout, destroy.stdout
        assert emu.webhooks() == [] and p.ids("dev") == set()
