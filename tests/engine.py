"""Drive the real Pulumi engine (the pinned CLI) through the Automation API, on a file backend."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pulumi import automation as auto

PROJECT = "copyai-test"


class EngineStack:
    """One stack of an inline program in its own project directory and file backend."""

    def __init__(
        self,
        work_dir: Path,
        program: Callable[[], None],
        env: dict[str, str] | None = None,
        project: str = PROJECT,
        stack: str = "test",
    ) -> None:
        self.work_dir = work_dir
        backend = work_dir / ".state"
        backend.mkdir(parents=True, exist_ok=True)
        self.env = {
            "PULUMI_BACKEND_URL": f"file://{backend}",
            "PULUMI_CONFIG_PASSPHRASE": "test-passphrase",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            **(env or {}),
        }
        settings = auto.ProjectSettings(name=project, runtime="python")
        opts = auto.LocalWorkspaceOptions(work_dir=str(work_dir), env_vars=self.env, project_settings=settings)
        self.stack = auto.create_or_select_stack(stack, project_name=project, program=program, opts=opts)
        self.name = stack

    # -- configuration ----------------------------------------------------------------------
    def set_config(self, key: str, value: str, secret: bool = False) -> None:
        self.stack.set_config(key, auto.ConfigValue(value=value, secret=secret))

    def remove_config(self, key: str) -> None:
        self.stack.remove_config(key)

    # -- operations -------------------------------------------------------------------------
    def up(self, **kwargs: Any) -> auto.UpResult:
        return self.stack.up(color="never", **kwargs)

    def preview(self, **kwargs: Any) -> auto.PreviewResult:
        return self.stack.preview(color="never", **kwargs)

    def refresh(self, **kwargs: Any) -> auto.RefreshResult:
        return self.stack.refresh(color="never", **kwargs)

    def destroy(self, **kwargs: Any) -> auto.DestroyResult:
        return self.stack.destroy(color="never", **kwargs)

    def preview_changes(self, refresh: bool = False) -> dict[str, int]:
        """The step counts of a preview, e.g. {'same': 3} or {'replace': 1, 'same': 2}."""
        return dict(self.preview(refresh=refresh).change_summary)

    # -- state ------------------------------------------------------------------------------
    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.env}
        return subprocess.run(["pulumi", *args, "--stack", self.name, "--non-interactive"], cwd=self.work_dir,
                              env=env, text=True, capture_output=True, check=False)

    def export(self, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "export"] + (["--show-secrets"] if show_secrets else [])
        done = self.cli(*args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

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
