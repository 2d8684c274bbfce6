"""CopyAIClient against the emulator: calls made, retries, ambiguous POSTs, precise errors."""

from __future__ import annotations

import socket
import time

import pytest

from pulumi_copyai.client import (
    CopyAIAuthError,
    CopyAIClient,
    CopyAIConfigError,
    CopyAIConnectionError,
    CopyAINotFoundError,
    CopyAIRateLimitError,
    CopyAIResponseError,
    CopyAIServerError,
    CopyAIValidationError,
    Webhook,
)
from pulumi_copyai.emulator.testing import Emulator
from tests.conftest import API_KEY

URL = "https://hooks.example.com/copyai"


def client_for(emu: Emulator, **kwargs: float) -> CopyAIClient:
    return CopyAIClient(API_KEY, emu.base_url, backoff=0.01, **kwargs)  # type: ignore[arg-type]


def test_crud_one_call_each(emu: Emulator) -> None:
    client = client_for(emu)
    hook = client.create_webhook(URL, "workflowRun.completed", "WCFG-1")
    assert hook == Webhook(hook.id, URL, "workflowRun.completed", "WCFG-1")
    assert client.get_webhook(hook.id) == hook
    assert client.delete_webhook(hook.id) is True
    assert client.delete_webhook(hook.id) is False  # 404: already gone
    with pytest.raises(CopyAINotFoundError) as err:
        client.get_webhook(hook.id)
    assert err.value.status == 404 and err.value.error_code == "NOT_FOUND"
    assert [(r["method"], r["status"]) for r in emu.requests()] == [
        ("POST", 200), ("GET", 200), ("DELETE", 200), ("DELETE", 404), ("GET", 404)]


def test_iter_and_find_walk_every_page(emu: Emulator) -> None:
    client = client_for(emu)
    made = [client.register_webhook(f"{URL}/{i}", "workflowRun.started") for i in range(25)]
    assert [h.id for h in client.iter_webhooks(size=10)] == [h.id for h in made]
    assert [q for r in emu.requests("GET") for q in [r["query"]]] == [
        "page=0&size=10", "page=1&size=10", "page=2&size=10"]
    assert client.find_webhooks(f"{URL}/7", "workflowRun.started", "") == [made[7]]
    assert client.find_webhooks(f"{URL}/7", "workflowRun.failed") == []


def test_get_and_delete_retry_429_and_5xx(emu: Emulator) -> None:
    client = client_for(emu)
    hook = client.register_webhook(URL, "workflowRun.failed")
    emu.arm("status", status=503, count=2, methods=["GET"])
    emu.arm("status", status=429, retry_after=1, count=1, methods=["DELETE"])
    assert client.get_webhook(hook.id) == hook
    started = time.monotonic()
    assert client.delete_webhook(hook.id) is True
    assert time.monotonic() - started >= 1.0  # honoured Retry-After
    assert [(r["method"], r["status"]) for r in emu.requests()][1:] == [
        ("GET", 503), ("GET", 503), ("GET", 200), ("DELETE", 429), ("DELETE", 200)]


def test_retries_are_bounded_and_the_error_is_precise(emu: Emulator) -> None:
    client = CopyAIClient(API_KEY, emu.base_url, backoff=0.01, retries=2)
    emu.arm("status", status=500, count=10, methods=["GET"])
    with pytest.raises(CopyAIServerError) as err:
        client.get_webhook("abc")
    assert err.value.status == 500 and err.value.error_code == "INTERNAL_SERVER_ERROR"
    assert "get webhook failed: HTTP 500" in str(err.value)
    assert len(emu.requests("GET")) == 3


def test_post_retries_429_but_never_replays_a_5xx(emu: Emulator) -> None:
    client = client_for(emu)
    emu.arm("status", status=429, count=2, methods=["POST"])
    assert client.register_webhook(URL, "workflowRun.completed").url == URL
    assert [r["status"] for r in emu.requests("POST")] == [429, 429, 200]
    emu.clear_requests()
    emu.arm("status", status=503, count=1, methods=["POST"])
    with pytest.raises(CopyAIServerError) as err:
        client.register_webhook(URL, "workflowRun.failed")
    assert err.value.ambiguous and len(emu.requests("POST")) == 1


