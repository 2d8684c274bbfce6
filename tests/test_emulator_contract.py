"""The emulator against docs/copyai-api.md, over real HTTP, point by point: delete's 202 `{}`, the
list routes' 400 `{}` and 422, runs (shape, ids, nested paginated list, WCFG-/PKGW- workflows), the
credit limit (400 and the workflowCreditLimit.reached event), and the quirks a client must survive."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from pulumi_copyai.emulator.quirks import normalize_url
from pulumi_copyai.emulator.testing import Emulator, Receiver
from tests.conftest import API_KEY

HOOK = {"url": "https://hooks.example.com/copyai", "eventType": "workflowRun.completed"}
RUN_ID = re.compile(r"^WRUN-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rx:
        yield rx


def register(emu: Emulator, **fields: Any) -> dict[str, Any]:
    resp = emu.api("POST", "/webhook", json={**HOOK, **fields})
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["data"])


def start(emu: Emulator, workflow_id: str = "WCFG-1", **body: Any) -> requests.Response:
    return emu.api("POST", f"/workflow/{workflow_id}/run", json=body)


def run_of(emu: Emulator, workflow_id: str, run_id: str) -> dict[str, Any]:
    resp = emu.api("GET", f"/workflow/{workflow_id}/run/{run_id}")
    assert resp.status_code == 200 and resp.json()["status"] == "success", resp.text
    return dict(resp.json()["data"])


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# -- webhooks ------------------------------------------------------------------------------------
def test_delete_answers_202_with_an_empty_object(emu: Emulator) -> None:
    hook = register(emu)
    resp = emu.api("DELETE", f"/webhook/{hook['id']}")
    assert resp.status_code == 202 and resp.json() == {} and resp.headers["content-type"] == "application/json"
    again = emu.api("DELETE", f"/webhook/{hook['id']}")
    assert again.status_code == 404 and again.json() == {"status": "error", "errorCode": "NOT_FOUND"}


@pytest.mark.parametrize("path", ["/webhook", "/workflow/WCFG-1/run/", "/workflow/WCFG-1/run"])
def test_list_routes_answer_400_empty_for_non_integers_and_422_for_out_of_range(emu: Emulator, path: str) -> None:
    code = "VALIDATION_ERROR" if path == "/webhook" else "REQUEST_INVALID"
    for malformed in ({"page": "one"}, {"size": "1.5"}, {"size": ""}, {"page": "0x1"}, {"size": "+3"}):
        resp = emu.api("GET", path, params=malformed)
        assert (resp.status_code, resp.json()) == (400, {}), malformed
    for params, field in (({"size": 0}, "size"), ({"size": 101}, "size"), ({"page": -1}, "page")):
        resp = emu.api("GET", path, params=params)
        assert resp.status_code == 422, params
        body = resp.json()
        assert body["status"] == "error" and body["errorCode"] == code and set(body["details"]) == {field}
    for edge in ({"size": 1}, {"size": 100}, {"page": 0}, {"page": 10**30}):
        assert emu.api("GET", path, params=edge).status_code == 200, edge  # edges and far pages


# -- workflow runs -------------------------------------------------------------------------------
@pytest.mark.parametrize("workflow_id", ["WCFG-6f0d2a3c-1b1e-4c55-9f1e-0a6c3f1e2d44",
                                         "PKGW-0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"])
def test_a_run_has_the_documented_shape(emu: Emulator, receiver: Receiver, workflow_id: str) -> None:
    register(emu, url=f"{receiver.url}/done", workflowId=workflow_id)
    resp = start(emu, workflow_id, startVariables={"topic": "x"}, metadata={"ticket": "T-1"})
    assert resp.status_code == 200 and set(resp.json()) == {"status", "data"}
    run_id = resp.json()["data"]["id"]
    assert RUN_ID.match(run_id) and resp.json()["data"] == {"id": run_id}
    run = run_of(emu, workflow_id, run_id)
    assert run == {"id": run_id, "workflowRunId": run_id, "workflowId": workflow_id, "input": {"topic": "x"},
                   "status": "PROCESSING", "createdAt": run["createdAt"], "credits": 1,
                   "metadata": {"ticket": "T-1"}}  # no output yet
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", run["createdAt"])
    event = receiver.wait_for(1)[0]["body"]
    done = run_of(emu, workflow_id, run_id)
    assert done["status"] == "COMPLETE" and done["output"] == event["result"] and done["output"]
    assert event == {"type": "workflowRun.completed", "workflowId": workflow_id, "workflowRunId": run_id,
                     "result": done["output"], "metadata": {"ticket": "T-1"}}


def test_metadata_and_output_only_when_there_are_any(emu: Emulator) -> None:
    plain = start(emu, startVariables={"a": 1}).json()["data"]["id"]
    failing = start(emu, startVariables={"emulatorOutcome": "failed"}, metadata={}).json()["data"]["id"]
    wait_until(lambda: run_of(emu, "WCFG-1", failing)["status"] == "FAILED"
               and run_of(emu, "WCFG-1", plain)["status"] == "COMPLETE")
    assert "metadata" not in run_of(emu, "WCFG-1", plain) and "output" in run_of(emu, "WCFG-1", plain)
    failed = run_of(emu, "WCFG-1", failing)
    assert failed["metadata"] == {} and "output" not in failed  # given (even empty): shown; no output: none


def test_start_run_errors(emu: Emulator) -> None:
    bodies: list[dict[str, Any]] = [{"startVariables": []}, {"metadata": "x"}, {"startVariables": None}]
    for body in bodies:
        resp = start(emu, **body)
        assert resp.status_code == 422 and resp.json()["errorCode"] == "REQUEST_INVALID", body
        assert set(resp.json()["details"]) == set(body)
    bad = emu.api("POST", "/workflow/WCFG-1/run", data=b"[1]", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json() == {"status": "error", "errorCode": "BAD_REQUEST"}
    assert start(emu).status_code == 200  # no body at all: no variables
    for workflow_id in ("W", "wcfg-1", "RUN-1", "WCFG-"):  # not a workflow id: no such workflow
        assert start(emu, workflow_id).json() == {"status": "error", "errorCode": "NOT_FOUND"}, workflow_id
        assert emu.api("GET", f"/workflow/{workflow_id}/run/").status_code == 404
        assert emu.api("GET", f"/workflow/{workflow_id}/run/WRUN-x").status_code == 404
    assert emu.runs("WCFG-1") and emu.runs("WCFG-2") == []


def test_run_list_is_nested_and_paginated(emu: Emulator) -> None:
    ids = [start(emu, "PKGW-7", startVariables={"n": i}).json()["data"]["id"] for i in range(12)]
    start(emu, "WCFG-other")
    for path in ("/workflow/PKGW-7/run/", "/workflow/PKGW-7/run"):
        first = emu.api("GET", path).json()
        assert first["status"] == "success" and set(first["data"]) == {"total", "data"}
        assert first["data"]["total"] == 12 and [r["id"] for r in first["data"]["data"]] == ids[:10]  # size 10
        second = emu.api("GET", path, params={"page": 1}).json()["data"]
        assert [r["id"] for r in second["data"]] == ids[10:]
        assert emu.api("GET", path, params={"page": 3, "size": 5}).json()["data"] == {"total": 12, "data": []}
        one = emu.api("GET", path, params={"page": 4, "size": 2}).json()["data"]["data"]
        assert [r["id"] for r in one] == ids[8:10] and one[0]["input"] == {"n": 8}
    assert [r["id"] for r in emu.runs("PKGW-7")] == ids


def test_webhooks_with_pkgw_workflows_hear_their_runs(emu: Emulator, receiver: Receiver) -> None:
    register(emu, url=f"{receiver.url}/pkgw", eventType="workflowRun.started", workflowId="PKGW-1")
    register(emu, url=f"{receiver.url}/wcfg", eventType="workflowRun.started", workflowId="WCFG-1")
    run_id = start(emu, "PKGW-1").json()["data"]["id"]
    events = receiver.wait_for(1)
    time.sleep(0.4)
    assert [(e["path"], e["body"]["workflowRunId"]) for e in receiver.events] == [("/pkgw", run_id)]
    assert events[0]["body"]["type"] == "workflowRun.started"


# -- credits -------------------------------------------------------------------------------------
def test_running_out_of_credits(emu: Emulator, receiver: Receiver) -> None:
    register(emu, url=f"{receiver.url}/billing", eventType="workflowCreditLimit.reached")
    register(emu, url=f"{receiver.url}/billing-other", eventType="workflowCreditLimit.reached", workflowId="WCFG-9")
    register(emu, url=f"{receiver.url}/done", eventType="workflowRun.completed")
    assert emu.credits() == {"credits": None, "run_cost": 1, "used": 0, "limit_reached": False}  # unlimited
    assert emu.set_credits(2) == {"credits": 2, "run_cost": 1, "used": 0, "limit_reached": False}
    first = start(emu).json()["data"]["id"]
    assert run_of(emu, "WCFG-1", first)["credits"] == 1
    second = start(emu, "PKGW-2").json()["data"]["id"]
    for _ in range(3):  # out of credits: refused, nothing started
        refused = start(emu)
        assert refused.status_code == 400
        assert refused.json() == {"status": "error", "errorCode": "WORKFLOW_CREDIT_LIMIT_REACHED"}
    receiver.wait_for(4)
    time.sleep(0.4)
    limit = sorted((e["path"], e["body"]["type"]) for e in receiver.events if e["path"].startswith("/billing"))
    assert limit == [("/billing", "workflowCreditLimit.reached"), ("/billing-other", "workflowCreditLimit.reached")]
    reached = next(e["body"] for e in receiver.events if e["path"] == "/billing")
    assert reached == {"type": "workflowCreditLimit.reached", "workflowId": "PKGW-2", "workflowRunId": second}
    done = sorted(e["body"]["workflowRunId"] for e in receiver.events if e["path"] == "/done")
    assert done == sorted([first, second])
    assert emu.credits() == {"credits": 0, "run_cost": 1, "used": 2, "limit_reached": True}
    assert len(emu.runs("WCFG-1")) == 1

    emu.set_credits(1.5, run_cost=0.5)  # a new budget: three more runs, then the event once more
    assert [start(emu).status_code for _ in range(4)] == [200, 200, 200, 400]
    wait_until(lambda: len([e for e in receiver.events if e["path"] == "/billing"]) == 2)
    assert run_of(emu, "WCFG-1", emu.runs("WCFG-1")[-1]["id"])["credits"] == 0.5

    emu.set_credits(0)  # refused at once: the event goes out on the first refusal
    assert start(emu).status_code == 400
    wait_until(lambda: len([e for e in receiver.events if e["path"] == "/billing"]) == 3)
    assert "workflowRunId" not in receiver.events[-1]["body"]
    emu.set_credits(None)
    assert start(emu).status_code == 200
    bad = requests.post(f"{emu.url}/_admin/credits", json={"credits": -1}, timeout=5)
    assert bad.status_code == 422 and "credits" in bad.json()["details"]
    emu.reset()
    assert emu.credits()["credits"] is None


def test_credits_flag_sets_the_budget_and_reset_restores_it() -> None:
    with Emulator(api_key=API_KEY, credits=1) as emu:
        assert start(emu).status_code == 200
        assert start(emu).json()["errorCode"] == "WORKFLOW_CREDIT_LIMIT_REACHED"
        emu.reset()
        assert emu.credits() == {"credits": 1, "run_cost": 1, "used": 0, "limit_reached": False}
        assert start(emu).status_code == 200


def test_the_credit_limit_admin_route_delivers_without_blocking(emu: Emulator) -> None:
    with Receiver(delay=1.5) as slow:
        register(emu, url=f"{slow.url}/billing", eventType="workflowCreditLimit.reached", workflowId="WCFG-3")
        answered: list[float] = []

        def trigger() -> None:
            requests.post(f"{emu.url}/_admin/credit-limit", timeout=10).raise_for_status()
            answered.append(time.monotonic())

        thread = threading.Thread(target=trigger)
        thread.start()
        slow.wait_for(1)
        began = time.monotonic()
        assert emu.api("GET", "/webhook").status_code == 200  # served while the delivery waits
        assert time.monotonic() - began < 0.5
        thread.join()
        assert answered and answered[0] - began > 0.5  # the admin route answered after the delivery
        assert slow.events[0]["body"] == {"type": "workflowCreditLimit.reached"}


def test_slow_receivers_do_not_slow_the_api(emu: Emulator) -> None:
    with Receiver(delay=2) as slow:
        for event in ("workflowRun.started", "workflowRun.completed"):
            register(emu, url=f"{slow.url}/{event}", eventType=event)
        started = [start(emu).json()["data"]["id"] for _ in range(5)]
        slow.wait_for(5)
        began = time.monotonic()
        for _ in range(20):
            assert emu.api("GET", "/webhook").status_code == 200
            assert emu.api("GET", f"/workflow/WCFG-1/run/{started[0]}").status_code == 200
        assert time.monotonic() - began < 1.5  # 40 calls while 5 deliveries hang for 2 s each


# -- quirks ----------------------------------------------------------------------------------------
def test_quirks_change_the_list_answers(emu: Emulator) -> None:
    assert emu.quirks() == {"total_as_string": False, "omit_total": False, "normalize_urls": False}
    ids = [register(emu, url=f"https://hooks.example.com/{i}")["id"] for i in range(3)]
    start(emu)
    assert emu.quirks(total_as_string=True)["total_as_string"] is True
    body = emu.api("GET", "/webhook", params={"size": 2}).json()
    assert body["total"] == "3" and len(body["data"]) == 2
    assert emu.api("GET", "/workflow/WCFG-1/run/").json()["data"]["total"] == "1"
    assert [h["id"] for h in emu.webhooks()] == ids
    emu.quirks(omit_total=True)
    body = emu.api("GET", "/webhook", params={"size": 2}).json()
    assert set(body) == {"data"} and len(body["data"]) == 2
    assert set(emu.api("GET", "/workflow/WCFG-1/run/").json()["data"]) == {"data"}
    assert [h["id"] for h in emu.webhooks()] == ids
    assert len(emu.runs("WCFG-1")) == 1
    emu.reset()
    assert emu.quirks() == {"total_as_string": False, "omit_total": False, "normalize_urls": False}
    assert emu.api("GET", "/webhook").json() == {"total": 0, "data": []}


@pytest.mark.parametrize(("given", "normalized"), [
    ("HTTPS://Hooks.Example.COM:443", "https://hooks.example.com/"),
    ("https://hooks.example.com:443/Copy/AI?Token=AbC#Frag", "https://hooks.example.com/Copy/AI?Token=AbC#Frag"),
    ("http://LOCALHOST:80?x=1", "http://localhost/?x=1"),
    ("http://127.0.0.1:8788/hook", "http://127.0.0.1:8788/hook"),
    ("https://hooks.example.com:80/", "https://hooks.example.com:80/"),  # :80 is not https's default
    ("https://User:PW@Hooks.Example.com", "https://User:PW@hooks.example.com/"),
    ("http://[::1]:80/x", "http://[::1]/x"),
])
def test_normalize_urls(emu: Emulator, given: str, normalized: str) -> None:
    assert register(emu, url=given)["url"] == given  # off by default: kept as given
    emu.quirks(normalize_urls=True)
    hook = register(emu, url=given)
    assert hook["url"] == normalized == normalize_url(given)
    assert emu.api("GET", f"/webhook/{hook['id']}").json()["data"]["url"] == normalized
    assert [h["url"] for h in emu.webhooks()] == [given, normalized]


def test_quirks_at_start_and_bad_quirks() -> None:
    with Emulator(api_key=API_KEY, quirks={"total_as_string": True, "normalize_urls": True}) as emu:
        assert emu.quirks() == {"total_as_string": True, "omit_total": False, "normalize_urls": True}
        assert register(emu, url="HTTPS://X.example.com")["url"] == "https://x.example.com/"
        assert emu.api("GET", "/webhook").json()["total"] == "1"
        emu.quirks(total_as_string=False)
        emu.reset()  # back to the quirks given at start
        assert emu.quirks()["total_as_string"] is True
        for body in ({"nope": True}, {"omit_total": "yes"}):
            resp = requests.post(f"{emu.url}/_admin/quirks", json=body, timeout=5)
            assert resp.status_code == 422 and "quirks" in resp.json()["details"], body
        assert requests.post(f"{emu.url}/_admin/quirks", data=b"[]", timeout=5).status_code == 400


def test_remaining_credits_is_the_route_that_says_what_it_sets_and_the_old_name_still_works(emu: Emulator) -> None:
    assert emu.remaining_credits() == {"remaining": None, "run_cost": 1, "used": 0, "limit_reached": False}
    assert emu.set_remaining_credits(1) == {"remaining": 1, "run_cost": 1, "used": 0, "limit_reached": False}
    assert start(emu).status_code == 200
    assert start(emu).json()["errorCode"] == "WORKFLOW_CREDIT_LIMIT_REACHED"
    assert emu.remaining_credits() == {"remaining": 0, "run_cost": 1, "used": 1, "limit_reached": True}
    assert emu.credits() == {"credits": 0, "run_cost": 1, "used": 1, "limit_reached": True}  # the same, by its old name
    assert emu.set_credits(2)["credits"] == 2 and emu.remaining_credits()["remaining"] == 2
    bad = requests.post(f"{emu.url}/_admin/remaining-credits", json={"remaining": -1}, timeout=5)
    assert bad.status_code == 422 and bad.json()["details"] == {"remaining": "remaining must be a number >= 0 or null"}
    emu.set_remaining_credits(None)
    assert start(emu).status_code == 200
