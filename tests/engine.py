"""Drive the real Pulumi engine the way users do: a project directory (Pulumi.yaml + __main__.py) whose
program the language host runs, on a file backend in the test's temp directory.

`EngineStack` writes the project and drives it through the Automation API's LocalWorkspace *on that
directory* (no inline `program=`): every operation is the `pulumi` CLI run in the project directory,
which starts the Python language host (pulumi-language-python), which runs `__main__.py` with the
`python3` first on PATH, the repository's venv, where `pulumi_copyai` is installed in editable mode.
The Automation API only adds structured results (change summaries, outputs) on top of the CLI's event
log. `pulumi_cli()` runs the CLI directly, for tests that need its plain output.

The default program, `WEBHOOKS_MAIN`, declares one CopyAIWebhook per entry of `spec.json`; a test
changes what is declared by changing the dict it passed as `spec`, which is written to `spec.json`
before every operation:

    spec = {"hook": {"url": "https://hooks.example.com/a", "event_type": "workflowRun.completed"}}
    stack = EngineStack(tmp_path / "project", spec=spec, env=emu.env())
    stack.up()                                  # pulumi up, in tmp_path/project
    spec["hook"]["url"] = "https://hooks.example.com/b"
    assert stack.preview().change_summary == {"replace": 1, "same": 1}
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

from pulumi import automation as auto

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "copyai-test"

# One CopyAIWebhook per entry of spec.json: {name: {url, event_type, workflow_id?, import_id?,
# secret_url?, delete_before_replace?}}. Exports <name>_id, <name>_event_type, <name>_url.
WEBHOOKS_MAIN = textwrap.dedent('''
    """Declares one CopyAIWebhook per entry of spec.json (the test rewrites it between runs)."""
    import json
    from pathlib import Path

    import pulumi

    from pulumi_copyai import CopyAIWebhook

    spec = json.loads((Path(__file__).resolve().parent / "spec.json").read_text())
    for name, args in spec.items():
        url = pulumi.Output.secret(args["url"]) if args.get("secret_url") else args["url"]
        extra = {key: args[key] for key in ("workflow_id", "import_id") if key in args}
        opts = pulumi.ResourceOptions(delete_before_replace=True) if args.get("delete_before_replace") else None
        hook = CopyAIWebhook(name, url=url, event_type=args["event_type"], opts=opts, **extra)
        pulumi.export(f"{name}_id", hook.id)
        pulumi.export(f"{name}_event_type", hook.event_type)
        pulumi.export(f"{name}_url", hook.url)
''').lstrip()


def python_env() -> dict[str, str]:
    """PATH and VIRTUAL_ENV of the venv running the tests: the old Python host and the dynamic provider
    plugin run `python3` from PATH, so this venv must come first there."""
    venv_bin = str(Path(sys.executable).parent)
    path = [venv_bin] + [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin]
    return {"PATH": os.pathsep.join(path), "VIRTUAL_ENV": sys.prefix}


def file_backend_env(backend: Path, passphrase: str = "test-passphrase") -> dict[str, str]:
    """An offline Pulumi: a file backend in `backend`, a passphrase, no update check, no plugin downloads."""
    backend.mkdir(parents=True, exist_ok=True)
    return {
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": passphrase,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }


def pulumi_cli(cwd: Path, *args: str, env: dict[str, str] | None = None, ok: bool = True,
               timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`pulumi ARGS --non-interactive --color never` in `cwd`; with ok=True it must succeed."""
    done = subprocess.run(["pulumi", *args, "--non-interactive", "--color", "never"], cwd=cwd, text=True,
                          capture_output=True, check=False, timeout=timeout, env={**os.environ, **(env or {})})
    if ok:
        assert done.returncode == 0, f"pulumi {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _json_default(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON serialisable in spec.json: {value!r}")


