"""The ownership rules (`ownership.py`) as the core applies them, against the emulator over real HTTP:
recovery of an ambiguous POST adopts only a webhook that did not exist before the POST and that no
resource holds; identical declarations are created one at a time; a kept webhook is never deleted
for another resource; every create is journaled with its evidence. The same scenarios through the
`pulumi` CLI are in tests/test_ownership_engine.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_copyai import core, journal
from pulumi_copyai.client import CopyAIClient, CopyAIError, CopyAIUnsettledError, Webhook
from pulumi_copyai.core import Declared, Lifecycle
from pulumi_copyai.emulator.testing import Emulator
from pulumi_copyai.journal import Journal
from pulumi_copyai.ownership import Workspace
from pulumi_copyai.ratelimit import RateGate
from tests.conftest import API_KEY

URL = "https://hooks.example.com/copyai"


@pytest.fixture(autouse=True)
def _fresh_process() -> Iterator[None]:
    core.forget()
    yield
    core.forget()


def lifecycle(emu: Emulator, tmp_path: Path, **kwargs: Any) -> Lifecycle:
    """A Lifecycle as a provider process has it: its own rate gate, quick backoff, a journal in tmp_path."""
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("retry_window", 5.0)
    client = CopyAIClient(API_KEY, emu.base_url, gate=RateGate(), **kwargs)
    return Lifecycle(client, Workspace(), Journal(client.base_url, API_KEY, root=tmp_path / "journal"))


def declared(url: str = URL, event_type: str = "workflowRun.completed", workflow_id: str | None = None) -> Declared:
    return Declared(url, event_type, workflow_id)


def register(emu: Emulator, url: str = URL, event_type: str = "workflowRun.completed") -> str:
    """A webhook registered by someone else (another stack, a person, a renamed resource)."""
    return str(emu.api("POST", "/webhook", json={"url": url, "eventType": event_type}).json()["data"]["id"])


def entries(tmp_path: Path) -> list[journal.Entry]:
    folders = list((tmp_path / "journal").iterdir())
    assert len(folders) == 1
    return journal.read(folders[0])


# -- a normal create ---------------------------------------------------------------------------
def test_a_create_is_one_post_after_one_view_per_process(emu: Emulator, tmp_path: Path) -> None:
    life = lifecycle(emu, tmp_path)
    first = life.create(declared(f"{URL}/1"))
    emu.clear_requests()
    second = life.create(declared(f"{URL}/2"))
    assert [r["method"] for r in emu.requests()] == ["POST"], "a later create is one POST, nothing else"
    assert {h["id"] for h in emu.webhooks()} == {first.id, second.id}
    done = {e.webhook: e.settled for e in entries(tmp_path)}
    assert done == {first.id: "registered", second.id: "registered"}


# -- rule 4: recovery adopts only what the POST may have registered ---------------------------
def test_after_a_dropped_answer_the_registered_webhook_is_adopted(emu: Emulator, tmp_path: Path) -> None:
    life = lifecycle(emu, tmp_path)
    life.create(declared(f"{URL}/other"))  # the process's first view is taken
    emu.arm("drop_after_commit", count=1, methods=["POST"])
    hook = life.create(declared(workflow_id="WCFG-9"))
    assert [h["id"] for h in emu.webhooks() if h["url"] == URL] == [hook.id]
    assert len(emu.requests("POST")) == 2, "found through the list, not registered twice"
    assert [e.settled for e in entries(tmp_path) if e.webhook == hook.id] == ["adopted"]


def test_a_garbled_200_the_server_applied_is_adopted(emu: Emulator, tmp_path: Path) -> None:
    emu.arm("garbled_after_commit", count=1, methods=["POST"])
    hook = lifecycle(emu, tmp_path).create(declared())
    assert [h["id"] for h in emu.webhooks()] == [hook.id]
    assert len(emu.requests("POST")) == 1


def test_a_look_alike_that_existed_before_the_post_is_never_adopted(emu: Emulator, tmp_path: Path) -> None:
    # A renamed resource's old webhook, another stack's, or a hand-made one: same url and event.
    theirs = register(emu)
    emu.clear_requests()
    emu.arm("status", status=503, count=1, methods=["POST"])  # our POST fails, not applied
    hook = lifecycle(emu, tmp_path).create(declared())
    assert hook.id != theirs
    assert sorted(h["id"] for h in emu.webhooks()) == sorted([theirs, hook.id])
    assert [r["status"] for r in emu.requests("POST")] == [503, 200]
    (entry,) = entries(tmp_path)
    assert entry.existing == [theirs] and entry.settled == "registered"


def test_a_look_alike_a_resource_holds_is_never_adopted(emu: Emulator, tmp_path: Path) -> None:
    life = lifecycle(emu, tmp_path)
    life.create(declared(f"{URL}/first"))  # the view is taken before the look-alike exists
    held = register(emu)
    core.diffed(held, replaced=False)  # another resource of this stack has it
    emu.arm("status", status=503, count=1, methods=["POST"])
    hook = life.create(declared())
    assert hook.id != held
    assert len([h for h in emu.webhooks() if h["url"] == URL]) == 2


def test_identical_declarations_are_created_one_at_a_time(emu: Emulator, tmp_path: Path) -> None:
    # The first POST fails unapplied; the second is applied but answered 1.5 s late. Concurrently,
    # the first create's recovery would find the second's webhook and both would hold one id.
    life = lifecycle(emu, tmp_path)
    life.create(declared(f"{URL}/first"))
    emu.arm("status", status=503, count=1, methods=["POST"])
    emu.arm("late_answer", seconds=1.5, after=1, count=1, methods=["POST"])
    results: list[Webhook] = []
    threads = [threading.Thread(target=lambda: results.append(life.create(declared()))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    at_api = sorted(h["id"] for h in emu.webhooks() if h["url"] == URL)
    assert sorted(h.id for h in results) == at_api and len(at_api) == 2, "each twin its own webhook"


def test_after_a_timeout_the_settle_window_waits_for_a_slow_server(emu: Emulator, tmp_path: Path) -> None:
    # The POST is applied 1.2 s after it was sent; the client gives up at 0.5 s and reads the list
    # at about 0.8 s, before the webhook exists. Only the settle window (2 timeouts) finds it.
    life = lifecycle(emu, tmp_path, backoff=0.3, timeout=0.5)
    life.create(declared(f"{URL}/first"))
    emu.clear_requests()
    emu.arm("latency", seconds=1.2, count=1, methods=["POST"])
    hook = life.create(declared(event_type="workflowRun.started"))
    time.sleep(1.3)  # every POST sent has landed by now
    assert [h["id"] for h in emu.webhooks() if h["eventType"] == "workflowRun.started"] == [hook.id]
    assert len(emu.requests("POST")) == 1
    scans = emu.requests("GET", path_prefix="/api/webhook")
    post = emu.requests("POST")[0]
    assert scans[0]["started"] + scans[0]["duration"] < post["started"] + post["duration"]
    assert len(scans) >= 2


def test_a_post_that_keeps_failing_unapplied_stops_with_the_window(emu: Emulator, tmp_path: Path) -> None:
    life = lifecycle(emu, tmp_path, retry_window=1.5, backoff=0.1)
    emu.arm("status", status=503, probability=1.0, methods=["POST"])
    with pytest.raises(CopyAIError) as err:
        life.create(declared())
    text = str(err.value)
    assert "shows it was not registered" in text and "Nothing to clean up" in text
    assert text.count("Copy.ai register webhook failed") == 1
    assert emu.webhooks() == []
    assert 2 <= len(emu.requests("POST")) <= 10  # repeated only after the list showed it was not applied
    assert [e.settled for e in entries(tmp_path)] == ["not_registered"]


def test_list_unreadable_too_says_the_webhook_may_exist(emu: Emulator, tmp_path: Path) -> None:
    life = lifecycle(emu, tmp_path, retry_window=1.0, backoff=0.1)
    life.create(declared(f"{URL}/first"))
    emu.arm("drop_after_commit", count=1, methods=["POST"])
    emu.arm("status", status=503, probability=1.0, methods=["GET"])
    with pytest.raises(CopyAIUnsettledError) as err:
        life.create(declared("https://hooks.example.com/c?token=SECRET-TOKEN"))
    text = str(err.value)
    assert "may have been registered" in text and "copyai-audit" in text and "SECRET-TOKEN" not in text
    assert len(emu.requests("POST")) == 2
    unsettled = [e for e in entries(tmp_path) if e.settled is None]
    assert len(unsettled) == 1, "the journal keeps the evidence of a create that may have registered"


def test_no_post_is_sent_before_a_view_exists(emu: Emulator, tmp_path: Path) -> None:
    life = lifecycle(emu, tmp_path, retry_window=0.5, backoff=0.1)
    emu.arm("status", status=503, probability=1.0, methods=["GET"])
    with pytest.raises(CopyAIError) as err:
        life.create(declared())
    assert "could not be read before registering" in str(err.value) and "nothing was sent" in str(err.value)
    assert emu.requests("POST") == []


def test_an_outage_shorter_than_the_window_is_ridden_out(emu: Emulator, tmp_path: Path) -> None:
    life = lifecycle(emu, tmp_path, retry_window=10.0, backoff=0.2, max_backoff=1.0)
    emu.arm("outage", seconds=2.0)
    started = time.monotonic()
    hook = life.create(declared())
    assert time.monotonic() - started >= 1.5
    assert [h["id"] for h in emu.webhooks()] == [hook.id]


def test_recovery_matches_normalized_urls(emu: Emulator, tmp_path: Path) -> None:
    emu.quirks(normalize_urls=True)
    life = lifecycle(emu, tmp_path)
    life.create(declared(f"{URL}/first"))
    emu.arm("drop_after_commit", count=1, methods=["POST"])
    hook = life.create(declared("HTTPS://Hooks.Example.com:443/CopyAI/", "workflowRun.failed"))
    assert [h["id"] for h in emu.webhooks() if h["eventType"] == "workflowRun.failed"] == [hook.id]
    assert len(emu.requests("POST")) == 2


class _ShiftingClient(CopyAIClient):
    """Deletes one webhook through the API right after page 0 is read, as a replacement's DELETE
    running beside a search in the same `pulumi up` would."""

    victim: str = ""

    def list_webhooks(self, page: int = 0, size: int = 100, **kwargs: Any) -> tuple[int | None, list[Webhook]]:
        result = super().list_webhooks(page, size, **kwargs)
        if page == 0 and self.victim:
            self.delete_webhook(self.victim)
            self.victim = ""
        return result


@pytest.mark.parametrize("quirk", [None, "omit_total"])
def test_a_search_that_misses_while_the_list_shifts_scans_again(emu: Emulator, tmp_path: Path,
                                                                 quirk: str | None) -> None:
    if quirk:
        emu.quirks(**{quirk: True})
    for i in range(150):
        register(emu, f"{URL}/{i}", "workflowRun.started")
    client = _ShiftingClient(API_KEY, emu.base_url, backoff=0.01, gate=RateGate())
    life = Lifecycle(client, Workspace(), Journal(client.base_url, API_KEY, root=tmp_path))
    life.create(declared(f"{URL}/first"))  # the view
    ids = [h["id"] for h in emu.webhooks()]
    emu.arm("drop_after_commit", count=1, methods=["POST"])
    client.victim = ids[5]  # after page 0 is read, item 100 moves onto page 0 and page 1 starts at 101...
    # ...so the webhook our POST registered (the newest, on page 1) is where a stale scan would miss it
    hook = life.create(declared(f"{URL}/new", "workflowRun.started"))
    assert [h["id"] for h in emu.webhooks() if h["url"] == f"{URL}/new"] == [hook.id]


# -- rule 5: deletes ------------------------------------------------------------------------
def test_a_webhook_another_resource_keeps_is_not_deleted(emu: Emulator, tmp_path: Path) -> None:
    life = lifecycle(emu, tmp_path)
    theirs = register(emu)
    adopted = life.create(Declared(URL, "workflowRun.completed", import_id=theirs))  # b imports a's webhook
    assert adopted.id == theirs
    emu.clear_requests()
    assert life.delete(theirs) is False  # a, renamed away, goes: its webhook is b's now
    assert emu.requests("DELETE") == [] and [h["id"] for h in emu.webhooks()] == [theirs]


def test_a_replaced_webhook_is_deleted(emu: Emulator, tmp_path: Path) -> None:
    life = lifecycle(emu, tmp_path)
    old = life.create(declared())
    core.forget()  # the next `pulumi up`: a new process
    life = lifecycle(emu, tmp_path)
    core.diffed(old.id, replaced=True)
    life.create(declared(f"{URL}/new"))
    assert life.delete(old.id) is True
    assert [h["url"] for h in emu.webhooks()] == [f"{URL}/new"]


@pytest.mark.parametrize("commit", [False, True])
def test_a_200_that_says_error_is_settled_through_the_list(emu: Emulator, tmp_path: Path, commit: bool) -> None:
    body = {"status": "error", "errorCode": "INTERNAL"}
    emu.arm("answer", body=body, methods=["POST"], commit=commit)
    hook = lifecycle(emu, tmp_path).create(declared())
    assert [h["id"] for h in emu.webhooks()] == [hook.id]
    assert len(emu.requests("POST")) == (1 if commit else 2)  # adopted if applied, else registered again


def test_a_numeric_workflow_id_in_a_post_answer_is_settled_through_the_list(emu: Emulator, tmp_path: Path) -> None:
    good = {"id": "hook-1", "url": URL, "eventType": "workflowRun.completed"}
    emu.arm("answer", body={"status": "success", "data": {**good, "workflowId": 1}}, methods=["POST"], commit=True)
    hook = lifecycle(emu, tmp_path).create(declared(workflow_id="WCFG-1"))
    assert hook.workflow_id == "WCFG-1" and [h["id"] for h in emu.webhooks()] == [hook.id]
    assert len(emu.requests("POST")) == 1
