"""Live tests against the real Copy.ai API: opt-in, `make test-live` (`pytest -m live tests/test_live.py`).

Set COPYAI_LIVE_API_KEY (a key of a workspace you can spare; COPYAI_LIVE_BASE_URL defaults to
https://api.copy.ai/api). For the workflow-run test also COPYAI_LIVE_WORKFLOW_ID (a workflow of that
workspace: each run costs credits) and COPYAI_LIVE_RECEIVER_URL (a public https URL whose received
events can be listed at `<url>/_events`, e.g. `copyai-receiver` behind a tunnel). Without them the
tests are skipped with one line saying what to set.

Every webhook these tests register carries a unique marker in its URL (`pulumi-copyai-live-<run>`)
and is removed in a finalizer, even when a test fails. `python tests/test_live.py --cleanup` removes
any leftover webhook with the marker (from an interrupted run). The normal suite runs these tests
against the local emulator (tests/test_live_against_emulator.py), so they are known to work.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from pulumi_copyai import core
from pulumi_copyai.client import CopyAIClient
from pulumi_copyai.core import Declared, Lifecycle
from pulumi_copyai.journal import Journal
from pulumi_copyai.ownership import Workspace
from pulumi_copyai.ratelimit import RateGate

pytestmark = pytest.mark.live

MARKER = "pulumi-copyai-live"
DEFAULT_BASE_URL = "https://api.copy.ai/api"


@dataclass
class Live:
    client: CopyAIClient
    run: str  # this run's marker, in every URL it registers
    receiver: str | None
    workflow_id: str | None

    def url(self, path: str) -> str:
        base = self.receiver or "https://hooks.example.com"
        return f"{base.rstrip('/')}/{self.run}/{path}"


def _client() -> CopyAIClient | None:
    key = os.environ.get("COPYAI_LIVE_API_KEY")
    if not key:
        return None
    return CopyAIClient(key, os.environ.get("COPYAI_LIVE_BASE_URL") or DEFAULT_BASE_URL, retry_window=60,
                        gate=RateGate())


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    client = _client()
    if client is None:
        pytest.skip("live tests: set COPYAI_LIVE_API_KEY (and COPYAI_LIVE_BASE_URL if not api.copy.ai; "
                    "COPYAI_LIVE_WORKFLOW_ID and COPYAI_LIVE_RECEIVER_URL for workflow runs)")
    ctx = Live(client, f"{MARKER}-{uuid.uuid4().hex[:12]}", os.environ.get("COPYAI_LIVE_RECEIVER_URL"),
               os.environ.get("COPYAI_LIVE_WORKFLOW_ID"))
    try:
        yield ctx
    finally:  # whatever happened, nothing of this run stays registered
        for hook in client.scan_webhooks().webhooks:
            if ctx.run in hook.url:
                client.delete_webhook(hook.id)
        assert not [h for h in client.scan_webhooks().webhooks if ctx.run in h.url], "a live webhook was left"


def _process(client: CopyAIClient, journal_dir: Path) -> Lifecycle:
    """What a new provider process starts with: no views, nothing held, its own journal."""
    return Lifecycle(client, Workspace(), Journal(client.base_url, os.environ["COPYAI_LIVE_API_KEY"],
                                                  root=journal_dir))


def test_lifecycle_create_read_list_replace_drift_delete_adopt(live: Live, tmp_path: Path) -> None:
    core.forget()
    lifecycle = _process(live.client, tmp_path)
    declared = Declared(live.url("completed"), "workflowRun.completed")
    hook = lifecycle.create(declared)
    assert hook.url == declared.url and hook.event_type == "workflowRun.completed" and hook.workflow_id is None
    assert lifecycle.read(hook.id, {"url": declared.url}) == {
        "url": declared.url, "event_type": "workflowRun.completed", "workflow_id": None}
    listed = [h for h in live.client.scan_webhooks().webhooks if h.id == hook.id]
    assert len(listed) == 1 and listed[0].matches(declared.url, "workflowRun.completed", None)

    # replace (Copy.ai has no update): register the new one, then remove the old one
    replacement = lifecycle.create(Declared(live.url("failed"), "workflowRun.failed"))
    core.forget()  # the engine deletes the replaced webhook in the next process that meets it
    assert _process(live.client, tmp_path).delete(hook.id) is True
    core.forget()
    fresh = _process(live.client, tmp_path)  # a new provider process: no snapshot from before
    assert fresh.read(hook.id) is None, "the replaced webhook is gone (404)"
    assert fresh.read(replacement.id) is not None

    # deleted out of band: a refresh's read reports it gone; a second delete is harmless
    assert live.client.delete_webhook(replacement.id) is True
    core.forget()
    assert _process(live.client, tmp_path).read(replacement.id) is None
    assert live.client.delete_webhook(replacement.id) is False

    # adoption of an existing webhook by id, checked field by field
    existing = live.client.register_webhook(live.url("adopt"), "workflowRun.started")
    core.forget()
    adopted = _process(live.client, tmp_path).create(Declared(live.url("adopt"), "workflowRun.started",
                                                              import_id=existing.id))
    assert adopted.id == existing.id
    live.client.delete_webhook(existing.id)


def test_a_workflow_run_reaches_the_receiver(live: Live) -> None:
    if not (live.receiver and live.workflow_id):
        pytest.skip("workflow runs: set COPYAI_LIVE_WORKFLOW_ID and COPYAI_LIVE_RECEIVER_URL (costs credits)")
    hook = live.client.register_webhook(live.url("runs"), "workflowRun.completed", live.workflow_id)
    resp = requests.post(f"{live.client.base_url}/workflow/{live.workflow_id}/run",
                         headers={"x-copy-ai-api-key": os.environ["COPYAI_LIVE_API_KEY"]},
                         json={"startVariables": {}, "metadata": {"run": live.run}}, timeout=30)
    resp.raise_for_status()
    run_id = resp.json()["data"]["id"]
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + float(os.environ.get("COPYAI_LIVE_RUN_TIMEOUT", "300"))
    while time.monotonic() < deadline:
        events = [e for e in requests.get(f"{live.receiver}/_events", timeout=10).json()["events"]
                  if live.run in e.get("path", "") and (e.get("body") or {}).get("workflowRunId") == run_id]
        if events:
            break
        time.sleep(2)
    live.client.delete_webhook(hook.id)
    assert events, f"no workflowRun.completed for run {run_id} reached the receiver"
    assert events[0]["body"]["type"] == "workflowRun.completed"
    assert events[0]["body"]["workflowId"] == live.workflow_id


def cleanup() -> int:
    """Remove every webhook whose URL carries the live tests' marker; the number removed."""
    client = _client()
    if client is None:
        sys.exit("set COPYAI_LIVE_API_KEY (and COPYAI_LIVE_BASE_URL) to clean up after live tests")
    leftovers = [h for h in client.scan_webhooks().webhooks if MARKER in h.url]
    for hook in leftovers:
        client.delete_webhook(hook.id)
        print(f"removed {hook.id} ({hook.event_type})")
    print(f"removed {len(leftovers)} leftover live-test webhook(s)")
    return len(leftovers)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Live tests' housekeeping.")
    parser.add_argument("--cleanup", action="store_true", help=f"remove leftover webhooks marked {MARKER}")
    if parser.parse_args().cleanup:
        cleanup()
