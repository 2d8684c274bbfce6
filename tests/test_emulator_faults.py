"""The emulator's service-level faults over real HTTP and raw sockets: outages (503, or connections reset
unanswered), per-key rate limits with Retry-After, drop_after_commit sending no byte, restarts on the
same port and database, and the fault JSON's validation."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from pulumi_copyai.emulator.faults import format_retry_after
from pulumi_copyai.emulator.testing import Emulator
from tests.conftest import API_KEY

OTHER_KEY = "other-key-5a4b3c"
HOOK = {"url": "https://hooks.example.com/copyai", "eventType": "workflowRun.completed"}
RETRY_AFTER = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """This module's emulator accepts two keys (rate limits are per key)."""
    with Emulator(api_key=API_KEY, extra_args=["--api-key", OTHER_KEY]) as emu:
        yield emu


def raw_exchange(emu: Emulator, method: str, path: str, body: bytes = b"") -> tuple[bytes, str]:
    """Send one request on a fresh TCP connection; (every byte answered, how the connection ended)."""
    head = (f"{method} /api{path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-copy-ai-api-key: {API_KEY}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n").encode()
    received = b""
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        try:
            sock.sendall(head + body)
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            return received, "reset"
        except TimeoutError:
            return received, "open"
    return received, "closed"


def register(emu: Emulator, key: str = API_KEY, **fields: Any) -> requests.Response:
    return emu.api("POST", "/webhook", json={**HOOK, **fields}, headers={"x-copy-ai-api-key": key})


# -- outage ---------------------------------------------------------------------------------------
def test_an_outage_answers_503_for_its_seconds(emu: Emulator) -> None:
    emu.arm("outage", seconds=1.0, retry_after=2)
    armed = time.monotonic()
    for method, path in (("GET", "/webhook"), ("POST", "/webhook"), ("DELETE", "/webhook/x"),
                         ("POST", "/workflow/WCFG-1/run"), ("GET", "/nowhere")):
        resp = emu.api(method, path, json=HOOK)
        assert resp.status_code == 503, (method, path)
        assert resp.json() == {"status": "error", "errorCode": "SERVICE_UNAVAILABLE"}
        assert resp.headers["retry-after"] == "2"
    (fault,) = emu.admin("GET", "/faults")["faults"]  # the admin routes keep working
    assert fault["mode"] == "outage" and 0 < fault["remaining_seconds"] <= 1.0 and fault["hits"] == 5
    assert [r["fault"] for r in emu.requests()] == ["outage"] * 5
    while time.monotonic() - armed < 1.05:
        time.sleep(0.05)
    assert emu.api("GET", "/webhook").json() == {"total": 0, "data": []}  # over, and nothing was applied
    assert emu.admin("GET", "/faults") == {"faults": []}


def test_an_outage_can_be_limited_to_methods_and_disarmed(emu: Emulator) -> None:
    emu.arm("outage", seconds=30, methods=["POST"])
    assert register(emu).status_code == 503
    assert "retry-after" not in register(emu).headers
    assert emu.api("GET", "/webhook").status_code == 200
    emu.disarm()
    assert register(emu).status_code == 200


def test_a_refusing_outage_resets_connections_without_an_answer(emu: Emulator) -> None:
    emu.arm("outage", seconds=30, refuse=True)
    body = b'{"url": "https://hooks.example.com/x", "eventType": "workflowRun.started"}'
    for _ in range(3):
        assert raw_exchange(emu, "POST", "/webhook", body) == (b"", "reset")
    with pytest.raises(requests.ConnectionError):  # one plain GET: the helpers' session resends GETs
        requests.get(f"{emu.base_url}/webhook", headers={"x-copy-ai-api-key": emu.api_key}, timeout=10)
    with pytest.raises(requests.ConnectionError):
        register(emu)
    assert [(r["method"], r["status"], r["fault"]) for r in emu.requests()] == [
        *[("POST", None, "outage")] * 3, ("GET", None, "outage"), ("POST", None, "outage")]
    emu.disarm()
    assert emu.webhooks() == []  # nothing reached the API
    assert register(emu).status_code == 200


# -- rate limit -----------------------------------------------------------------------------------
def test_a_rate_limit_is_a_token_bucket_per_key(emu: Emulator) -> None:
    emu.arm("rate_limit", rate=2, burst=3)
    assert [register(emu).status_code for _ in range(3)] == [200, 200, 200]  # the burst
    limited = register(emu)
    assert limited.status_code == 429 and limited.json() == {"status": "error", "errorCode": "RATE_LIMITED"}
    retry_after = limited.headers["retry-after"]
    assert RETRY_AFTER.match(retry_after) and 0.3 <= float(retry_after) <= 0.5, retry_after
    assert emu.api("GET", "/webhook", headers={"x-copy-ai-api-key": OTHER_KEY}).status_code == 200  # own bucket
    assert emu.api("GET", "/webhook").status_code == 429  # this key's bucket is still empty
    emu.disarm()
    assert len(emu.webhooks()) == 3  # the refused POST registered nothing


