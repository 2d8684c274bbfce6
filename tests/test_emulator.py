"""The emulator, over real HTTP: the contract endpoint by endpoint, auth, pagination, bad input,
persistence, event delivery and each fault mode."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn

from pulumi_copyai.emulator.receiver import create_receiver_app
from pulumi_copyai.emulator.testing import Emulator
from tests.conftest import API_KEY

HOOK = {"url": "https://hooks.example.com/copyai", "eventType": "workflowRun.completed"}


def register(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    resp = emu.api("POST", "/webhook", json={**HOOK, **overrides})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "success"
    return dict(body["data"])


# -- webhooks ---------------------------------------------------------------------------------
def test_register_get_delete(emu: Emulator) -> None:
    hook = register(emu, workflowId="WCFG-1")
    assert hook["url"] == HOOK["url"] and hook["eventType"] == HOOK["eventType"] and hook["workflowId"] == "WCFG-1"
    got = emu.api("GET", f"/webhook/{hook['id']}").json()
    assert got == {"status": "success", "data": hook}
    deleted = emu.api("DELETE", f"/webhook/{hook['id']}")
    assert deleted.status_code == 202 and deleted.json() == {}  # the reference's 202 with an empty object
    gone = emu.api("GET", f"/webhook/{hook['id']}")
    assert gone.status_code == 404 and gone.json() == {"status": "error", "errorCode": "NOT_FOUND"}
    again = emu.api("DELETE", f"/webhook/{hook['id']}")
    assert again.status_code == 404 and again.json()["errorCode"] == "NOT_FOUND"


def test_empty_workflow_id_means_every_workflow(emu: Emulator) -> None:
    hook = register(emu, workflowId="")
    assert hook["workflowId"] == ""
    listed = emu.api("GET", "/webhook").json()["data"]
    assert listed == [{**hook, "workflowId": None}]  # the list reports no workflow as null


def test_list_pagination_edges(emu: Emulator) -> None:
    ids = [register(emu, url=f"https://hooks.example.com/{i}")["id"] for i in range(23)]
    first = emu.api("GET", "/webhook").json()
    assert first["total"] == 23 and [h["id"] for h in first["data"]] == ids[:10]  # default size 10, page 0
    page2 = emu.api("GET", "/webhook", params={"page": 2, "size": 10}).json()
    assert [h["id"] for h in page2["data"]] == ids[20:]
    beyond = emu.api("GET", "/webhook", params={"page": 5, "size": 10}).json()
    assert beyond == {"total": 23, "data": []}
    assert len(emu.api("GET", "/webhook", params={"size": 100}).json()["data"]) == 23
    assert len(emu.api("GET", "/webhook", params={"size": 1, "page": 22}).json()["data"]) == 1
    for params, field in (({"size": 0}, "size"), ({"size": 101}, "size"), ({"page": -1}, "page")):
        resp = emu.api("GET", "/webhook", params=params)  # an integer out of range: 422 with details
        assert resp.status_code == 422, params
        assert resp.json()["errorCode"] == "VALIDATION_ERROR" and field in resp.json()["details"]
    for malformed in ({"size": "ten"}, {"page": "1.5"}, {"page": ""}, {"size": "+5"}):
        resp = emu.api("GET", "/webhook", params=malformed)  # not an integer: 400 with {}
        assert (resp.status_code, resp.json()) == (400, {}), malformed


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"eventType": "workflowRun.completed"}, {"url"}),
        ({"url": "ftp://x.example.com", "eventType": "workflowRun.completed"}, {"url"}),
        ({"url": "https://x.example.com", "eventType": "workflowrun.completed"}, {"eventType"}),
        ({"url": "https://x.example.com"}, {"eventType"}),
        ({"url": "https://x.example.com", "eventType": "workflowRun.failed", "workflowId": 7}, {"workflowId"}),
        ({"url": 5, "eventType": 6}, {"url", "eventType"}),
    ],
)
def test_register_validation_names_each_bad_field(emu: Emulator, body: dict[str, Any], fields: set[str]) -> None:
    resp = emu.api("POST", "/webhook", json=body)
    assert resp.status_code == 422
    assert resp.json()["status"] == "error" and resp.json()["errorCode"] == "VALIDATION_ERROR"
    assert set(resp.json()["details"]) == fields
    assert emu.webhooks() == []


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_body_that_is_not_a_json_object_is_400(emu: Emulator, raw: bytes) -> None:
    resp = emu.api("POST", "/webhook", data=raw, headers={"content-type": "application/json"})
    assert resp.status_code == 400 and resp.json() == {"status": "error", "errorCode": "BAD_REQUEST"}


@pytest.mark.parametrize("headers", [{}, {"x-copy-ai-api-key": "wrong"}, {"x-copy-ai-api-key": ""}])
@pytest.mark.parametrize(("method", "path"), [("POST", "/webhook"), ("GET", "/webhook"), ("GET", "/webhook/x"),
                                              ("DELETE", "/webhook/x"), ("POST", "/workflow/W/run"),
                                              ("GET", "/workflow/W/run")])
def test_every_api_route_needs_the_key(emu: Emulator, headers: dict[str, str], method: str, path: str) -> None:
    resp = requests.request(method, f"{emu.base_url}{path}", headers=headers, json=HOOK, timeout=10)
    assert resp.status_code == 401
    assert resp.json()["status"] == "error" and resp.json()["errorCode"] == "UNAUTHORIZED"
    assert emu.webhooks() == []


def test_state_persists_across_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "emulator.sqlite")
    with Emulator(api_key=API_KEY, db=db) as first:
        kept = register(first)
        dropped = register(first, eventType="workflowRun.failed")
        first.api("DELETE", f"/webhook/{dropped['id']}")
    with Emulator(api_key=API_KEY, db=db) as second:
        assert second.webhooks() == [{**kept, "workflowId": None}]
    with Emulator(api_key=API_KEY) as in_memory:
        assert in_memory.webhooks() == []


def test_concurrent_registrations_are_all_kept(emu: Emulator) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                register(emu, url=f"https://hooks.example.com/{n}/{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    hooks = emu.webhooks()
    assert len(hooks) == 80 and len({h["id"] for h in hooks}) == 80


# -- workflow runs and event delivery ----------------------------------------------------------
@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    events: list[dict[str, Any]] = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_receiver_app(events), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", events
    server.should_exit = True
    thread.join(5)


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_run_delivers_started_then_completed_to_matching_webhooks(
    emu: Emulator, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    base, events = receiver
    register(emu, url=f"{base}/mine-started", eventType="workflowRun.started", workflowId="WCFG-A")
    register(emu, url=f"{base}/mine-done", eventType="workflowRun.completed", workflowId="WCFG-A")
    register(emu, url=f"{base}/every-done", eventType="workflowRun.completed")
    register(emu, url=f"{base}/other-done", eventType="workflowRun.completed", workflowId="WCFG-B")
    register(emu, url=f"{base}/failures", eventType="workflowRun.failed")

    started = emu.api("POST", "/workflow/WCFG-A/run", json={"startVariables": {"topic": "x"},
                                                            "metadata": {"ticket": "T-1"}})
    assert started.status_code == 200
    run_id = started.json()["data"]["id"]
    assert emu.api("GET", f"/workflow/WCFG-A/run/{run_id}").json()["data"]["status"] == "PROCESSING"
    wait_for(lambda: len(events) >= 3)
    time.sleep(0.3)  # nothing else may arrive
    by_path = {e["path"]: e["body"] for e in events}
    assert set(by_path) == {"/mine-started", "/mine-done", "/every-done"}
    assert by_path["/mine-started"]["type"] == "workflowRun.started"
    done = by_path["/mine-done"]
    assert done["type"] == "workflowRun.completed" and done["workflowId"] == "WCFG-A"
    assert done["workflowRunId"] == run_id and done["metadata"] == {"ticket": "T-1"}
    assert done["result"] == emu.api("GET", f"/workflow/WCFG-A/run/{run_id}").json()["data"]["output"]
    run = emu.api("GET", f"/workflow/WCFG-A/run/{run_id}").json()["data"]
    assert run["status"] == "COMPLETE" and run["input"] == {"topic": "x"} and run["createdAt"].endswith("Z")
    assert [r["id"] for r in emu.api("GET", "/workflow/WCFG-A/run").json()["data"]["data"]] == [run_id]
    assert emu.api("GET", f"/workflow/WCFG-B/run/{run_id}").status_code == 404


def test_a_failing_run_delivers_failed(emu: Emulator, receiver: tuple[str, list[dict[str, Any]]]) -> None:
    base, events = receiver
    register(emu, url=f"{base}/failures", eventType="workflowRun.failed")
    register(emu, url=f"{base}/done", eventType="workflowRun.completed")
    run_id = emu.api("POST", "/workflow/WCFG-A/run",
                     json={"startVariables": {"emulatorOutcome": "failed"}}).json()["data"]["id"]
    wait_for(lambda: len(events) >= 1)
    time.sleep(0.3)
    assert [(e["path"], e["body"]["type"]) for e in events] == [("/failures", "workflowRun.failed")]
    assert emu.api("GET", f"/workflow/WCFG-A/run/{run_id}").json()["data"]["status"] == "FAILED"


def test_delivery_failures_are_logged_not_fatal(emu: Emulator) -> None:
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/gone"
    register(emu, url=dead, eventType="workflowRun.started")
    emu.api("POST", "/workflow/WCFG-A/run", json={})
    wait_for(lambda: emu.deliveries())
    assert "error" in emu.deliveries()[0] and emu.deliveries()[0]["url"] == dead
    assert emu.api("GET", "/webhook").status_code == 200  # still serving


# -- faults and the request log ------------------------------------------------------------------
def test_status_faults_answer_without_touching_state(emu: Emulator) -> None:
    emu.arm("status", status=429, retry_after=2, count=2, methods=["POST"])
    for _ in range(2):
        resp = emu.api("POST", "/webhook", json=HOOK)
        assert resp.status_code == 429 and resp.headers["retry-after"] == "2"
        assert resp.json()["errorCode"] == "RATE_LIMITED"
    assert emu.api("GET", "/webhook").json()["total"] == 0  # GET was not armed
    assert emu.api("POST", "/webhook", json=HOOK).status_code == 200  # the count is spent
    emu.arm("status", status=503, count=1)
    assert emu.api("GET", "/webhook").status_code == 503
    emu.arm("status", status=500, count=1)
    assert emu.api("DELETE", "/webhook/x").status_code == 500
    log = emu.requests()
    assert [(r["method"], r["status"], r["fault"]) for r in log] == [
        ("POST", 429, "status"), ("POST", 429, "status"), ("GET", 200, None), ("POST", 200, None),
        ("GET", 503, "status"), ("DELETE", 500, "status"),
    ]


def test_drop_after_commit_registers_then_drops_the_connection(emu: Emulator) -> None:
    emu.arm("drop_after_commit", count=1, methods=["POST"])
    with pytest.raises(requests.ConnectionError):
        emu.api("POST", "/webhook", json=HOOK)
    hooks = emu.webhooks()
    assert [(h["url"], h["eventType"]) for h in hooks] == [(HOOK["url"], HOOK["eventType"])]
    assert emu.requests(method="POST")[0]["fault"] == "drop_after_commit"


def test_latency_fault_delays_the_answer(emu: Emulator) -> None:
    emu.arm("latency", seconds=0.6, count=1)
    started = time.monotonic()
    assert emu.api("GET", "/webhook").status_code == 200
    assert time.monotonic() - started >= 0.6
    with pytest.raises(requests.Timeout):
        emu.arm("latency", seconds=2, count=1)
        requests.get(f"{emu.base_url}/webhook", headers={"x-copy-ai-api-key": API_KEY}, timeout=0.5)


def test_body_faults_and_probabilistic_faults(emu: Emulator) -> None:
    emu.arm("non_json", count=1)
    resp = emu.api("GET", "/webhook")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    emu.arm("oversized", count=1, size=2_000_000)
    assert len(emu.api("GET", "/webhook").content) > 2_000_000
    emu.arm("status", status=503, probability=0.3)
    statuses = [emu.api("GET", "/webhook").status_code for _ in range(100)]
    assert 10 <= statuses.count(503) <= 50 and statuses.count(200) == 100 - statuses.count(503)
    emu.disarm()
    assert emu.admin("GET", "/faults") == {"faults": []}
    bad = requests.post(f"{emu.url}/_admin/faults", json={"mode": "explode"}, timeout=5)
    assert bad.status_code == 422 and "mode must be one of" in bad.json()["details"]["fault"]


# -- copyai-receiver ---------------------------------------------------------------------------
def test_the_receiver_says_listening_only_once_bound_and_names_a_taken_port() -> None:
    exe = str(Path(sys.executable).parent / "copyai-receiver")
    proc = subprocess.Popen([exe, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.fullmatch(r"copyai-receiver listening on http://127\.0\.0\.1:(\d+)\n", line)
        assert match, line
        port = int(match[1])
        # bound when it says so: an event is received at once, without waiting for the server
        assert requests.post(f"http://127.0.0.1:{port}/done", json={"type": "x"}, timeout=10).status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/_events", timeout=10).json()["events"][0]["path"] == "/done"

        taken = subprocess.run([exe, "--port", str(port)], capture_output=True, text=True, timeout=60, check=False)
        assert taken.returncode != 0
        assert "listening" not in taken.stderr and "Traceback" not in taken.stderr
        assert f"copyai-receiver: cannot listen on 127.0.0.1:{port}: Address already in use" in taken.stderr
        assert "choose another port, e.g. --port 0" in taken.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)
