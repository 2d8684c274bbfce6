"""Bad input through `pulumi preview` and `pulumi up`: a clear error naming the property or the
cause, and nothing registered, lost or half-done. Plus: a secret url stays secret."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pulumi import automation as auto

from pulumi_copyai.emulator.testing import Emulator
from tests.conftest import API_KEY
from tests.engine import EngineStack

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

GOOD = {"url": "https://hooks.example.com/copyai", "event_type": "workflowRun.completed"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Case:
    inputs: dict[str, Any] = field(default_factory=dict)
    expect: tuple[str, ...] = ()
    in_preview: bool = True  # input checks fail already in preview; API failures only in up
    config: dict[str, str] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)


CASES: dict[str, Case] = {
    "url-no-host": Case({"url": "https://"}, ("url", "not an absolute URL")),
    "url-no-scheme": Case({"url": "hooks.example.com/copyai"}, ("url", "not an absolute URL")),
    "url-ftp": Case({"url": "ftp://hooks.example.com/copyai"}, ("url", "scheme 'ftp'", "use https")),
    "url-plain-http": Case({"url": "http://hooks.example.com/copyai"}, ("url", "plain http", "use https")),
    "url-whitespace": Case({"url": "https://hooks.example.com/a b"}, ("url", "whitespace")),
    "url-bad-port": Case({"url": "https://hooks.example.com:99999/x"}, ("url", "malformed")),
    "url-credentials": Case({"url": "https://u:p@hooks.example.com/x"}, ("url", "embeds credentials")),
    "event-unknown": Case({"event_type": "run.done"}, ("event_type", "use one of workflowRun.started")),
    "event-miscased": Case({"event_type": "WorkflowRun.Completed"}, ("did you mean 'workflowRun.completed'",)),
    "event-typo": Case({"event_type": "workflowRun.faild"}, ("did you mean 'workflowRun.failed'",)),
    "workflow-slash": Case({"workflow_id": "workflows/WCFG-1"}, ("workflow_id", "contains '/'")),
    "workflow-space": Case({"workflow_id": "WCFG 1"}, ("workflow_id", "whitespace")),
    "no-api-key": Case(expect=("no API key", "copyai:apiKey", "COPYAI_API_KEY"), in_preview=False,
                       config={"copyai:apiKey": ""}),
    # the credentials check when the provider starts fails these already in preview
    "wrong-api-key": Case(expect=("HTTP 401 UNAUTHORIZED", "check copyai:apiKey", "credentials check"),
                          config={"copyai:apiKey": "not-the-key"}),
    "bad-base-url": Case(expect=("copyai:baseUrl must be an absolute http(s) URL",),
                         config={"copyai:baseUrl": "api.copy.ai"}),
    "api-400": Case(expect=("HTTP 400",), in_preview=False, faults=[{"mode": "status", "status": 400}]),
    "api-404": Case(expect=("HTTP 404",), in_preview=False, faults=[{"mode": "status", "status": 404}]),
    "api-422": Case(expect=("HTTP 422", "details: injected"), in_preview=False,
                    faults=[{"mode": "status", "status": 422}]),
    "api-non-json": Case(expect=("expected JSON", "text/html"), in_preview=False, faults=[{"mode": "non_json"}]),
    "api-oversized": Case(expect=("exceeds 1048576 bytes",), in_preview=False,
                          faults=[{"mode": "oversized", "size": 2_000_000}]),
    # a short retry window: the default (300 s) would keep retrying the refused connection for 5 minutes
    "api-unreachable": Case(expect=("could not connect", "credentials check"),
                            config={"copyai:baseUrl": f"http://127.0.0.1:{_closed_port()}/api",
                                    "copyai:retryWindowSeconds": "2"}),
    # slower than copyai:timeoutSeconds, and then failing without applying the request
    "api-slow": Case(expect=("no answer within 1s",), in_preview=False, config={"copyai:timeoutSeconds": "1"},
                     faults=[{"mode": "latency", "seconds": 1.5}, {"mode": "status", "status": 504}]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_fails_clearly_and_registers_nothing(
    emu: Emulator, new_stack: Callable[..., EngineStack], name: str
) -> None:
    case = CASES[name]

    stack = new_stack(spec={"hook": {**GOOD, **case.inputs}})
    # A short retry window: these cases test the message, the window has tests of its own (resilience).
    config = {"copyai:baseUrl": emu.base_url, "copyai:apiKey": API_KEY, "copyai:retryWindowSeconds": "2",
              **case.config}
    stack.configure({key: value for key, value in config.items() if value})
    for fault in case.faults:
        emu.arm(**fault, probability=1.0, methods=["POST"])

    if case.in_preview:
        with pytest.raises(auto.CommandError) as err:
            stack.preview()
        for needle in case.expect:
            assert needle in str(err.value)
    else:
        assert stack.preview().change_summary == {"create": 2}
    with pytest.raises(auto.CommandError) as err:
        stack.up()
    message = str(err.value)
    for needle in case.expect:
        assert needle in message
    assert API_KEY not in message
    emu.disarm()
    assert emu.webhooks() == [], "nothing may be registered"
    assert stack.webhook_ids() == set(), "nothing may be half-created in the state"
    assert not stack.export()["deployment"].get("pending_operations")


def test_a_secret_url_stays_secret(emu: Emulator, new_stack: Callable[..., EngineStack]) -> None:
    token = "tok-7d1e0c55"

    stack = new_stack(spec={"secret-hook": {"url": f"https://hooks.example.com/c?token={token}", "secret_url": True,
                                            "event_type": "workflowRun.completed"}})
    stack.configure({"copyai:baseUrl": emu.base_url, "copyai:apiKey": API_KEY})
    up = stack.up()
    assert up.outputs["secret-hook_url"].secret is True
    assert token not in up.stdout
    exported = stack.export()
    assert token not in json.dumps(exported)
    (res,) = stack.resources()
    secret_sig = "4dabf18193072939515e22adb298388d"
    assert secret_sig in res["inputs"]["url"] and secret_sig in res["outputs"]["url"]
    assert stack.refresh(expect_no_changes=True).summary.resource_changes == {"same": 2}
    assert token not in json.dumps(stack.export())
    assert [h["url"] for h in emu.webhooks()] == [f"https://hooks.example.com/c?token={token}"]
    stack.destroy()


def test_a_bad_secret_url_is_reported_without_revealing_it(
    emu: Emulator, new_stack: Callable[..., EngineStack]
) -> None:
    token = "tok-91aa2c"

    stack = new_stack(spec={"secret-hook": {"url": f"http://hooks.example.com/c?token={token}", "secret_url": True,
                                            "event_type": "workflowRun.completed"}}, env=emu.env())
    with pytest.raises(auto.CommandError) as err:
        stack.preview()
    message = str(err.value)
    assert "url uses plain http for host 'hooks.example.com'" in message
    assert token not in message
    assert emu.webhooks() == []
