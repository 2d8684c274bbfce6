"""Strict HTTP through the `pulumi` CLI:

- an API (base URL) that answers with a redirect fails `pulumi up` with a message that names the
  redirect's scheme and host and says to check copyai:baseUrl; the redirect's target (a second API
  that would accept the same key) receives nothing, and nothing is registered anywhere. Both front
  doors: "dyn" (Python, dynamic provider) and "pkg" (Pulumi YAML, the copyai plugin).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_copyai.emulator.testing import Emulator
from tests.cli import Project, cli_env

API_KEY = "strict-key-3e8a"


@pytest.fixture
def api() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY) as emu:
        yield emu


@pytest.fixture
def elsewhere() -> Iterator[Emulator]:
    """Where the redirect points: an API that accepts the same key, so a followed POST would be applied."""
    with Emulator(api_key=API_KEY) as emu:
        yield emu


def project(tmp_path: Path, api: Emulator, front_door: str, hooks: list[dict[str, Any]]) -> Project:
    (tmp_path / "state").mkdir(exist_ok=True)
    p = Project(tmp_path, front_door, cli_env(f"file://{tmp_path / 'state'}", api, tmp_path))
    (p.python if front_door == "dyn" else p.yaml)(hooks)
    p.run("stack", "init", "dev")
    return p


@pytest.mark.parametrize("front_door", ["dyn", "pkg"])
def test_up_fails_on_a_redirect_and_its_target_gets_nothing(
    api: Emulator, elsewhere: Emulator, tmp_path: Path, front_door: str
) -> None:
    hooks = [{"name": "hook", "url": "https://hooks.example.com/strict/{stack}?token=SECRET-91",
              "eventType": "workflowRun.completed", "secret": True}]
    p = project(tmp_path, api, front_door, hooks)
    api.arm("redirect", status=307, location=elsewhere.url, probability=1.0)  # followed, the POST would apply there
    up = p.run("up", "--yes", "--skip-preview", "--stack", "dev", check=False, timeout=300)
    out = up.stdout + up.stderr
    assert up.returncode != 0, out
    assert f"the API answered with a redirect (HTTP 307) to {elsewhere.url}," in out, out
    assert "Check copyai:baseUrl (or COPYAI_BASE_URL)" in out
    assert f"{elsewhere.url}/" not in out and "SECRET-91" not in out  # the target's host, no path
    assert [(r["method"], r["status"]) for r in api.requests()] == [("POST", 307)], "sent once, not retried"
    assert elsewhere.requests() == [], "the request, and the API key, went to the redirect's target"
    api.disarm()
    assert api.webhooks() == [] and elsewhere.webhooks() == []
    assert p.ids("dev") == set()