def test_retry_after_is_when_a_token_is_back(emu: Emulator) -> None:
    emu.arm("rate_limit", rate=4, burst=1)
    key = {"x-copy-ai-api-key": OTHER_KEY}
    assert emu.api("GET", "/webhook", headers=key).status_code == 200
    limited = emu.api("GET", "/webhook", headers=key)
    assert limited.status_code == 429
    time.sleep(float(limited.headers["retry-after"]))
    assert emu.api("GET", "/webhook", headers=key).status_code == 200  # waiting as told is enough
    statuses = []
    began = time.monotonic()
    while time.monotonic() - began < 1.0:  # a steady 4 per second get through, the rest is refused
        statuses.append(emu.api("GET", "/webhook", headers=key).status_code)
        time.sleep(0.02)
    assert 3 <= statuses.count(200) <= 5 and statuses.count(429) == len(statuses) - statuses.count(200)
    assert {r["fault"] for r in emu.requests() if r["status"] == 429} == {"rate_limit"}


def test_retry_after_in_whole_seconds(emu: Emulator) -> None:
    emu.arm("rate_limit", rate=0.5, retry_after_format="integer")  # burst: at least 1
    assert emu.api("GET", "/webhook").status_code == 200
    limited = emu.api("GET", "/webhook")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    emu.reset()  # reset disarms it
    assert [emu.api("GET", "/webhook").status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize(("seconds", "fractional", "integer"), [
    (0.349, "0.35", "1"), (0.35, "0.35", "1"), (1.0, "1", "1"), (2.5, "2.5", "3"), (0.0001, "0.01", "1"),
    (2.001, "2.01", "3"), (0.1, "0.1", "1"),
])
def test_retry_after_format(seconds: float, fractional: str, integer: str) -> None:
    assert format_retry_after(seconds) == fractional
    assert format_retry_after(seconds, "integer") == integer


# -- drop_after_commit, restarts --------------------------------------------------------------------
def test_drop_after_commit_applies_then_closes_without_a_byte(emu: Emulator) -> None:
    emu.arm("drop_after_commit", count=2, methods=["POST"])
    body = b'{"url": "https://hooks.example.com/dropped", "eventType": "workflowRun.failed"}'
    data, ending = raw_exchange(emu, "POST", "/webhook", body)
    assert data == b"" and ending in ("closed", "reset")
    with pytest.raises(requests.ConnectionError):
        emu.api("POST", "/workflow/WCFG-1/run", json={})
    assert [h["url"] for h in emu.webhooks()] == ["https://hooks.example.com/dropped"]
    assert len(emu.runs("WCFG-1")) == 1  # applied too
    assert [(r["status"], r["fault"]) for r in emu.requests("POST")] == [(None, "drop_after_commit")] * 2
    assert not [line for line in emu.output if "Traceback" in line or "ASGI callable" in line]


def test_restart_keeps_the_port_and_the_database(tmp_path: Path) -> None:
    with Emulator(api_key=API_KEY, db=str(tmp_path / "copyai.sqlite")) as emu:
        kept = register(emu).json()["data"]
        port, base_url = emu.port, emu.base_url
        refused: list[BaseException] = []

        def during_downtime() -> None:
            time.sleep(0.3)
            try:
                requests.get(f"{base_url}/webhook", timeout=2)
            except requests.ConnectionError as exc:
                refused.append(exc)

        prober = threading.Thread(target=during_downtime)
        prober.start()
        emu.restart(downtime=0.8, kill=True)  # SIGKILL, as a crash
        prober.join()
        assert refused and "refused" in str(refused[0]).lower()
        assert emu.port == port and emu.base_url == base_url and emu.running
        assert emu.webhooks() == [{**kept, "workflowId": None}]
        emu.restart()
        assert emu.webhooks() == [{**kept, "workflowId": None}] and emu.port == port


# -- per-request faults: after, status, latency, late_answer, answer, redirect, ignore_page --------------
def test_after_lets_matching_requests_through_then_fires_count_times(emu: Emulator) -> None:
    emu.arm("status", status=503, methods=["POST"], after=1, count=2)
    statuses = []
    for i in range(4):
        statuses.append(register(emu, url=f"https://hooks.example.com/{i}").status_code)
        assert emu.api("GET", "/webhook").status_code == 200  # a GET does not match: not counted
    assert statuses == [200, 503, 503, 200]
    assert [h["url"].rsplit("/", 1)[-1] for h in emu.webhooks()] == ["0", "3"]  # the 503s applied nothing
    assert [r["fault"] for r in emu.requests("POST")] == [None, "status", "status", None]
    assert emu.admin("GET", "/faults")["faults"][0] | {"after": 0, "count": 0, "hits": 2} \
        == emu.admin("GET", "/faults")["faults"][0]  # both spent, and it fired twice


def test_after_counts_a_request_another_fault_answered(emu: Emulator) -> None:
    # "the second POST" is the second POST, whatever answered the first
    emu.arm("status", status=429, methods=["POST"])
    emu.arm("status", status=500, methods=["POST"], after=1)
    assert [register(emu).status_code for _ in range(3)] == [429, 500, 200]


def test_status_answers_a_post_without_applying_it(emu: Emulator) -> None:
    emu.arm("status", status=500, methods=["POST"])
    resp = register(emu)
    assert resp.status_code == 500 and resp.json() == {"status": "error", "errorCode": "INTERNAL_SERVER_ERROR"}
    assert emu.webhooks() == []


def _post_in_thread(emu: Emulator, timeout: float) -> tuple[threading.Thread, list[Any]]:
    """POST the HOOK from a thread with a read timeout; the outcome (a Response or an exception) lands in the list."""
    outcome: list[Any] = []

    def post() -> None:
        try:
            outcome.append(requests.post(f"{emu.base_url}/webhook", json=HOOK, timeout=(5, timeout),
                                         headers={"x-copy-ai-api-key": API_KEY}))
        except requests.RequestException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=post)
    thread.start()
    return thread, outcome


