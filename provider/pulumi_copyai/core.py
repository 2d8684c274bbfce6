"""The webhook lifecycle, on plain values: the one place every rule lives.

Both front doors are thin adapters over this module: the dynamic provider (`provider.py`, property
names in snake_case) and the `copyai` plugin (`plugin/`, camelCase). Here: input normalization and
checks, the replace rules, create (with ambiguous-POST recovery and adoption), read (404 = gone),
delete (404 = done). Which webhook belongs to which resource is decided by `ownership`'s rules; what
a 404 proves, by `origin`'s (only the API that registered a webhook can say it is gone).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .errors import CopyAIError, CopyAINotFoundError, CopyAIUnsettledError
from .journal import Journal
from .model import Webhook, same_url
from .origin import OUTPUTS as ORIGIN_OUTPUTS
from .origin import Origin, elsewhere_error, moved_error, not_found_proves_gone
from .ownership import Holdings, Key, OneAtATime, Workspace, may_delete, recoverable
from .settings import Settings
from .status import report, reporting, window_setting
from .validation import check_inputs

if TYPE_CHECKING:  # the HTTP client (requests) is imported on the first API call, not at start-up
    from .client import CopyAIClient

#: Copy.ai has no update endpoint: a change to any of these registers a new webhook.
REPLACE_ON_CHANGE: tuple[str, ...] = ("url", "event_type", "workflow_id")
#: The properties a webhook's state keeps as outputs; `read` reports exactly these.
OUTPUTS: tuple[str, ...] = (*REPLACE_ON_CHANGE, *ORIGIN_OUTPUTS)
#: How long the credentials check at a provider's start may take (an unreachable API fails it after this).
CREDENTIALS_CHECK_SECONDS = 5.0
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


def outputs(hook: Webhook, origin: Origin | None = None) -> dict[str, Any]:
    """A webhook's state outputs (snake_case), with the API that answered for it when known."""
    outs: dict[str, Any] = {"url": hook.url, "event_type": hook.event_type, "workflow_id": hook.workflow_id}
    return {**outs, **origin.outputs()} if origin is not None else outs


HOLDINGS = Holdings()
_ONE_AT_A_TIME = OneAtATime()
#: Registrations of one webhook, at most (each after the list showed the previous was not applied).
MAX_POSTS = 10
#: A search that misses while the list is changing scans again, at most this many times in all.
MAX_SCANS = 4


def check_origin(webhook_id: str, state: Mapping[str, Any], settings: Settings) -> None:
    """At a diff: fail when the provider's settings name another API or workspace than the one that
    registered the webhook (`origin`); a provider without a key yet (a preview) is not checked."""
    if webhook_id and settings.api_key:
        error = moved_error(webhook_id, Origin.recorded(state), Origin.of(settings.base_url, settings.api_key),
                            settings.names)
        if error is not None:
            raise error


def diffed(webhook_id: str, replaced: bool) -> None:
    """A diff met this resource's webhook: it keeps it unless the diff replaces it (rule 2)."""
    if webhook_id:
        (HOLDINGS.hold if replaced else HOLDINGS.keep)(webhook_id)


def imported(webhook_id: str) -> None:
    """`pulumi import` (or the `import` option) gave this webhook to a resource: it keeps it (rule 2)."""
    HOLDINGS.keep(webhook_id)


