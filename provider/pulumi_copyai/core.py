"""The webhook lifecycle, on plain values: the one place every rule lives.

Both front doors are thin adapters over this module: the dynamic provider (`provider.py`, property
names in snake_case) and the `copyai` plugin (`plugin/`, camelCase). Here: input normalization and
checks, the replace rules, create (with ambiguous-POST recovery and adoption), read (404 = gone),
delete (404 = done), and the process-wide bookkeeping that keeps one webhook id to one resource.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .errors import CopyAIError, CopyAINotFoundError
from .model import Webhook, same_url
from .settings import Settings
from .validation import check_inputs

if TYPE_CHECKING:  # the HTTP client (requests) is imported on the first API call, not at start-up
    from .client import CopyAIClient

#: Copy.ai has no update endpoint: a change to any of these registers a new webhook.
REPLACE_ON_CHANGE: tuple[str, ...] = ("url", "event_type", "workflow_id")
#: The properties a webhook's state keeps as outputs; `read` reports exactly these.
OUTPUTS: tuple[str, ...] = REPLACE_ON_CHANGE
#: Every input the core knows (import_id only in the dynamic provider: the plugin has `pulumi import`).
INPUTS: tuple[str, ...] = (*REPLACE_ON_CHANGE, "import_id")
#: How long one snapshot of the webhook list serves the reads of a refresh.
SNAPSHOT_SECONDS = 10.0
#: The events a WorkflowWebhooks component registers unless told otherwise.
DEFAULT_EVENTS: tuple[str, ...] = ("workflowRun.started", "workflowRun.completed", "workflowRun.failed")


def normalize(props: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs the provider keeps: "" for workflow_id or import_id means absent; unknowns pass untouched."""
    out = {k: props.get(k) for k in INPUTS if k in props}
    for key in ("workflow_id", "import_id"):
        if out.get(key) == "":
            out[key] = None
    return out


def check(
    inputs: Mapping[str, Any], names: Mapping[str, str] | None = None, is_unknown: Callable[[Any], bool] | None = None
) -> list[tuple[str, str]]:
    """(property, reason) for each bad input, in the front door's property names."""
    return check_inputs(inputs, names, is_unknown)


def check_event_types(event_types: Sequence[str], name: str = "event_types") -> str | None:
    """The reason a WorkflowWebhooks list of event types is bad (each is checked as a webhook's), or None."""
    if not event_types:
        return f"{name} must name at least one event type, e.g. {', '.join(DEFAULT_EVENTS)}"
    twice = sorted({e for e in event_types if list(event_types).count(e) > 1})
    if twice:
        return f"{name} lists an event type twice: {', '.join(twice)}; each event type makes one webhook"
    return None


def child_name(component: str, event_type: str) -> str:
    """A WorkflowWebhooks child's resource name: `<component>-started`, `<component>-completed`, ..."""
    return f"{component}-{event_type.split('.')[-1]}"


def replaces(
    webhook_id: str, olds: Mapping[str, Any], news: Mapping[str, Any], is_unknown: Callable[[Any], bool]
) -> list[str]:
    """The properties whose change replaces the webhook (snake_case); empty when nothing changes.

    `olds` are the state's outputs, `news` the normalized new inputs. URLs are compared normalized
    (an API that lower-cases the host must not cause a replacement).
    """
    changed = []
    for key in REPLACE_ON_CHANGE:
        old, new = olds.get(key) or None, news.get(key) or None
        if is_unknown(new) or not (same_url(old, new) if key == "url" else old == new):
            changed.append(key)
    import_id = news.get("import_id")
    if is_unknown(import_id) or (import_id and import_id != webhook_id):
        changed.append("import_id")
    return changed


@dataclass(frozen=True)
class Declared:
    """A webhook as the program declares it (normalized, known values)."""

    url: str
    event_type: str
    workflow_id: str | None = None
    import_id: str | None = None

    @classmethod
    def of(cls, inputs: Mapping[str, Any]) -> Declared:
        values = normalize(inputs)
        return cls(values["url"], values["event_type"], values.get("workflow_id"), values.get("import_id"))


def outputs(hook: Webhook) -> dict[str, Any]:
    """A webhook's state outputs (snake_case)."""
    return {"url": hook.url, "event_type": hook.event_type, "workflow_id": hook.workflow_id}


