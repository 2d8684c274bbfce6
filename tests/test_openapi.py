"""The emulator's OpenAPI description against what it serves: schemathesis generates requests for every
operation (valid and invalid ones) and checks each answer's status code, content type, headers and body
against the description, that the key is enforced, that invalid input is rejected and valid input is
accepted. A route whose answers drift from `openapi.py` fails here.

Run twice: with the default answers, and with the quirks that change the list answers on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from pulumi_copyai.emulator import openapi
from pulumi_copyai.emulator.quirks import Quirks
from pulumi_copyai.emulator.testing import Emulator
from tests.conftest import API_KEY

#: Examples per operation and phase (the coverage phase adds its own boundary cases): keeps the
#: whole file well under a minute on 2 cores.
MAX_EXAMPLES = 40
STATEFUL_EXAMPLES = 25
QUIRKS: dict[str, dict[str, bool]] = {"plain": {}, "quirky": {"total_as_string": True, "normalize_urls": True}}


def _config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "auth": {"openapi": {"apiKey": {"api_key": API_KEY}}},
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none", "deterministic": True},
    })


# The schemas are built in-process by the very function behind GET /openapi.json (and
# test_the_served_description_is_the_tested_one checks that the server serves exactly that):
# schemathesis's lazy `from_fixture` loader, which could load it from a running emulator, does not
# work with pytest 9 (it sets `Node._nodeid`, which pytest 9 no longer has).
PLAIN = schemathesis.openapi.from_dict(openapi.build_openapi(Quirks(**QUIRKS["plain"])), config=_config())
QUIRKY = schemathesis.openapi.from_dict(openapi.build_openapi(Quirks(**QUIRKS["quirky"])), config=_config())


@pytest.fixture(scope="module", params=list(QUIRKS))
def spec_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY, run_seconds=0.05, quirks=QUIRKS[request.param]) as emu:
        yield emu


@pytest.fixture(scope="module")
def plain_emulator() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY, run_seconds=0.05) as emu:
        yield emu


@pytest.fixture(scope="module")
def quirky_emulator() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY, run_seconds=0.05, quirks=QUIRKS["quirky"]) as emu:
        yield emu


@PLAIN.parametrize()
def test_every_operation_answers_as_described(case: Any, plain_emulator: Emulator) -> None:
    case.call_and_validate(base_url=plain_emulator.base_url)


@QUIRKY.parametrize()
def test_every_operation_answers_as_described_with_quirks(case: Any, quirky_emulator: Emulator) -> None:
    case.call_and_validate(base_url=quirky_emulator.base_url)


@pytest.mark.parametrize("quirky", [False, True], ids=["plain", "quirky"])
def test_sequences_follow_the_links(quirky: bool, plain_emulator: Emulator, quirky_emulator: Emulator) -> None:
    """Register then get/delete the webhook, start then poll/list the run: the answers about things
    that exist (202 on delete, a run's shape) are only reached this way."""
    emu = quirky_emulator if quirky else plain_emulator

    class Sequences(QUIRKY.as_state_machine() if quirky else PLAIN.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": emu.base_url}

    Sequences.run(settings=hypothesis.settings(max_examples=STATEFUL_EXAMPLES, stateful_step_count=6,
                                               deadline=None, database=None, derandomize=True))
    assert emu.requests("DELETE") and any(r["status"] == 202 for r in emu.requests("DELETE"))


@pytest.mark.parametrize("quirky", [False, True], ids=["plain", "quirky"])
def test_every_documented_answer_is_as_described(quirky: bool, plain_emulator: Emulator,
                                                 quirky_emulator: Emulator) -> None:
    """Each documented status of each operation, reached on purpose (things that exist, runs in each
    state, credits, rate limit, outage) and checked by schemathesis against the description."""
    emu, schema = (quirky_emulator, QUIRKY) if quirky else (plain_emulator, PLAIN)
    key = {"x-copy-ai-api-key": API_KEY}

    def call(method: str, path: str, status: int, headers: dict[str, str] | None = None, **case: Any) -> Any:
        excluded: list[Any] = [not_a_server_error] if status >= 500 else []  # a documented 503 is the point here
        resp = schema[path][method].Case(headers=headers or key, **case).call_and_validate(
            base_url=emu.base_url, excluded_checks=excluded)
        assert resp.status_code == status, (method, path, case, resp.text)
        return resp.json()

    emu.reset()
    hook = {"url": "HTTPS://Hooks.Example.com:443", "eventType": "workflowRun.completed", "workflowId": "WCFG-1"}
    webhook_id = call("POST", "/webhook", 200, body=hook)["data"]["id"]
    call("POST", "/webhook", 200, body={**hook, "workflowId": None})
    call("POST", "/webhook", 422, body={"url": "ftp://x", "eventType": "nope"})
    call("POST", "/webhook", 400, body=[1])
    call("POST", "/webhook", 401, headers={"x-copy-ai-api-key": "wrong"}, body=hook)
    call("GET", "/webhook", 200)
    call("GET", "/webhook", 200, query={"page": 1, "size": 1})
    assert call("GET", "/webhook", 400, query={"size": "ten"}) == {}
    call("GET", "/webhook", 422, query={"size": 0})
    call("GET", "/webhook/{webhook_id}", 200, path_parameters={"webhook_id": webhook_id})
    call("GET", "/webhook/{webhook_id}", 404, path_parameters={"webhook_id": "nope"})

    runs = {outcome: call("POST", "/workflow/{workflow_id}/run", 200, path_parameters={"workflow_id": workflow},
                          body={"startVariables": {"emulatorOutcome": outcome}, **extra})["data"]["id"]
            for outcome, workflow, extra in (("completed", "WCFG-1", {"metadata": {"t": 1}}),
                                             ("failed", "PKGW-1", {}))}
    call("GET", "/workflow/{workflow_id}/run/{run_id}", 200,
         path_parameters={"workflow_id": "WCFG-1", "run_id": runs["completed"]})  # PROCESSING, no output
    call("POST", "/workflow/{workflow_id}/run", 422, path_parameters={"workflow_id": "WCFG-1"},
         body={"startVariables": []})
    call("POST", "/workflow/{workflow_id}/run", 400, path_parameters={"workflow_id": "WCFG-1"}, body="x")
    call("POST", "/workflow/{workflow_id}/run", 404, path_parameters={"workflow_id": "nope"}, body={})
    time.sleep(0.3)  # both runs finish
    for workflow, run_id in (("WCFG-1", runs["completed"]), ("PKGW-1", runs["failed"])):
        call("GET", "/workflow/{workflow_id}/run/{run_id}", 200,
             path_parameters={"workflow_id": workflow, "run_id": run_id})
    call("GET", "/workflow/{workflow_id}/run/{run_id}", 404, path_parameters={"workflow_id": "WCFG-1", "run_id": "x"})
    for path in ("/workflow/{workflow_id}/run/", "/workflow/{workflow_id}/run"):
        call("GET", path, 200, path_parameters={"workflow_id": "WCFG-1"})
        call("GET", path, 400, path_parameters={"workflow_id": "WCFG-1"}, query={"page": "x"})
        call("GET", path, 422, path_parameters={"workflow_id": "WCFG-1"}, query={"size": 101})
        call("GET", path, 404, path_parameters={"workflow_id": "nope"})

    emu.set_credits(0)
    call("POST", "/workflow/{workflow_id}/run", 400, path_parameters={"workflow_id": "WCFG-1"}, body={})
    emu.arm("rate_limit", rate=1, burst=1)
    call("GET", "/webhook", 200)
    call("GET", "/webhook", 429)
    emu.disarm()
    emu.arm("outage", seconds=30)
    call("DELETE", "/webhook/{webhook_id}", 503, path_parameters={"webhook_id": webhook_id})
    emu.disarm()
    assert call("DELETE", "/webhook/{webhook_id}", 202, path_parameters={"webhook_id": webhook_id}) == {}
    call("DELETE", "/webhook/{webhook_id}", 404, path_parameters={"webhook_id": webhook_id})
    emu.reset()


def test_the_served_description_is_the_tested_one(spec_emulator: Emulator) -> None:
    quirks = Quirks(**spec_emulator.quirks())
    assert spec_emulator.openapi() == openapi.build_openapi(quirks, server_url=spec_emulator.base_url)


def test_the_description_lists_exactly_the_served_routes(spec_emulator: Emulator) -> None:
    doc = spec_emulator.openapi()
    assert doc["openapi"] == "3.1.0" and doc["servers"] == [{"url": spec_emulator.base_url}]
    assert doc["components"]["securitySchemes"] == {
        "apiKey": {"type": "apiKey", "in": "header", "name": "x-copy-ai-api-key"}}
    described = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert described == {(op.method, op.path) for op in openapi.OPERATIONS}
    assert described == {
        ("POST", "/webhook"), ("GET", "/webhook"), ("GET", "/webhook/{webhook_id}"),
        ("DELETE", "/webhook/{webhook_id}"), ("POST", "/workflow/{workflow_id}/run"),
        ("GET", "/workflow/{workflow_id}/run"), ("GET", "/workflow/{workflow_id}/run/"),
        ("GET", "/workflow/{workflow_id}/run/{run_id}"),
    }
    for path, item in doc["paths"].items():
        concrete = path.replace("{webhook_id}", "x").replace("{workflow_id}", "WCFG-1").replace("{run_id}", "r")
        for method, operation in item.items():
            for status in ("401", "429", "503"):
                assert status in operation["responses"], (method, path, status)
            # every described route is served (not 404/405 from routing) and needs the key
            resp = requests.request(method, f"{spec_emulator.base_url}{concrete}", timeout=10)
            assert resp.status_code == 401, (method, path)
    # and nothing else is served under /api: an undescribed method is 405, an undescribed path 404
    resp = spec_emulator.api("PUT", "/webhook/x")
    assert resp.status_code == 405 and set(resp.headers["allow"].split(", ")) == {"GET", "HEAD", "DELETE"}
    assert spec_emulator.api("GET", "/webhook/").status_code == 404
    assert spec_emulator.api("GET", "/workflows").json() == {"status": "error", "errorCode": "NOT_FOUND"}


def test_the_description_follows_the_quirks(spec_emulator: Emulator) -> None:
    page = spec_emulator.openapi()["components"]["schemas"]["WebhookPage"]
    quirks = spec_emulator.quirks()
    assert page["properties"]["total"]["type"] == ("string" if quirks["total_as_string"] else "integer")
    spec_emulator.quirks(omit_total=True)
    try:
        page = spec_emulator.openapi()["components"]["schemas"]["WebhookPage"]
        assert "total" not in page["properties"] and page["required"] == ["data"]
    finally:
        spec_emulator.reset()
    assert spec_emulator.quirks() == {"total_as_string": False, "omit_total": False, "normalize_urls": False,
                                      **QUIRKS["quirky" if quirks["total_as_string"] else "plain"]}


def test_openapi_needs_no_key(spec_emulator: Emulator) -> None:
    resp = requests.get(f"{spec_emulator.url}/openapi.json", timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