def test_latency_holds_a_post_back_before_it_is_applied(emu: Emulator) -> None:
    emu.arm("latency", seconds=1.0, methods=["POST"])
    started = time.monotonic()
    thread, outcome = _post_in_thread(emu, timeout=0.3)
    thread.join()
    assert isinstance(outcome[0], requests.Timeout)
    assert emu.webhooks() == []  # not yet applied
    while not emu.webhooks():
        assert time.monotonic() - started < 5
        time.sleep(0.05)
    assert time.monotonic() - started >= 1.0  # applied once the latency was over


def test_late_answer_applies_the_post_at_once_and_answers_later(emu: Emulator) -> None:
    emu.arm("late_answer", seconds=1.0, methods=["POST"], after=1)
    assert register(emu).status_code == 200  # the first POST: untouched
    thread, impatient = _post_in_thread(emu, timeout=0.3)
    thread.join()
    assert isinstance(impatient[0], requests.Timeout)
    assert len(emu.webhooks()) == 2  # applied although no answer came
    emu.arm("late_answer", seconds=0.6, methods=["POST"])
    started = time.monotonic()
    thread, patient = _post_in_thread(emu, timeout=5)
    while len(emu.webhooks()) < 3:
        assert time.monotonic() - started < 0.5, "not applied before the answer"
        time.sleep(0.02)
    thread.join()
    assert time.monotonic() - started >= 0.6
    answer = patient[0]
    assert answer.status_code == 200 and answer.json()["data"]["id"] == emu.webhooks()[2]["id"]
    time.sleep(0.5)  # the impatient client's late answer has been sent (into a closed connection) by now
    assert [(r["status"], r["fault"]) for r in emu.requests("POST")] == [
        (200, None), (200, "late_answer"), (200, "late_answer")]
    assert not [line for line in emu.output if "Traceback" in line or "ASGI callable" in line]


@pytest.mark.parametrize("commit", [False, True])
def test_answer_sends_the_given_json_and_applies_only_with_commit(emu: Emulator, commit: bool) -> None:
    body = {"status": "error", "errorCode": "INTERNAL", "details": {"url": HOOK["url"]}}
    emu.arm("answer", body=body, methods=["POST"], commit=commit)
    resp = register(emu)
    assert resp.status_code == 200 and resp.json() == body
    assert len(emu.webhooks()) == (1 if commit else 0)
    emu.arm("answer", status=202, body=[1, "two"])
    resp = emu.api("DELETE", "/webhook/nope")
    assert resp.status_code == 202 and resp.json() == [1, "two"]


