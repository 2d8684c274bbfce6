"""Ownership through the `pulumi` CLI, both front doors: renames and twins while single POSTs fail,
are held back or are answered late. Each ends with the API and the state agreeing: the same ids,
none shared by two resources, nothing orphaned, nothing lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_copyai.emulator.testing import Emulator
from tests.cli import TYPES, Project, cli_env

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

API_KEY = "ownership-key-5c1d"
URL = "https://hooks.example.com/ownership/{stack}"
DOORS = ["dyn", "pkg"]


@pytest.fixture
def api() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY) as emu:
        yield emu


def project(tmp_path: Path, api: Emulator, front_door: str) -> Project:
    (tmp_path / "state").mkdir(exist_ok=True)
    p = Project(tmp_path, front_door, cli_env(f"file://{tmp_path / 'state'}", api, tmp_path))
    declare(p, front_door, [])
    p.run("stack", "init", "dev")
    return p


def declare(p: Project, front_door: str, hooks: list[dict[str, Any]]) -> None:
    (p.python if front_door == "dyn" else p.yaml)(hooks)


def hook(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "url": URL, "eventType": "workflowRun.completed", **extra}


def up(p: Project) -> str:
    done = p.run("up", "--yes", "--skip-preview", "--stack", "dev")
    return done.stdout


def state(p: Project) -> dict[str, str]:
    """resource name -> webhook id, for the webhooks of the dev stack."""
    resources = p.export("dev").get("resources") or []
    return {r["urn"].rsplit("::", 1)[-1]: r["id"] for r in resources if r["type"] in TYPES}


def agree(api: Emulator, p: Project, names: set[str]) -> dict[str, str]:
    """The state holds exactly `names`, each with its own webhook, and the API exactly those webhooks."""
    owned = state(p)
    assert set(owned) == names, f"state holds {sorted(owned)}"
    assert len(set(owned.values())) == len(owned), f"one webhook shared by two resources: {owned}"
    at_api = {h["id"] for h in api.webhooks()}
    assert at_api == set(owned.values()), f"API {sorted(at_api)} vs state {owned}"
    return owned


@pytest.mark.parametrize("front_door", DOORS)
def test_a_rename_whose_post_fails_unapplied_keeps_one_webhook(api: Emulator, tmp_path: Path,
                                                                front_door: str) -> None:
    p = project(tmp_path, api, front_door)
    declare(p, front_door, [hook("a")])
    up(p)
    agree(api, p, {"a"})
    declare(p, front_door, [hook("b")])  # renamed: same url and event
    api.arm("status", status=503, count=1, methods=["POST"])  # b's POST fails and is not applied
    up(p)
    assert [r["status"] for r in api.requests("POST")][-2:] == [503, 200], "b registered its own"
    agree(api, p, {"b"})


@pytest.mark.parametrize("front_door", DOORS)
def test_a_rename_that_imports_the_old_webhook_keeps_it(api: Emulator, tmp_path: Path, front_door: str) -> None:
    p = project(tmp_path, api, front_door)
    declare(p, front_door, [hook("a")])
    up(p)
    old = agree(api, p, {"a"})["a"]
    api.clear_requests()
    declare(p, front_door, [hook("b", importId=old)])
    up(p)
    assert agree(api, p, {"b"}) == {"b": old}
    assert api.requests("DELETE") == [] and api.requests("POST") == []


@pytest.mark.parametrize("front_door", DOORS)
@pytest.mark.parametrize("faults", ["first-unapplied-second-late", "first-late-second-lost"])
def test_twins_in_one_update_get_one_webhook_each(api: Emulator, tmp_path: Path, front_door: str,
                                                  faults: str) -> None:
    """Two identical declarations: without one-at-a-time creates, one's recovery took the other's
    webhook (both resources held one id; with a lost answer, a third webhook was orphaned)."""
    p = project(tmp_path, api, front_door)
    if faults == "first-unapplied-second-late":
        api.arm("status", status=503, count=1, methods=["POST"])
        api.arm("late_answer", seconds=3.0, after=1, count=1, methods=["POST"])
    else:
        api.arm("late_answer", seconds=3.0, count=1, methods=["POST"])  # applied at once, answered late
        api.arm("drop_after_commit", after=1, count=1, methods=["POST"])
    declare(p, front_door, [hook("twin-1"), hook("twin-2")])
    up(p)
    agree(api, p, {"twin-1", "twin-2"})

    api.disarm()
    declare(p, front_door, [hook("twin-2")])  # removing one twin deletes its own webhook only
    up(p)
    agree(api, p, {"twin-2"})