class EngineStack:
    """One stack of a project directory (Pulumi.yaml + __main__.py [+ spec.json]) with its own file backend."""

    def __init__(
        self,
        work_dir: Path,
        program: str | None = None,
        spec: Any = None,
        env: dict[str, str] | None = None,
        project: str = PROJECT,
        stack: str = "test",
        backend: Path | None = None,
    ) -> None:
        """`program` is the text of __main__.py (default WEBHOOKS_MAIN); `spec`, when given, is written to
        spec.json before every operation, so a test mutates it to change the declared resources.
        An existing project directory (Pulumi.yaml present, no `program`) is used as it is."""
        self.work_dir = work_dir
        self.spec = spec
        work_dir.mkdir(parents=True, exist_ok=True)
        if program is not None or not (work_dir / "Pulumi.yaml").exists():
            (work_dir / "Pulumi.yaml").write_text(f"name: {project}\nruntime: python\n")
            (work_dir / "__main__.py").write_text(program if program is not None else WEBHOOKS_MAIN)
        self.write_spec()
        self.env = {**file_backend_env(backend or work_dir / ".state"), **python_env(), **(env or {})}
        opts = auto.LocalWorkspaceOptions(env_vars=self.env)
        self.stack = auto.create_or_select_stack(stack_name=stack, work_dir=str(work_dir), opts=opts)
        self.name = stack

    def write_spec(self) -> None:
        if self.spec is not None:
            text = json.dumps(self.spec, indent=1, default=_json_default)
            (self.work_dir / "spec.json").write_text(text + "\n")

    # -- configuration ----------------------------------------------------------------------
    def set_config(self, key: str, value: str, secret: bool = False) -> None:
        self.stack.set_config(key, auto.ConfigValue(value=value, secret=secret))

    def configure(self, values: dict[str, str], secret: tuple[str, ...] = ("copyai:apiKey",)) -> None:
        """Several config values in one CLI call; keys in `secret` are stored as secrets."""
        if values:
            self.stack.set_all_config({k: auto.ConfigValue(value=v, secret=k in secret) for k, v in values.items()})

    def remove_config(self, key: str) -> None:
        self.stack.remove_config(key)

    # -- operations -------------------------------------------------------------------------
    def up(self, **kwargs: Any) -> auto.UpResult:
        self.write_spec()
        return self.stack.up(color="never", **kwargs)

    def preview(self, **kwargs: Any) -> auto.PreviewResult:
        self.write_spec()
        return self.stack.preview(color="never", **kwargs)

    def refresh(self, **kwargs: Any) -> auto.RefreshResult:
        self.write_spec()
        return self.stack.refresh(color="never", **kwargs)

    def destroy(self, **kwargs: Any) -> auto.DestroyResult:
        self.write_spec()
        return self.stack.destroy(color="never", **kwargs)

    def preview_changes(self, refresh: bool = False) -> dict[str, int]:
        """The step counts of a preview, e.g. {'same': 3} or {'replace': 1, 'same': 2}."""
        return dict(self.preview(refresh=refresh).change_summary)

    # -- the CLI and the state --------------------------------------------------------------
    def cli(self, *args: str, ok: bool = False, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """`pulumi ARGS --stack <this stack>` in the project directory, with this stack's environment."""
        self.write_spec()
        return pulumi_cli(self.work_dir, *args, "--stack", self.name, env=self.env, ok=ok, timeout=timeout)

    def export(self, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "export"] + (["--show-secrets"] if show_secrets else [])
        return json.loads(self.cli(*args, ok=True).stdout)  # type: ignore[no-any-return]

    def resources(self, type_suffix: str = "CopyAIWebhook") -> list[dict[str, Any]]:
        deployment = self.export()["deployment"]
        return [r for r in deployment.get("resources") or [] if r["type"].endswith(type_suffix)]

    def webhook_ids(self) -> set[str]:
        return {r["id"] for r in self.resources()}


def pickled_providers(export: dict[str, Any]) -> Iterator[bytes]:
    """The decoded `__provider` blobs of every dynamic resource in a stack export."""
    for res in export["deployment"].get("resources") or []:
        for bag in ("inputs", "outputs"):
            value = (res.get(bag) or {}).get("__provider")
            if isinstance(value, dict):  # a secret: {"4dabf18193072939515e22adb298388d": ..., "plaintext": ...}
                value = value.get("plaintext") or value.get("ciphertext")
                if isinstance(value, str) and value.startswith('"'):
                    value = json.loads(value)
            if isinstance(value, str):
                yield base64.b64decode(value)
