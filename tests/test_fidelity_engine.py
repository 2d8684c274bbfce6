"""Through the `pulumi` CLI, both front doors: an API that normalizes URLs causes no diff and no
duplicate; refresh keeps a webhook when the API answers 401 or 5xx; the API key is stored nowhere."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_copyai.emulator.testing import Emulator
from tests.cli import TYPES, Project, cli_env

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

API_KEY = "fidelity-key-9d0c"
DECLARED = "https://Hooks.Example.COM:443/CopyAI/{stack}"


@pytest.fixture
def api() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY) as emu:
        yield emu


def project(tmp_path: Path, api: Emulator, front_door: str, hooks: list[dict[str, str]],
            **env: str) -> Project:
    (tmp_path / "state").mkdir(exist_ok=True)
    p = Project(tmp_path, front_door, cli_env(f"file://{tmp_path / 'state'}", api, tmp_path, **env))
    (p.python if front_door == "dyn" else p.yaml)(hooks)
    p.run("stack", "init", "dev")
    return p


@pytest.mark.parametrize("front_door", ["dyn", "pkg"])
def test_an_api_that_normalizes_urls_causes_no_diff_and_no_duplicate(
    api: Emulator, tmp_path: Path, front_door: str
) -> None:
    api.quirks(normalize_urls=True)
    hooks = [{"name": f"hook-{i}", "url": f"{DECLARED}/{i}", "eventType": "workflowRun.completed"} for i in range(6)]
    p = project(tmp_path, api, front_door, hooks)
    api.arm("drop_after_commit", count=3, methods=["POST"])  # recovery must match the normalized form
    p.run("up", "--yes", "--skip-preview", "--stack", "dev")
    at_api = api.webhooks()
    assert len(at_api) == 6, "recovery did not recognize the normalized URL: a duplicate"
    assert all(h["url"].startswith("https://hooks.example.com/CopyAI/dev/") for h in at_api)
    assert p.ids("dev") == {h["id"] for h in at_api}
    refresh = p.run("refresh", "--yes", "--skip-preview", "--expect-no-changes", "--stack", "dev")
    assert "7 unchanged" in refresh.stdout
    assert p.run("preview", "--expect-no-changes", "--stack", "dev").returncode == 0
    p.run("destroy", "--yes", "--skip-preview", "--stack", "dev")
    assert api.webhooks() == []


@pytest.mark.parametrize("front_door", ["dyn", "pkg"])
@pytest.mark.parametrize("status", [401, 503])
def test_refresh_keeps_the_webhook_when_the_api_fails(
    api: Emulator, tmp_path: Path, front_door: str, status: int
) -> None:
    hooks = [{"name": "hook", "url": "https://hooks.example.com/keep/{stack}", "eventType": "workflowRun.failed"}]
    p = project(tmp_path, api, front_door, hooks, COPYAI_RETRY_WINDOW_SECONDS="1")
    p.run("up", "--yes", "--skip-preview", "--stack", "dev")
    before = p.ids("dev")
    api.arm("status", status=status, probability=1.0, methods=["GET"])
    refresh = p.run("refresh", "--yes", "--skip-preview", "--stack", "dev", check=False)
    api.disarm()
    assert refresh.returncode != 0
    assert f"HTTP {status}" in refresh.stdout + refresh.stderr
    assert p.ids("dev") == before, "an error is never 'gone'"
    assert p.run("preview", "--expect-no-changes", "--stack", "dev").returncode == 0


@pytest.mark.parametrize("front_door", ["dyn", "pkg"])
def test_the_api_key_is_stored_nowhere_but_pulumis_encrypted_config(
    api: Emulator, tmp_path: Path, front_door: str
) -> None:
    hooks = [{"name": "hook", "url": "https://hooks.example.com/k/{stack}", "eventType": "workflowRun.failed"}]
    p = project(tmp_path, api, front_door, hooks)
    p.env.pop("COPYAI_API_KEY")
    p.run("config", "set", "--secret", "copyai:apiKey", API_KEY, "--stack", "dev")
    p.run("up", "--yes", "--skip-preview", "--stack", "dev")
    encoded = base64.b64encode(API_KEY.encode()).decode()
    plain = json.dumps(p.export("dev"))
    assert API_KEY not in plain and encoded not in plain
    config_file = (p.dir / "Pulumi.dev.yaml").read_text()
    assert API_KEY not in config_file and "secure:" in config_file

    revealed = p.export("dev", show_secrets=True)
    for res in revealed["resources"]:
        text = json.dumps(res)
        if res["type"].startswith("pulumi:providers:"):
            continue  # the engine keeps secret stack config among its default provider's inputs, encrypted
        assert API_KEY not in text and encoded not in text, f"the key is in {res['type']}"
        if res["type"] in TYPES and "__provider" in res.get("inputs", {}):
            blob = base64.b64decode(res["inputs"]["__provider"])
            assert API_KEY.encode() not in blob and len(blob) < 200, "the pickled provider is tiny and keyless"
    p.run("destroy", "--yes", "--skip-preview", "--stack", "dev")

    # given only through the environment, the key is not even in the encrypted config
    p.run("config", "rm", "copyai:apiKey", "--stack", "dev")
    p.env["COPYAI_API_KEY"] = API_KEY
    p.run("up", "--yes", "--skip-preview", "--stack", "dev")
    everything = json.dumps(p.export("dev", show_secrets=True)) + (p.dir / "Pulumi.dev.yaml").read_text()
    assert API_KEY not in everything and encoded not in everything
    p.run("destroy", "--yes", "--skip-preview", "--stack", "dev")
