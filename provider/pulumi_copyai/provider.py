"""The dynamic provider behind CopyAIWebhook: check, diff, create, read, delete.

The provider object is pickled into every resource's state, so it carries nothing: no API key,
no HTTP session. Configuration arrives in `configure` (stack config, then environment) and lives
in this module, with one lazily built `CopyAIClient` per provider process.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
)
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN

from .errors import CopyAIError, CopyAINotFoundError
from .settings import CONFIG_KEYS, Settings
from .validation import CHECKS

if TYPE_CHECKING:  # the HTTP client (requests) is imported on first API call, not at start-up
    from .client import CopyAIClient, Webhook

#: Copy.ai has no update endpoint: a change to any of these registers a new webhook.
REPLACE_ON_CHANGE: tuple[str, ...] = ("url", "event_type", "workflow_id")
#: The properties kept as outputs; `read` reports exactly these, so refresh shows no spurious change.
OUTPUTS: tuple[str, ...] = REPLACE_ON_CHANGE

class _Process:
    """Per-process provider state: the settings from `configure` and the shared client."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.config: dict[str, Any] | None = None
        self.clients: dict[Settings, CopyAIClient] = {}

    def client(self) -> CopyAIClient:
        from .client import CopyAIClient

        settings = Settings.resolve(self.config)
        with self.lock:
            client = self.clients.get(settings)
            if client is None:
                client = CopyAIClient(settings.api_key, settings.base_url, timeout=settings.timeout)
                self.clients[settings] = client
            return client


_PROCESS = _Process()


def is_unknown(value: Any) -> bool:
    """True for a value not known yet (during preview)."""
    return isinstance(value, Unknown) or value == UNKNOWN


def _normalize(props: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs the provider keeps: workflow_id "" means absent; unknowns pass through untouched."""
    out = {k: props.get(k) for k in (*REPLACE_ON_CHANGE, "import_id") if k in props}
    for key in ("workflow_id", "import_id"):
        if out.get(key) == "":
            out[key] = None
    return out


def outputs_of(hook: Webhook) -> dict[str, Any]:
    return {"url": hook.url, "event_type": hook.event_type, "workflow_id": hook.workflow_id}


class CopyAIWebhookProvider(ResourceProvider):
    """Registers, reads and removes one Copy.ai webhook per resource."""

    # Nothing secret is captured in the pickled provider, so it need not be a secret in state.
    serialize_as_secret_always = False

    def configure(self, req: ConfigureRequest) -> None:
        _PROCESS.config = {f"copyai:{k}": req.config.get(f"copyai:{k}") for k in CONFIG_KEYS}

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = _normalize(news)
        failures = [
            CheckFailure(prop, reason)
            for prop, check in CHECKS.items()
            if not is_unknown(inputs.get(prop)) and (reason := check(inputs.get(prop))) is not None
        ]
        return CheckResult(inputs, failures)

    def diff(self, id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        news = _normalize(news)
        replaces = [
            key for key in REPLACE_ON_CHANGE
            if is_unknown(news.get(key)) or (olds.get(key) or None) != (news.get(key) or None)
        ]
        import_id = news.get("import_id")
        if is_unknown(import_id) or (import_id and import_id != id):
            replaces.append("import_id")
        return DiffResult(changes=bool(replaces), replaces=replaces, stables=[], delete_before_replace=None)

    def create(self, props: dict[str, Any]) -> CreateResult:
        props = _normalize(props)
        client = _PROCESS.client()
        url, event_type, workflow_id = props["url"], props["event_type"], props.get("workflow_id")
        if props.get("import_id"):
            hook = self._adopt(client, props["import_id"], url, event_type, workflow_id)
        else:
            hook = client.create_webhook(url, event_type, workflow_id)
        return CreateResult(hook.id, outputs_of(hook) | {"url": url})

    @staticmethod
    def _adopt(client: CopyAIClient, webhook_id: str, url: str, event_type: str, workflow_id: str | None) -> Webhook:
        try:
            hook = client.get_webhook(webhook_id)
        except CopyAINotFoundError:
            raise CopyAIError(
                "adopt webhook", f"import_id {webhook_id!r}: no such webhook; check the id, or remove "
                "import_id to register a new webhook") from None
        declared = {"url": url, "event_type": event_type, "workflow_id": workflow_id}
        mismatches = [f"{k} is {v!r} at Copy.ai but {declared[k]!r} in the program"
                      for k, v in outputs_of(hook).items() if v != declared[k]]
        if mismatches:
            raise CopyAIError(
                "adopt webhook", f"import_id {webhook_id!r} does not match the declared webhook: "
                + "; ".join(mismatches) + ". Declare the webhook as it exists, or remove import_id")
        return hook

    def read(self, id: str, props: dict[str, Any]) -> ReadResult:
        try:
            hook = _PROCESS.client().get_webhook(id)
        except CopyAINotFoundError:
            return ReadResult(None, {})  # deleted out of band: drop it from the state
        outs = outputs_of(hook)
        return ReadResult(hook.id, outs)

    def delete(self, id: str, props: dict[str, Any]) -> None:
        _PROCESS.client().delete_webhook(id)  # a 404 means it is already gone
