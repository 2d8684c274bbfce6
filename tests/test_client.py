"""CopyAIClient against the emulator over real HTTP: calls made, retries, the retry window, paging,
ambiguous POSTs, precise errors."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pulumi_copyai.client as client_module
from pulumi_copyai.client import (
    MAX_RETRY_AFTER,
    CopyAIAuthError,
    CopyAIClient,
    CopyAIConfigError,
    CopyAIConnectionError,
    CopyAIError,
    CopyAINotFoundError,
    CopyAIRateLimitError,
    CopyAIRedirectError,
    CopyAIResponseError,
    CopyAIServerError,
    CopyAIValidationError,
    Webhook,
    parse_retry_after,
)
from pulumi_copyai.emulator.testing import Emulator
from pulumi_copyai.ratelimit import RateGate
from tests.conftest import API_KEY

URL = "https://hooks.example.com/copyai"


def client_for(emu: Emulator, **kwargs: Any) -> CopyAIClient:
    """A client with its own rate gate (tests must not share pauses) and quick backoff."""
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("retry_window", 5.0)
    return CopyAIClient(API_KEY, emu.base_url, gate=RateGate(), **kwargs)


def register_many(emu: Emulator, n: int, prefix: str = URL) -> list[str]:
    ids = []
    for i in range(n):
        resp = emu.api("POST", "/webhook", json={"url": f"{prefix}/{i}", "eventType": "workflowRun.started"})
        ids.append(resp.json()["data"]["id"])
    return ids


def test_crud_one_call_each(emu: Emulator) -> None:
    client = client_for(emu)
    hook = client.register_webhook(URL, "workflowRun.completed", "WCFG-1")
    assert hook == Webhook(hook.id, URL, "workflowRun.completed", "WCFG-1")
    assert client.get_webhook(hook.id) == hook
    assert client.delete_webhook(hook.id) is True
    assert client.delete_webhook(hook.id) is False  # 404: already gone
    with pytest.raises(CopyAINotFoundError) as err:
        client.get_webhook(hook.id)
    assert err.value.status == 404 and err.value.error_code == "NOT_FOUND"
    assert [r["method"] for r in emu.requests()] == ["POST", "GET", "DELETE", "DELETE", "GET"]
    assert [r["status"] for r in emu.requests("DELETE")][1] == 404


# -- paging ------------------------------------------------------------------------------------
@pytest.mark.parametrize("quirk", [None, "total_as_string", "omit_total"])
def test_scan_walks_every_page_whatever_total_says(emu: Emulator, quirk: str | None) -> None:
    if quirk:
        emu.quirks(**{quirk: True})
    ids = register_many(emu, 150)
    client = client_for(emu)
    emu.clear_requests()
    listing = client.scan_webhooks()
    assert [h.id for h in listing.webhooks] == ids
    assert listing.consistent is (quirk != "omit_total")
    queries = [r["query"] for r in emu.requests("GET")]
    assert queries == ["page=0&size=100", "page=1&size=100"]  # a short page ends the scan


def test_scan_stops_at_the_reported_total_without_an_extra_page(emu: Emulator) -> None:
    register_many(emu, 200)
    emu.clear_requests()
    assert len(client_for(emu).scan_webhooks().webhooks) == 200
    assert len(emu.requests("GET")) == 2


# -- retries and the retry window ---------------------------------------------------------------
def test_get_and_delete_retry_429_and_5xx_honouring_retry_after(emu: Emulator) -> None:
    client = client_for(emu)
    hook = client.register_webhook(URL, "workflowRun.failed")
    emu.arm("status", status=503, count=2, methods=["GET"])
    emu.arm("status", status=429, retry_after=0.6, count=1, methods=["DELETE"])
    assert client.get_webhook(hook.id) == hook
    started = time.monotonic()
    assert client.delete_webhook(hook.id) is True
    assert time.monotonic() - started >= 0.6  # honoured a fractional Retry-After
    assert [(r["method"], r["status"]) for r in emu.requests()][1:] == [
        ("GET", 503), ("GET", 503), ("GET", 200), ("DELETE", 429), ("DELETE", 202)]


def test_retry_after_is_parsed_capped_and_fractional() -> None:
    assert parse_retry_after("0.35") == 0.35
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("3600") == MAX_RETRY_AFTER == 30.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    in_ten = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 10))
    assert 8.0 <= (parse_retry_after(in_ten) or 0) <= 10.0


def test_retries_stop_when_the_window_closes_and_the_error_is_precise(emu: Emulator) -> None:
    client = client_for(emu, retry_window=1.0, backoff=0.1)
    emu.arm("status", status=500, probability=1.0, methods=["GET"])
    started = time.monotonic()
    with pytest.raises(CopyAIServerError) as err:
        client.get_webhook("abc")
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2.5
    assert err.value.status == 500 and err.value.error_code == "INTERNAL_SERVER_ERROR"
    assert str(err.value).count("Copy.ai get webhook failed") == 1  # the prefix once, not nested
    assert len(emu.requests("GET")) >= 3


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


def test_a_429_pauses_every_call_of_the_process(emu: Emulator) -> None:
    gate = RateGate()
    clients = [CopyAIClient(API_KEY, emu.base_url, backoff=0.01, gate=gate) for _ in range(2)]
    hook = clients[0].register_webhook(URL, "workflowRun.completed")
    emu.arm("status", status=429, retry_after=1.0, count=1, methods=["GET"])
    times: dict[int, float] = {}

    def read(i: int) -> None:
        if i == 1:
            time.sleep(0.3)  # starts after the first one got its 429
        clients[i].get_webhook(hook.id)
        times[i] = time.monotonic()

    started = time.monotonic()
    threads = [threading.Thread(target=read, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert times[1] - started >= 1.0, "the second call waited for the first one's Retry-After"
    assert gate.throttles == 1


# -- ambiguous POSTs -------------------------------------------------------------------------
def test_error_messages_describe_shapes_never_values(emu: Emulator) -> None:
    secret_url = "https://hooks.example.com/c?token=SECRET-7f3a"
    emu.arm("garbled_after_commit", count=1, methods=["POST"])
    with pytest.raises(CopyAIResponseError) as err:
        client_for(emu).register_webhook(secret_url, "workflowRun.completed")
    text = str(err.value)
    assert "an object with status (string), result (object)" in text and err.value.ambiguous
    assert "SECRET-7f3a" not in text and "hooks.example.com/c" not in text


def test_a_post_refused_at_connect_is_retried_within_the_window(tmp_path: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = CopyAIClient(API_KEY, f"http://127.0.0.1:{port}/api", backoff=0.2, retry_window=20, gate=RateGate())
    emu = Emulator(api_key=API_KEY, port=port)
    starter = threading.Timer(1.0, emu.start)  # the API comes up while the client retries
    starter.start()
    try:
        hook = client.register_webhook(URL, "workflowRun.completed")
        starter.join()
        assert [h["id"] for h in emu.webhooks()] == [hook.id]
        assert len(emu.requests("POST")) == 1
    finally:
        starter.join()
        emu.stop()


# -- errors ------------------------------------------------------------------------------------
def test_errors_name_operation_status_code_and_details(emu: Emulator) -> None:
    with pytest.raises(CopyAIAuthError) as auth:
        CopyAIClient("wrong-key", emu.base_url, gate=RateGate()).list_webhooks()
    assert auth.value.status == 401 and "wrong-key" not in str(auth.value) and "copyai:apiKey" in str(auth.value)
    with pytest.raises(CopyAIValidationError) as bad:
        client_for(emu).register_webhook("not a url", "nope")
    text = str(bad.value)
    assert "register webhook failed: HTTP 422 VALIDATION_ERROR" in text
    assert "(details: url (string), eventType (string))" in text  # by shape: which fields, never their values
    emu.arm("status", status=429, probability=1.0, methods=["POST"])
    with pytest.raises(CopyAIRateLimitError):
        client_for(emu, retry_window=0.5).register_webhook(URL, "workflowRun.started")


@pytest.mark.parametrize(("mode", "extra"), [("non_json", {}), ("oversized", {"size": 2_000_000})])
def test_bodies_that_are_not_the_contract_are_refused(emu: Emulator, mode: str, extra: dict[str, int]) -> None:
    emu.arm(mode, count=1, **extra)
    with pytest.raises(CopyAIResponseError) as err:
        client_for(emu).list_webhooks()
    assert "list webhooks" in str(err.value)


def test_unreachable_base_url_and_bad_config() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = CopyAIClient(API_KEY, f"http://127.0.0.1:{port}/api", backoff=0.01, retry_window=0.3, gate=RateGate())
    with pytest.raises(CopyAIConnectionError) as err:
        client.register_webhook(URL, "workflowRun.started")
    assert "could not connect" in str(err.value) and not err.value.ambiguous
    with pytest.raises(CopyAIConfigError, match="no API key"):
        CopyAIClient(None, "https://api.copy.ai/api")
    with pytest.raises(CopyAIConfigError, match="copyai:baseUrl must be an absolute"):
        CopyAIClient(API_KEY, "api.copy.ai")
    assert API_KEY not in repr(client)


def test_documented_variants_delete_202_empty_object_and_400_empty_error_body(emu: Emulator) -> None:
    client = client_for(emu)
    hook = client.register_webhook(URL, "workflowRun.failed")
    resp = emu.api("GET", f"/webhook/{hook.id}")
    assert resp.status_code == 200
    assert client.delete_webhook(hook.id) is True
    (delete,) = emu.requests("DELETE")
    assert delete["status"] == 202  # the reference's answer: 202 with {} and no status field
    with pytest.raises(CopyAIValidationError) as err:
        client.list_webhooks(page="x")  # type: ignore[arg-type]  # the list's 400 comes as {}
    assert err.value.status == 400 and err.value.error_code is None
    assert str(err.value).startswith("Copy.ai list webhooks failed: HTTP 400: GET ")


def test_a_host_that_does_not_resolve_fails_soon_and_says_to_check_the_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pulumi_copyai.client as client_module

    monkeypatch.setattr(client_module, "UNRESOLVED_RETRY_SECONDS", 1.0)
    client = CopyAIClient(API_KEY, "https://no-such-host.invalid/api", backoff=0.1, retry_window=300, gate=RateGate())
    started = time.monotonic()
    with pytest.raises(CopyAIConnectionError) as err:
        client.register_webhook(URL, "workflowRun.started")
    assert time.monotonic() - started < 10, "not the whole 300 s window for a typo"
    assert "does not resolve; check copyai:baseUrl" in str(err.value) and not err.value.ambiguous


# -- strict HTTP: redirects, paging that does not end, error bodies, fields of the wrong type, ids ----
SECRET_URL = "https://hooks.example.com/c?token=SECRET-7f3a"


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[Emulator]:
    """A second API, with the same key: a redirect followed there would be applied there."""
    with Emulator(api_key=API_KEY) as emu:
        yield emu


@pytest.mark.parametrize("status", [301, 307, 308])
@pytest.mark.parametrize("call", ["register", "list", "get", "delete"])
def test_a_redirect_is_never_followed_and_names_only_the_targets_host(
    emu: Emulator, elsewhere: Emulator, status: int, call: str
) -> None:
    elsewhere.reset()
    emu.arm("redirect", status=status, location=elsewhere.url, probability=1.0)  # followed, a POST would apply there
    client = client_for(emu)
    calls: dict[str, Callable[[], Any]] = {
        "register": lambda: client.register_webhook(SECRET_URL, "workflowRun.completed"),
        "list": lambda: client.scan_webhooks(),
        "get": lambda: client.get_webhook("abc"),
        "delete": lambda: client.delete_webhook("abc"),
    }
    with pytest.raises(CopyAIRedirectError) as err:
        calls[call]()
    text = str(err.value)
    assert err.value.status == status and not err.value.ambiguous  # a POST answered so was not applied
    assert f"HTTP {status}" in text and f"redirect (HTTP {status}) to {elsewhere.url}," in text
    assert "Check copyai:baseUrl (or COPYAI_BASE_URL)" in text
    assert f"{elsewhere.url}/" not in text and "page=" not in text and "SECRET" not in text  # no path, no query
    assert len(emu.requests()) == 1, "a redirect is not retried (nor a list scanned after a POST)"
    assert elsewhere.requests() == [], "the request (and the key) went to the redirect's target"
    emu.disarm()
    assert emu.webhooks() == [] and elsewhere.webhooks() == []


def test_a_redirect_to_the_same_host_is_not_followed_either(emu: Emulator) -> None:
    emu.arm("redirect", status=308, location=emu.url + "/tenant-path-7c1", count=1)
    with pytest.raises(CopyAIRedirectError, match=f"redirect \\(HTTP 308\\) to {emu.url},") as err:
        client_for(emu).register_webhook(URL, "workflowRun.completed")
    assert "tenant-path-7c1" not in str(err.value)  # the target's path is never named
    assert [r["path"] for r in emu.requests()] == ["/api/webhook"] and emu.webhooks() == []


class _CountingClient(CopyAIClient):
    """Counts list calls, and stops a scan that would page forever (as the client once did)."""

    calls = 0

    def list_webhooks(self, page: int = 0, size: int = 100, **kwargs: Any) -> tuple[int | None, list[Webhook]]:
        self.calls += 1
        assert self.calls <= 20, "the scan does not end"
        return super().list_webhooks(page, size, **kwargs)


@pytest.mark.parametrize("omit_total", [True, False])
def test_a_list_that_ignores_page_ends_when_a_page_brings_nothing_new(emu: Emulator, omit_total: bool) -> None:
    ids = register_many(emu, 150)
    emu.quirks(omit_total=omit_total)
    emu.arm("ignore_page", probability=1.0, methods=["GET"])
    client = _CountingClient(API_KEY, emu.base_url, backoff=0.01, gate=RateGate())
    listing = client.scan_webhooks()
    assert [h.id for h in listing.webhooks] == ids[:100]  # all it could see
    assert listing.consistent is False  # page 1 repeated page 0
    assert client.calls == 2


def test_a_list_that_never_ends_stops_at_the_page_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "MAX_PAGES", 7)

    class Endless(CopyAIClient):
        calls = 0

        def list_webhooks(self, page: int = 0, size: int = 100, **kwargs: Any) -> tuple[int | None, list[Webhook]]:
            self.calls += 1
            return None, [Webhook(f"{page}-{i}", URL, "workflowRun.started", None) for i in range(size)]

    client = Endless(API_KEY, "http://127.0.0.1:9/api", gate=RateGate())
    with pytest.raises(CopyAIResponseError, match="did not end within 7 pages of 100") as err:
        client.scan_webhooks()
    assert "list webhooks" in str(err.value) and client.calls == 7


def test_the_default_page_cap() -> None:
    assert client_module.MAX_PAGES == 1000


@pytest.mark.parametrize("details", [
    {"url": f"{SECRET_URL} is not reachable", "eventType": "bad"},
    {SECRET_URL: "not reachable"},  # a url as a field name
    f"{SECRET_URL} is not reachable",  # details that are a string
    [SECRET_URL],
])
def test_details_are_described_by_shape_never_quoted(emu: Emulator, details: Any) -> None:
    body = {"status": "error", "errorCode": "BAD_REQUEST", "details": details}
    emu.arm("answer", status=400, body=body, methods=["POST"])
    with pytest.raises(CopyAIValidationError) as err:
        client_for(emu).register_webhook(SECRET_URL, "workflowRun.completed")
    text = str(err.value)
    assert "HTTP 400 BAD_REQUEST" in text and "(details: " in text
    assert "SECRET" not in text and "hooks.example.com" not in text, text
    assert err.value.details == details  # kept as answered, for code that wants them
    expected = {dict: "url (string), eventType (string)" if "url" in details else "<name withheld> (string)",
                str: "string", list: "a list of 1 item(s), the first string"}[type(details)]
    assert f"(details: {expected})" in text


@pytest.mark.parametrize("commit", [False, True])
def test_a_200_that_says_error_is_an_ambiguous_post(emu: Emulator, commit: bool) -> None:
    body = {"status": "error", "errorCode": "INTERNAL", "details": {"url": SECRET_URL}}
    emu.arm("answer", body=body, methods=["POST"], commit=commit)
    with pytest.raises(CopyAIResponseError) as err:
        client_for(emu).register_webhook(URL, "workflowRun.completed")
    assert err.value.ambiguous and err.value.status == 200 and err.value.error_code == "INTERNAL"
    assert '"status": "error"' in str(err.value) and "SECRET" not in str(err.value)


def test_a_2xx_that_says_error_is_not_a_delete_nor_a_read(emu: Emulator) -> None:
    client = client_for(emu)
    hook = client.register_webhook(URL, "workflowRun.completed")
    emu.arm("answer", status=202, body={"status": "error", "errorCode": "LOCKED"}, methods=["DELETE"])
    with pytest.raises(CopyAIResponseError) as err:
        client.delete_webhook(hook.id)
    assert err.value.status == 202 and err.value.error_code == "LOCKED" and not err.value.ambiguous
    assert [h["id"] for h in emu.webhooks()] == [hook.id]
    emu.arm("answer", body={"status": "error", "errorCode": "NOT_FOUND"}, methods=["GET"])
    with pytest.raises(CopyAIResponseError):  # only a 404 is "not found"
        client.get_webhook(hook.id)
    assert client.delete_webhook(hook.id) is True  # a 202 with {} (no status) still is a delete
    emu.arm("answer", body={"status": "success", "total": 0, "data": []}, methods=["GET"])
    assert client.list_webhooks() == (0, [])  # "status" other than "error" is fine anywhere


GOOD = {"id": "hook-1", "url": SECRET_URL, "eventType": "workflowRun.completed", "workflowId": "WCFG-1"}


@pytest.mark.parametrize(("field", "value", "shape"), [
    ("workflowId", 7, "workflowId (number)"),
    ("workflowId", {"id": "WCFG-1"}, "workflowId (object)"),
    ("workflowId", False, "workflowId (boolean)"),
    ("id", 12, "id (number)"),
    ("id", "", "id (string)"),
    ("url", None, "url (null)"),
    ("url", ["x"], "url (list)"),
    ("eventType", 3, "eventType (number)"),
    ("eventType", "<absent>", "an object with id (string), url (string), workflowId (string)"),
])
@pytest.mark.parametrize("call", ["register", "get", "list"])
def test_fields_of_the_wrong_type_are_a_malformed_answer(
    emu: Emulator, field: str, value: Any, shape: str, call: str
) -> None:
    data = {k: v for k, v in {**GOOD, field: value}.items() if v != "<absent>"}
    body: Any = {"total": 1, "data": [data]} if call == "list" else {"status": "success", "data": data}
    emu.arm("answer", body=body, methods=["POST" if call == "register" else "GET"])
    client = client_for(emu)
    with pytest.raises(CopyAIResponseError) as err:
        {"register": lambda: client.register_webhook(URL, "workflowRun.completed"),
         "get": lambda: client.get_webhook("hook-1"), "list": lambda: client.list_webhooks()}[call]()
    text = str(err.value)
    assert shape in text and "SECRET" not in text and "WCFG-1" not in text, text
    assert err.value.ambiguous is (call == "register")


@pytest.mark.parametrize("workflow_id", ["", None, "<absent>"])
def test_an_empty_or_absent_workflow_id_means_none(workflow_id: Any) -> None:
    data = {k: v for k, v in {**GOOD, "workflowId": workflow_id}.items() if v != "<absent>"}
    assert Webhook.from_api(data) == Webhook("hook-1", SECRET_URL, "workflowRun.completed", None)


@pytest.mark.parametrize("webhook_id", [".", "..", "a/b", "../webhook", "a b", "a\x00b", "a\nb", "x" * 201, ""])
def test_ids_that_could_name_another_route_are_refused_before_sending(emu: Emulator, webhook_id: str) -> None:
    client = client_for(emu)
    for call in (client.get_webhook, client.delete_webhook):
        with pytest.raises(CopyAIError, match="is not a webhook id .*nothing was sent") as err:
            call(webhook_id)
        assert not isinstance(err.value, CopyAINotFoundError)  # never "gone"
    assert emu.requests() == []