class Lifecycle:
    """Create, read and delete webhooks for one API configuration; one per provider process and settings.

    Which webhook belongs to which resource is decided by the rules of `ownership`; this class
    gathers their evidence (views of the list, held ids) and applies them.
    """

    def __init__(self, client: CopyAIClient, workspace: Workspace, journal: Journal) -> None:
        self.client = client
        self.workspace = workspace
        self.journal = journal
        self.origin = client.origin
        self._snapshot_lock = threading.Lock()
        self._snapshot: tuple[float, dict[str, Webhook]] | None = None

    # -- operations -------------------------------------------------------------------------
    def create(self, declared: Declared, deadline: float | None = None, urn: str | None = None) -> Webhook:
        """Register the webhook (or adopt `import_id`); the result carries the declared url."""
        if declared.import_id:
            hook = self.adopt(declared.import_id, declared, deadline)
        else:
            hook = self._register(declared, self.client.deadline() if deadline is None else deadline, urn)
        return replace(hook, url=declared.url)

    def _register(self, declared: Declared, until: float, urn: str | None) -> Webhook:
        """One webhook for the declaration, however many answers are lost (rules 1, 3 and 4)."""
        key = Key.of(declared.url, declared.event_type, declared.workflow_id)
        with _ONE_AT_A_TIME.on(key):
            try:
                self.workspace.ensure_view(lambda: self._scan(until))
            except CopyAIError as exc:
                raise CopyAIError(
                    "register webhook", f"the webhook list could not be read before registering ({exc.message}); "
                    "it is what lets a lost answer be recovered without a duplicate, so nothing was sent. "
                    "Run `pulumi up` again once the API answers", status=exc.status, error_code=exc.error_code,
                ) from None
            first_sent = time.monotonic()
            existing = self.workspace.views.matching_before(key, first_sent)
            entry = self.journal.posting(declared.url, declared.event_type, declared.workflow_id, existing, urn)
            try:
                hook, how = self._post(declared, key, first_sent, until)
            except CopyAIUnsettledError:
                raise  # the journal keeps the entry open: the webhook may exist
            except CopyAIError:
                self.journal.settled(entry, "not_registered")
                raise
            self.journal.settled(entry, how, hook.id)
            return hook

    def _post(self, declared: Declared, key: Key, first_sent: float, until: float) -> tuple[Webhook, str]:
        """POST until registered; after an ambiguous answer, recover from the list (rule 4) or POST
        again once the list shows the previous POST was not applied."""
        for _ in range(MAX_POSTS):
            try:
                hook = self.client.register_webhook(declared.url, declared.event_type, declared.workflow_id,
                                                    deadline=until)
            except CopyAIError as exc:
                if not exc.ambiguous:
                    raise
                failure = exc
            else:
                HOLDINGS.keep(hook.id)
                return hook, "registered"
            found = self._settle(key, failure, first_sent, until)
            if found is not None:
                return found, "adopted"
            if time.monotonic() >= until:
                break
        raise CopyAIError(
            "register webhook",
            f"{failure.message}; the webhook list shows it was not registered, and the retry window "
            f"({window_setting()}) closed. Nothing to clean up: run `pulumi up` again once the API answers",
            status=failure.status, error_code=failure.error_code,
        )

    def _settle(self, key: Key, failure: CopyAIError, first_sent: float, until: float) -> Webhook | None:
        """After an ambiguous POST: the webhook it registered if the list shows one (rule 4), else None.
        After a timeout the server may still be applying it: look again for two more timeout periods."""
        settle_until = time.monotonic() + (2 * self.client.timeout[1] if failure.timed_out else 0.0)
        delay = self.client.backoff
        started, looks = time.monotonic(), 0
        while True:
            looks += 1
            report(f"settling register webhook: its answer was lost ({failure.message.split(' (')[0]}); looking "
                   f"for it in the webhook list (look {looks}; {time.monotonic() - started:.0f} s, up to "
                   f"{max(0.0, until - started):.0f} s, {window_setting()})")
            time.sleep(min(delay * (1 + random.random()), max(0.0, until - time.monotonic())))
            try:
                candidates = self._search(key, first_sent, until)
            except CopyAIError as lookup:
                raise CopyAIUnsettledError(
                    "register webhook",
                    f"{failure.message}; then the webhook list could not be read either ({lookup.message}), "
                    "so the webhook may have been registered without reaching the stack. Once the API answers, "
                    "find it with `copyai-audit` (it lists webhooks no stack owns) before `pulumi up` "
                    "registers it again",
                    status=failure.status, error_code=failure.error_code,
                ) from None
            for hook in candidates:
                if HOLDINGS.claim(hook.id):
                    return hook
            if time.monotonic() >= min(settle_until, until):
                return None
            delay = min(delay * 2, 2.0)

    def _search(self, key: Key, first_sent: float, until: float) -> list[Webhook]:
        """The webhooks the POST may have registered (rule 4), oldest first. Offset paging can skip an
        item when the list shifts between pages, so a search that misses while the list is changing
        scans again (bounded), until a scan is consistent or two scans agree."""
        previous: frozenset[str] | None = None
        found: list[Webhook] = []
        for _ in range(MAX_SCANS):
            listing = self.client.scan_webhooks(deadline=until)
            self.workspace.observe(listing.webhooks)
            found = recoverable(listing.webhooks, key, first_sent, self.workspace.views, HOLDINGS)
            ids = frozenset(h.id for h in listing.webhooks)
            if found or listing.consistent or ids == previous:
                break
            previous = ids
        return found

    def _scan(self, until: float) -> list[Webhook]:
        """A view for rule 1: a scan that saw the list change is taken once more (both count)."""
        listing = self.client.scan_webhooks(deadline=until)
        if listing.consistent:
            return listing.webhooks
        self.workspace.observe(listing.webhooks)
        return self.client.scan_webhooks(deadline=until).webhooks

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
        if not HOLDINGS.claim(hook.id):
            raise CopyAIError(
                "adopt webhook", f"import_id {webhook_id!r} is already managed by another resource of this stack; "
                "one webhook can belong to one resource only")
        return hook

    def outputs(self, hook: Webhook) -> dict[str, Any]:
        """The state outputs of a webhook this API answered for (its origin is this API)."""
        return outputs(hook, self.origin)

    def read(self, webhook_id: str, state: Mapping[str, Any] | None = None,
             deadline: float | None = None) -> dict[str, Any] | None:
        """The webhook's outputs as the API has them now, or None when it is gone (404 from the API
        that registered it; from another API a 404 is an error, see `origin`).

        Reads share one snapshot of the paginated list (`SNAPSHOT_SECONDS`), so a refresh of N
        webhooks costs about N/100 list calls; a webhook missing from the snapshot is confirmed
        by its own GET before it is called gone. A url the API normalized is reported as the
        state has it, so refresh shows no change.
        """
        HOLDINGS.hold(webhook_id)
        hook = self._from_snapshot(webhook_id, deadline)
        if hook is None:
            try:
                hook = self.client.get_webhook(webhook_id, deadline=deadline)
            except CopyAINotFoundError:
                self._gone_here("read webhook", webhook_id, state)
                return None
        return _as_known(hook, state, self.origin)

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
        HOLDINGS.hold(webhook_id)
        return _as_known(hook, state, self.origin)

    def delete(self, webhook_id: str, deadline: float | None = None, state: Mapping[str, Any] | None = None) -> bool:
        """Remove the webhook; one that is already gone (404 from the API that registered it) counts
        as removed. False when the API was not called because another resource of this process keeps
        the webhook (rule 5)."""
        if not may_delete(webhook_id, HOLDINGS):
            return False
        HOLDINGS.hold(webhook_id)
        if not self.client.delete_webhook(webhook_id, deadline=deadline):
            self._gone_here("delete webhook", webhook_id, state)
        with self._snapshot_lock:
            if self._snapshot is not None:
                self._snapshot[1].pop(webhook_id, None)
        return True

    def _gone_here(self, operation: str, webhook_id: str, state: Mapping[str, Any] | None) -> None:
        """Raise unless this 404 proves the webhook gone: only its own API's does (`origin`)."""
        recorded = Origin.recorded(state)
        if recorded is not None and not not_found_proves_gone(recorded, self.origin):
            raise elsewhere_error(operation, webhook_id, recorded, self.origin, self.client.names)

    def listing(self, deadline: float | None = None) -> list[Webhook]:
        """Every webhook of the workspace, from the snapshot reads share (`SNAPSHOT_SECONDS`)."""
        with self._snapshot_lock:
            return list(self._fresh_snapshot(deadline).values())

    def _from_snapshot(self, webhook_id: str, deadline: float | None) -> Webhook | None:
        with self._snapshot_lock:  # concurrent reads wait for one scan instead of each making one
            return self._fresh_snapshot(deadline).get(webhook_id)

    def _fresh_snapshot(self, deadline: float | None) -> dict[str, Webhook]:
        """The snapshot, scanned again when older than SNAPSHOT_SECONDS; call with the lock held."""
        now = time.monotonic()
        if self._snapshot is None or now - self._snapshot[0] > SNAPSHOT_SECONDS:
            listing = self.client.scan_webhooks(deadline=deadline)
            self.workspace.observe(listing.webhooks)
            self._snapshot = (time.monotonic(), {h.id: h for h in listing.webhooks})
        return self._snapshot[1]