class HeldIds:
    """The webhook ids that resources of this process hold (created, adopted, or seen in a diff,
    read or delete), so the recovery of an ambiguous POST never adopts a webhook another resource
    already has. Webhook ids are unique across workspaces, so one registry serves every configuration.
    Across processes (other stacks) nothing can know: see the README."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: set[str] = set()

    def hold(self, webhook_id: str) -> None:
        with self._lock:
            self._held.add(webhook_id)

    def forget(self) -> None:
        with self._lock:
            self._held.clear()

    def claim(self, hook: Webhook) -> bool:
        """Take `hook` for a resource, unless another resource of this process holds it."""
        with self._lock:
            if hook.id in self._held:
                return False
            self._held.add(hook.id)
            return True


HELD = HeldIds()


class Lifecycle:
    """Create, read and delete webhooks for one API configuration; one per provider process and settings."""

    def __init__(self, client: CopyAIClient, held: HeldIds = HELD) -> None:
        self.client = client
        self.held = held
        self._snapshot_lock = threading.Lock()
        self._snapshot: tuple[float, dict[str, Webhook]] | None = None

    # -- operations -------------------------------------------------------------------------
    def create(self, declared: Declared, deadline: float | None = None) -> Webhook:
        """Register the webhook (or adopt `import_id`); the result carries the declared url."""
        if declared.import_id:
            hook = self.adopt(declared.import_id, declared, deadline)
        else:
            hook = self.client.create_webhook(
                declared.url, declared.event_type, declared.workflow_id, deadline=deadline, claim=self.held.claim
            )
            self.held.hold(hook.id)
        return replace(hook, url=declared.url)

    def adopt(self, webhook_id: str, declared: Declared, deadline: float | None = None) -> Webhook:
        """Take over an existing webhook, after checking it is the declared one."""
        try:
            hook = self.client.get_webhook(webhook_id, deadline=deadline)
        except CopyAINotFoundError:
            raise CopyAIError(
                "adopt webhook", f"import_id {webhook_id!r}: no such webhook; check the id, or remove "
                "import_id to register a new webhook") from None
        mismatches = []
        if not same_url(hook.url, declared.url):
            mismatches.append("url differs from the declared one")  # never print a url: it may hold a token
        if hook.event_type != declared.event_type:
            mismatches.append(f"event_type is {hook.event_type!r} at Copy.ai but {declared.event_type!r} "
                              "in the program")
        if (hook.workflow_id or None) != (declared.workflow_id or None):
            mismatches.append(f"workflow_id is {hook.workflow_id!r} at Copy.ai but {declared.workflow_id!r} "
                              "in the program")
        if mismatches:
            raise CopyAIError(
                "adopt webhook", f"import_id {webhook_id!r} does not match the declared webhook: "
                + "; ".join(mismatches) + ". Declare the webhook as it exists, or remove import_id")
        if not self.held.claim(hook):
            raise CopyAIError(
                "adopt webhook", f"import_id {webhook_id!r} is already managed by another resource of this stack; "
                "one webhook can belong to one resource only")
        return hook

    def read(self, webhook_id: str, state: Mapping[str, Any] | None = None,
             deadline: float | None = None) -> dict[str, Any] | None:
        """The webhook's outputs as the API has them now, or None when it is gone (404).

        Reads share one snapshot of the paginated list (`SNAPSHOT_SECONDS`), so a refresh of N
        webhooks costs about N/100 list calls; a webhook missing from the snapshot is confirmed
        by its own GET before it is called gone. A url the API normalized is reported as the
        state has it, so refresh shows no change.
        """
        self.held.hold(webhook_id)
        hook = self._from_snapshot(webhook_id, deadline)
        if hook is None:
            try:
                hook = self.client.get_webhook(webhook_id, deadline=deadline)
            except CopyAINotFoundError:
                return None
        return _as_known(hook, state)

    def read_cached(self, webhook_id: str, state: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """`read`'s answer when a fresh snapshot holds the webhook, at once and without I/O; else None
        (then call `read`). Lets an async caller answer most reads of a refresh on its event loop."""
        if not self._snapshot_lock.acquire(blocking=False):
            return None  # a scan is under way
        try:
            fresh = self._snapshot is not None and time.monotonic() - self._snapshot[0] <= SNAPSHOT_SECONDS
            hook = self._snapshot[1].get(webhook_id) if fresh and self._snapshot is not None else None
        finally:
            self._snapshot_lock.release()
        if hook is None:
            return None
        self.held.hold(webhook_id)
        return _as_known(hook, state)

    def delete(self, webhook_id: str, deadline: float | None = None) -> None:
        """Remove the webhook; one that is already gone (404) counts as removed."""
        self.held.hold(webhook_id)
        self.client.delete_webhook(webhook_id, deadline=deadline)
        with self._snapshot_lock:
            if self._snapshot is not None:
                self._snapshot[1].pop(webhook_id, None)

    def _from_snapshot(self, webhook_id: str, deadline: float | None) -> Webhook | None:
        with self._snapshot_lock:  # concurrent reads wait for one scan instead of each making one
            now = time.monotonic()
            if self._snapshot is None or now - self._snapshot[0] > SNAPSHOT_SECONDS:
                listing = self.client.scan_webhooks(deadline=deadline)
                self._snapshot = (time.monotonic(), {h.id: h for h in listing.webhooks})
            return self._snapshot[1].get(webhook_id)


def _as_known(hook: Webhook, state: Mapping[str, Any] | None) -> dict[str, Any]:
    """The webhook's outputs, with the state's url when the API's is the same one normalized."""
    outs = outputs(hook)
    known_url = (state or {}).get("url")
    if isinstance(known_url, str) and same_url(known_url, hook.url):
        outs["url"] = known_url
    return outs


_LIFECYCLES: dict[Settings, Lifecycle] = {}
_LIFECYCLES_LOCK = threading.Lock()


def lifecycle_for(settings: Settings) -> Lifecycle:
    """The process's Lifecycle (and HTTP client) for these settings, built on first use."""
    with _LIFECYCLES_LOCK:
        found = _LIFECYCLES.get(settings)
        if found is None:
            from .client import CopyAIClient

            client = CopyAIClient(settings.api_key, settings.base_url, timeout=settings.timeout,
                                  retry_window=settings.retry_window)
            found = _LIFECYCLES[settings] = Lifecycle(client)
        return found


def forget() -> None:
    """Drop every client, snapshot and held id of this process (for tests that reuse one process)."""
    with _LIFECYCLES_LOCK:
        for lifecycle in _LIFECYCLES.values():
            lifecycle.client.close()
        _LIFECYCLES.clear()
    HELD.forget()
