"""The provider's methods called directly, against the emulator (no engine)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.output import Unknown

from pulumi_copyai import core
from pulumi_copyai.client import CopyAIError
from pulumi_copyai.emulator.testing import Emulator
from pulumi_copyai.origin import key_fingerprint
from pulumi_copyai.provider import REPLACE_ON_CHANGE, CopyAIWebhookProvider, Settings
from tests.conftest import API_KEY

URL = "https://hooks.example.com/copyai"


@pytest.fixture
def provider(emu: Emulator) -> Iterator[CopyAIWebhookProvider]:
    core.forget()  # each test starts like a new provider process
    p = CopyAIWebhookProvider()
    p.configure(ConfigureRequest(Config({"copyai:apiKey": API_KEY, "copyai:baseUrl": emu.base_url,
                                         "copyai:retryWindowSeconds": "2"}, "proj")))
    yield p
    core.forget()
    assert vars(p) == {}, "the provider object must carry no state (it is pickled into every resource)"


def props(**kw: Any) -> dict[str, Any]:
    return {"url": URL, "event_type": "workflowRun.completed", "workflow_id": None, "import_id": None, **kw}


def test_check_accepts_good_input_and_normalizes_empty_workflow(provider: CopyAIWebhookProvider,
                                                                emu: Emulator) -> None:
    result = provider.check({}, props(workflow_id="", import_id=""))
    assert result.failures == []
    assert result.inputs == props()
    assert emu.requests() == []  # check makes no API call


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("url", "http://hooks.example.com/x", "use https"),
        ("url", "ftp://hooks.example.com/x", "scheme 'ftp'"),
        ("url", "hooks.example.com/x", "not an absolute URL"),
        ("url", "", "url is required"),
        ("url", "https://hooks.example.com/a b", "whitespace"),
        ("url", "https://user:pw@hooks.example.com/", "embeds credentials"),
        ("url", "https://hooks.example.com:99999/", "malformed"),
        ("event_type", "workflowrun.completed", "did you mean 'workflowRun.completed'"),
        ("event_type", "workflowRun.complete", "did you mean 'workflowRun.completed'"),
        ("event_type", "run.done", "use one of workflowRun.started"),
        ("event_type", None, "event_type is required"),
        ("workflow_id", "WCFG 1", "whitespace"),
        ("workflow_id", "workflows/WCFG-1", "contains '/'"),
        ("workflow_id", 7, "must be a string"),
        ("import_id", "a/b", "import_id 'a/b' is not a Copy.ai webhook id: it contains '/'"),
        ("import_id", ".", "import_id '.' is not a Copy.ai webhook id"),
        ("import_id", "..", "'..' names a path, not a webhook"),
        ("import_id", "abc def", "contains whitespace"),
        ("import_id", "abc\x07", "contains a control character"),
        ("import_id", "a" * 201, "201 characters long"),
        ("import_id", 42, "must be a string"),
    ],
)
def test_check_failures_name_the_property_and_the_fix(
    provider: CopyAIWebhookProvider, field: str, value: Any, needle: str
) -> None:
    failures = provider.check({}, props(**{field: value})).failures
    assert [f.property for f in failures] == [field]
    assert needle in failures[0].reason
    if field == "import_id":
        assert "remove import_id to register a new webhook" in failures[0].reason
        assert "a" * 61 not in failures[0].reason  # a long value is not repeated whole


def test_check_accepts_ordinary_import_ids(provider: CopyAIWebhookProvider) -> None:
    for good in ("13e9e0c175ba4dcdb8c469de0300de42", "WH-1.2_3", "a" * 200, "...", ".a"):
        assert provider.check({}, props(import_id=good)).failures == [], good


def test_an_import_id_that_names_another_route_is_never_sent(provider: CopyAIWebhookProvider, emu: Emulator) -> None:
    for bad in ("..", ".", "a/b"):
        with pytest.raises(CopyAIError, match="is not a webhook id"):
            provider.create(props(import_id=bad))  # even if check was bypassed
    assert emu.requests() == []


def test_check_lets_unknowns_through(provider: CopyAIWebhookProvider) -> None:
    unknown = Unknown()
    result = provider.check({}, props(url=unknown, event_type=unknown))
    assert result.failures == [] and result.inputs["url"] is unknown


@pytest.mark.parametrize("loopback", ["http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]:9/x"])
def test_plain_http_is_fine_for_loopback(provider: CopyAIWebhookProvider, loopback: str) -> None:
    assert provider.check({}, props(url=loopback)).failures == []


def test_diff_replaces_on_each_field_and_only_then(provider: CopyAIWebhookProvider) -> None:
    olds = {"url": URL, "event_type": "workflowRun.completed", "workflow_id": None, "__provider": "x"}
    same = provider.diff("id1", olds, props(workflow_id="", __provider="y"))
    assert same.changes is False and same.replaces == []
    for field, value in (("url", URL + "/v2"), ("event_type", "workflowRun.failed"), ("workflow_id", "WCFG-2")):
        result = provider.diff("id1", olds, props(**{field: value}))
        assert result.changes is True and result.replaces == [field]
    assert provider.diff("id1", olds, props(url=Unknown())).replaces == ["url"]
    assert provider.diff("id1", olds, props(import_id="id1")).changes is False
    assert provider.diff("id1", olds, props(import_id="id2")).replaces == ["import_id"]
    assert REPLACE_ON_CHANGE == ("url", "event_type", "workflow_id")


def test_create_read_delete_one_call_each(provider: CopyAIWebhookProvider, emu: Emulator) -> None:
    created = provider.create(props(workflow_id="WCFG-1"))
    assert created.outs == {"url": URL, "event_type": "workflowRun.completed", "workflow_id": "WCFG-1",
                            "api_base_url": emu.base_url, "api_key_fingerprint": key_fingerprint(API_KEY)}
    read = provider.read(created.id, created.outs)
    assert (read.id, read.outs) == (created.id, created.outs)
    core.forget()  # `pulumi destroy`: a new provider process
    provider.delete(created.id, created.outs)
    gone = provider.read(created.id, created.outs)
    assert gone.id is None and gone.outs == {}
    provider.delete(created.id, created.outs)  # already gone: fine
    # a process's first POST follows a view of the list (ownership rule 1); the first read takes a
    # snapshot of the list; a webhook missing from it is confirmed by its own GET
    assert [(r["method"], r["path"].rsplit("/", 1)[-1] == created.id, r["status"]) for r in emu.requests()] == [
        ("GET", False, 200), ("POST", False, 200), ("GET", False, 200), ("DELETE", True, 202), ("GET", False, 200),
        ("GET", True, 404), ("DELETE", True, 404)]


@pytest.mark.parametrize("status", [401, 403, 500])
def test_read_errors_are_never_gone(provider: CopyAIWebhookProvider, emu: Emulator, status: int) -> None:
    # Only a 404 from the webhook's own GET means gone. That GET comes for a webhook the list
    # snapshot lacks: the snapshot is taken by reading another webhook, before this one exists.
    other = provider.create(props(url=URL + "/other"))
    provider.read(other.id, other.outs)
    created = provider.create(props())
    emu.clear_requests()
    emu.arm("status", status=status, probability=1.0, methods=["GET"], path_prefix=f"/api/webhook/{created.id}")
    with pytest.raises(CopyAIError) as err:
        provider.read(created.id, created.outs)
    assert err.value.status == status
    hit = [r for r in emu.requests() if r["fault"]]
    assert hit and all(r["path"] == f"/api/webhook/{created.id}" for r in hit), "the fault hit the webhook's GET"
    assert [r["path"] for r in emu.requests()] == [r["path"] for r in hit], "no list scan: the snapshot served"


def test_adopt_checks_fields(provider: CopyAIWebhookProvider, emu: Emulator) -> None:
    existing = emu.api("POST", "/webhook", json={"url": URL, "eventType": "workflowRun.started"}).json()["data"]["id"]
    with pytest.raises(CopyAIError, match="event_type is 'workflowRun.started' at Copy.ai"):
        provider.create(props(import_id=existing))
    with pytest.raises(CopyAIError, match="url differs from the declared one") as err:
        provider.create(props(url=URL + "?token=SECRET", event_type="workflowRun.started", import_id=existing))
    assert "SECRET" not in str(err.value)
    adopted = provider.create(props(event_type="workflowRun.started", import_id=existing))
    assert adopted.id == existing and len(emu.webhooks()) == 1
    with pytest.raises(CopyAIError, match="already managed by another resource of this stack"):
        provider.create(props(event_type="workflowRun.started", import_id=existing))


def test_recovery_never_hands_out_an_id_a_resource_of_the_process_holds(
    provider: CopyAIWebhookProvider, emu: Emulator
) -> None:
    # Two resources declare the same webhook; the second's POST fails unapplied (503). Its recovery
    # finds the first one's webhook in the list, which must not be adopted: it registers its own.
    first = provider.create(props())
    emu.arm("status", status=503, count=1, methods=["POST"])
    second = provider.create(props())
    assert second.id != first.id
    assert sorted(h["id"] for h in emu.webhooks()) == sorted([first.id, second.id])


def test_a_normalized_url_reads_back_as_declared(provider: CopyAIWebhookProvider, emu: Emulator) -> None:
    emu.quirks(normalize_urls=True)
    declared = "https://Hooks.Example.com:443/CopyAI"
    created = provider.create(props(url=declared))
    assert emu.webhooks()[0]["url"] == "https://hooks.example.com/CopyAI"
    assert created.outs["url"] == declared
    assert provider.read(created.id, created.outs).outs["url"] == declared  # so refresh shows no change
    assert provider.diff(created.id, created.outs, props(url="https://hooks.example.com/CopyAI/")).changes is False
    assert provider.diff(created.id, created.outs, props(url="https://hooks.example.com/copyai")).replaces == ["url"]


def test_settings_prefer_stack_config_then_environment() -> None:
    env = {"COPYAI_API_KEY": "env-key", "COPYAI_BASE_URL": "http://127.0.0.1:1/api", "COPYAI_TIMEOUT_SECONDS": "7"}
    assert Settings.resolve({}, env) == Settings("http://127.0.0.1:1/api", "env-key", 7.0, 300.0)
    assert Settings.resolve({"copyai:apiKey": "cfg-key", "copyai:baseUrl": None}, env).api_key == "cfg-key"
    assert Settings.resolve({}, {}) == Settings("https://api.copy.ai/api", None, 30.0, 300.0)
    assert Settings.resolve({}, {"COPYAI_RETRY_WINDOW_SECONDS": "20"}).retry_window == 20.0
    assert "env-key" not in repr(Settings.resolve({}, env))
    with pytest.raises(CopyAIError, match=r"copyai:timeoutSeconds \(COPYAI_TIMEOUT_SECONDS\) must be a positive"):
        Settings.resolve({"copyai:timeoutSeconds": "soon"}, {})
    with pytest.raises(CopyAIError, match="copyai:retryWindowSeconds .* must be a non-negative"):
        Settings.resolve({"copyai:retryWindowSeconds": "-1"}, {})