def _as_known(hook: Webhook, state: Mapping[str, Any] | None, origin: Origin) -> dict[str, Any]:
    """The webhook's outputs, with the state's url when the API's is the same one normalized."""
    outs = outputs(hook, origin)
    known_url = (state or {}).get("url")
    if isinstance(known_url, str) and same_url(known_url, hook.url):
        outs["url"] = known_url
    return outs


_LIFECYCLES: dict[Settings, Lifecycle] = {}
_WORKSPACES: dict[tuple[str, str], tuple[Workspace, Journal]] = {}
_LIFECYCLES_LOCK = threading.Lock()


def lifecycle_for(settings: Settings) -> Lifecycle:
    """The process's Lifecycle (and HTTP client) for these settings, built on first use; settings
    naming the same workspace (base URL and key) share its views and journal."""
    with _LIFECYCLES_LOCK:
        found = _LIFECYCLES.get(settings)
        if found is None:
            from .client import CopyAIClient

            client = CopyAIClient(settings.api_key, settings.base_url, timeout=settings.timeout,
                                  retry_window=settings.retry_window, names=settings.names)
            where = (client.base_url, settings.api_key or "")
            if where not in _WORKSPACES:
                _WORKSPACES[where] = (Workspace(), Journal(*where))
            found = _LIFECYCLES[settings] = Lifecycle(client, *_WORKSPACES[where])
        return found