@pytest.mark.parametrize("status", [301, 307, 308])
def test_redirect_points_at_the_location_with_the_same_path_and_applies_nothing(emu: Emulator, status: int) -> None:
    emu.arm("redirect", status=status, location="http://127.0.0.1:9/base/", count=2)
    resp = emu.api("POST", "/webhook", json=HOOK, allow_redirects=False)
    assert resp.status_code == status and resp.content == b""
    assert resp.headers["location"] == "http://127.0.0.1:9/base/api/webhook"
    resp = emu.api("GET", "/webhook", params={"page": 2, "size": 5}, allow_redirects=False)
    assert resp.headers["location"] == "http://127.0.0.1:9/base/api/webhook?page=2&size=5"
    assert emu.webhooks() == []
    assert emu.arm("redirect", location="https://elsewhere.example")[-1]["status"] == 307  # the default


def test_the_request_log_says_whether_a_key_came(emu: Emulator) -> None:
    emu.api("GET", "/webhook")
    requests.get(f"{emu.base_url}/webhook", timeout=5)  # no key: 401
    assert [(r["status"], r["with_key"]) for r in emu.requests()] == [(200, True), (401, False)]


def test_ignore_page_answers_the_first_page_whatever_page_asks(emu: Emulator) -> None:
    ids = [register(emu, url=f"https://hooks.example.com/{i}").json()["data"]["id"] for i in range(5)]
    emu.arm("ignore_page", probability=1.0, methods=["GET"])
    for page in (0, 1, 7):
        body = emu.api("GET", "/webhook", params={"page": page, "size": 2}).json()
        assert [h["id"] for h in body["data"]] == ids[:2] and body["total"] == 5
    emu.quirks(omit_total=True)
    assert emu.api("GET", "/webhook", params={"page": 1, "size": 2}).json() == {
        "data": emu.api("GET", "/webhook", params={"page": 0, "size": 2}).json()["data"]}
    assert [r["query"] for r in emu.requests("GET")][1:3] == ["page=1&size=2", "page=7&size=2"]  # as sent
    ids += [register(emu, url=f"https://hooks.example.com/{i}").json()["data"]["id"] for i in range(5, 101)]
    assert [h["id"] for h in emu.webhooks()] == ids[:100]  # the helper ends: page 1 brought nothing new
    emu.disarm()
    assert [h["id"] for h in emu.webhooks()] == ids


# -- the fault JSON ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("fault", "message"), [
    ({"mode": "outage"}, "seconds > 0"),
    ({"mode": "outage", "seconds": "5"}, "seconds must be a number"),
    ({"mode": "outage", "seconds": 5, "refuse": "yes"}, "refuse must be true or false"),
    ({"mode": "rate_limit"}, "rate > 0"),
    ({"mode": "rate_limit", "rate": 1, "burst": 0.5}, "burst must be >= 1"),
    ({"mode": "rate_limit", "rate": 1, "retry_after_format": "http-date"}, "retry_after_format must be one of"),
    ({"mode": "status", "count": "2"}, "count must be an integer"),
    ({"mode": "status", "status": 99}, "status must be an HTTP status code"),
    ({"mode": "latency", "seconds": 1, "methods": "POST"}, "methods must be a list"),
    ({"mode": "status", "probability": 2}, "probability must be within 0..1"),
    ({"mode": "status", "afer": 1}, "unknown field(s) afer"),
    ({"mode": "status", "after": -1}, "after must be an integer >= 0"),
    ({"mode": "status", "after": True}, "after must be an integer >= 0"),
    ({"mode": "outage", "seconds": 5, "after": 2}, "after applies to per-request modes"),
    ({"mode": "late_answer"}, "seconds > 0"),
    ({"mode": "answer"}, "an answer needs body"),
    ({"mode": "answer", "body": {}, "commit": "yes"}, "commit must be true or false"),
    ({"mode": "redirect"}, "a redirect needs location"),
    ({"mode": "redirect", "location": "elsewhere.example/api"}, "a redirect needs location"),
    ({"mode": "redirect", "location": "https://elsewhere.example", "status": 404}, "a redirect's status"),
])
def test_bad_faults_are_refused(emu: Emulator, fault: dict[str, Any], message: str) -> None:
    resp = requests.post(f"{emu.url}/_admin/faults", json=fault, timeout=5)
    assert resp.status_code == 422 and message in resp.json()["details"]["fault"], resp.text
    assert emu.admin("GET", "/faults") == {"faults": []}


def test_armed_faults_are_listed_with_their_settings(emu: Emulator) -> None:
    emu.arm("rate_limit", rate=5)
    emu.arm("status", status=429, retry_after=1, count=2, methods=["post"])
    listed = emu.admin("GET", "/faults")["faults"]
    assert [(f["mode"], f["rate"], f["burst"], f["count"]) for f in listed] == [("rate_limit", 5, 5, None),
                                                                                ("status", 0.0, None, 2)]
    assert listed[1]["methods"] == ["POST"] and listed[1]["retry_after"] == 1