def test_create_after_a_dropped_answer_adopts_instead_of_duplicating(emu: Emulator) -> None:
    client = client_for(emu)
    emu.arm("drop_after_commit", count=1, methods=["POST"])
    hook = client.create_webhook(URL, "workflowRun.completed", "WCFG-9")
    assert [h["id"] for h in emu.webhooks()] == [hook.id]
    assert len(emu.requests("POST")) == 1  # found through the list, not registered twice
    assert emu.requests("GET")[0]["query"] == "page=0&size=100"


def test_create_after_an_unapplied_5xx_registers_once(emu: Emulator) -> None:
    client = client_for(emu)
    emu.arm("status", status=503, count=1, methods=["POST"])
    hook = client.create_webhook(URL, "workflowRun.completed")
    assert [h["id"] for h in emu.webhooks()] == [hook.id]
    assert [r["status"] for r in emu.requests("POST")] == [503, 200]


def test_create_after_a_read_timeout_adopts(emu: Emulator) -> None:
    client = CopyAIClient(API_KEY, emu.base_url, backoff=0.3, timeout=0.5)
    emu.arm("latency", seconds=0.8, count=1, methods=["POST"])  # applied after the client gave up
    hook = client.create_webhook(URL, "workflowRun.started")
    assert [h["id"] for h in emu.webhooks()] == [hook.id]
    assert len(emu.requests("POST")) == 1


def test_errors_name_operation_status_code_and_details(emu: Emulator) -> None:
    with pytest.raises(CopyAIAuthError) as auth:
        CopyAIClient("wrong-key", emu.base_url).list_webhooks()
    assert auth.value.status == 401 and "wrong-key" not in str(auth.value) and "copyai:apiKey" in str(auth.value)
    with pytest.raises(CopyAIValidationError) as bad:
        client_for(emu).register_webhook("not a url", "nope")
    text = str(bad.value)
    assert "register webhook failed: HTTP 422 VALIDATION_ERROR" in text and "url:" in text and "eventType:" in text
    emu.arm("status", status=429, count=10, methods=["POST"])
    with pytest.raises(CopyAIRateLimitError):
        CopyAIClient(API_KEY, emu.base_url, backoff=0.01, retries=1).register_webhook(URL, "workflowRun.started")


@pytest.mark.parametrize(("mode", "extra"), [("non_json", {}), ("oversized", {"size": 2_000_000})])
def test_bodies_that_are_not_the_contract_are_refused(emu: Emulator, mode: str, extra: dict[str, int]) -> None:
    emu.arm(mode, count=1, **extra)
    with pytest.raises(CopyAIResponseError) as err:
        client_for(emu).list_webhooks()
    assert "list webhooks" in str(err.value)


def test_total_as_string_and_null_workflow_are_accepted(emu: Emulator) -> None:
    client = client_for(emu)
    client.register_webhook(URL, "workflowRun.started")
    body = {"total": "1", "data": [{"id": "a", "url": URL, "eventType": "workflowRun.started", "workflowId": None}]}
    client._request = lambda *a, **k: (200, body)  # type: ignore[method-assign]
    assert client.list_webhooks() == (1, [Webhook("a", URL, "workflowRun.started", None)])


def test_unreachable_base_url_and_bad_config() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = CopyAIClient(API_KEY, f"http://127.0.0.1:{port}/api", backoff=0.01, retries=1)
    with pytest.raises(CopyAIConnectionError) as err:
        client.register_webhook(URL, "workflowRun.started")
    assert "could not connect" in str(err.value) and not err.value.ambiguous
    with pytest.raises(CopyAIConfigError, match="no API key"):
        CopyAIClient(None, "https://api.copy.ai/api")
    with pytest.raises(CopyAIConfigError, match="copyai:baseUrl must be an absolute"):
        CopyAIClient(API_KEY, "api.copy.ai")
    assert API_KEY not in repr(client)