_CHECKED: set[Settings] = set()


def check_credentials(settings: Settings) -> None:
    """Once per process and settings, when a provider starts: one list call of one item checks the key and
    the URL, so a wrong key or an unreachable API fails `pulumi preview` at once, naming the setting. An
    outage (5xx, 429) proves nothing about them and passes; so does a provider without a key yet."""
    if settings.skip_credentials_check or not settings.api_key or settings in _CHECKED:
        return
    from .errors import CopyAIAuthError, CopyAIConnectionError, CopyAIRedirectError

    client = lifecycle_for(settings).client
    started = time.monotonic()
    try:
        with reporting(None, window=""):  # its own short window, not the retry window
            client.list_webhooks(0, 1, deadline=started + CREDENTIALS_CHECK_SECONDS)
    except (CopyAIAuthError, CopyAINotFoundError, CopyAIRedirectError) as exc:
        raise exc.amended(f"found by the credentials check when the provider started (skip it with "
                          f"{settings.names.skip_check})") from None
    except CopyAIConnectionError as exc:
        raise exc.amended(
            f"the API did not answer the credentials check within {time.monotonic() - started:.0f} s; check "
            f"{settings.names.base_url}, or skip the check for an offline preview with {settings.names.skip_check}"
        ) from None
    except CopyAIError:
        pass  # an outage or an odd answer: the operations themselves wait it out or fail with it
    _CHECKED.add(settings)


def forget() -> None:
    """Drop every client, view, journal and held id of this process (for tests that reuse one process)."""
    with _LIFECYCLES_LOCK:
        for lifecycle in _LIFECYCLES.values():
            lifecycle.client.close()
        for _, journal in _WORKSPACES.values():
            journal.close()
        _LIFECYCLES.clear()
        _WORKSPACES.clear()
        _CHECKED.clear()
    HOLDINGS.forget()
