"""Strict HTTP through the `pulumi` CLI:

- an API (base URL) that answers with a redirect fails `pulumi up` with a message that names the
  redirect's scheme and host and says to check copyai:baseUrl; the redirect's target (a second API
  that would accept the same key) receives nothing, and nothing is registered anywhere. Both front
  doors: "dyn" (Python, dynamic provider) and "pkg" (Pulumi YAML, the copyai plugin).
- `pulumi refresh` of more than one page of webhooks ends against an API that ignores `page` and
  sends no `total`, and drops only the webhooks that are gone (both front doors too).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_copyai.emulator.testing import Emulator
from tests.cli import Project, cli_env, hooks_for

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

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
    # Followed, the POST would apply there.
    api.arm("redirect", status=307, location=elsewhere.url, probability=1.0, methods=["POST"])
    up = p.run("up", "--yes", "--skip-preview", "--stack", "dev", check=False, timeout=300)
    out = up.stdout + up.stderr
    assert up.returncode != 0, out
    assert f"the API answered with a redirect (HTTP 307) to {elsewhere.url}," in out, out
    assert "Check copyai:baseUrl (or COPYAI_BASE_URL)" in out
    assert f"{elsewhere.url}/" not in out and "SECRET-91" not in out  # the target's host, no path
    sent = [(r["method"], r["status"]) for r in api.requests()]
    assert sent == [("GET", 200), ("POST", 307)], "the view, then the POST once, not retried"
    assert elsewhere.requests() == [], "the request, and the API key, went to the redirect's target"
    api.disarm()
    assert api.webhooks() == [] and elsewhere.webhooks() == []
    assert p.ids("dev") == set()


@pytest.mark.parametrize("front_door", ["dyn", "pkg"])
def test_refresh_ends_against_a_list_that_ignores_page_and_drops_nothing_that_exists(
    api: Emulator, tmp_path: Path, front_door: str
) -> None:
    p = project(tmp_path, api, front_door, hooks_for(front_door, 130))
    p.run("up", "--yes", "--skip-preview", "--stack", "dev")
    ids = p.ids("dev")
    listed = [h["id"] for h in api.webhooks()]
    assert len(ids) == 130 and set(listed) == ids
    gone = {listed[5], listed[120]}  # deleted behind the stack's back: one on the first page, one beyond
    for webhook_id in gone:
        assert api.api("DELETE", f"/webhook/{webhook_id}").status_code == 202
    api.quirks(omit_total=True)
    api.arm("ignore_page", probability=1.0, methods=["GET"])
    api.clear_requests()
    started = time.monotonic()
    refresh = p.run("refresh", "--yes", "--skip-preview", "--stack", "dev", timeout=120)
    elapsed = time.monotonic() - started
    scans = [r for r in api.requests("GET") if r["path"] == "/api/webhook"]
    api.disarm()
    assert "2 deleted" in refresh.stdout, refresh.stdout
    assert p.ids("dev") == ids - gone, "refresh dropped a webhook that exists, or kept one that is gone"
    assert {h["id"] for h in api.webhooks()} == ids - gone
    assert 2 <= len(scans) <= 10, f"{len(scans)} list calls in {elapsed:.1f} s"
