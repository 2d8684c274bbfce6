"""Which webhook is ours: the rules, in one place, and the evidence they rest on.

Copy.ai webhooks carry no owner label, and the API has no idempotency key, so "same url, event
type and workflow" says nothing about who registered a webhook. A provider process proves ownership
from what it saw itself:

1. **Views.** Every read of the workspace's webhook list is a view, remembered with the moment it
   completed. A webhook in a view completed before a POST was sent existed before that POST: the
   POST did not register it. Before a process sends its first POST it takes a view (one scan of
   the list), and it takes another in the background when the last is older than
   `VIEW_REFRESH_SECONDS`.
2. **Holdings.** Every id a resource of this process has (created or adopted here, or met in a
   diff, read or delete) is held; ids that a live resource keeps after this run (created, adopted,
   or diffed without replacement) are kept.
3. **One create per declaration at a time.** Creates of identical declarations (same normalized
   url, event type and workflow) run one after another in a process, so no other create of the
   process can register a look-alike while one is being recovered.
4. **Recovery of an ambiguous POST** (the answer was lost; it may have been applied) adopts a
   webhook only when it matches the declaration, appears in no view completed before the first
   POST of this create was sent, and is held by no resource of the process. Anything else is
   someone's: a renamed resource's old webhook, a twin's, another stack's, a hand-made one.
5. **Deletes.** A webhook that another resource of this process keeps is never deleted for the
   resource that is going away (a rename with `import_id`, or a state that lists one webhook
   twice): the engine is told it is deleted, the API is not called.

What a process cannot see is another process registering the same url, event type and workflow
between its last view and its POST: see the README's "Failure modes and guarantees".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .model import Webhook, normalize_url

#: A view older than this at a POST's send time starts a new one in the background.
VIEW_REFRESH_SECONDS = 10.0


@dataclass(frozen=True)
class Key:
    """What makes two declarations identical: the url as an API may store it, event type, workflow."""

    url: str
    event_type: str
    workflow_id: str | None

    @classmethod
    def of(cls, url: str, event_type: str, workflow_id: str | None) -> Key:
        return cls(normalize_url(url), event_type, workflow_id or None)

    def matches(self, hook: Webhook) -> bool:
        return hook.matches(self.url, self.event_type, self.workflow_id)


class Views:
    """The webhooks seen in one workspace's list, each with the moment the first view showing it completed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._first_seen: dict[str, tuple[float, Webhook]] = {}
        self._latest: float | None = None

    def record(self, hooks: Iterable[Webhook], completed: float) -> None:
        """A listing that completed at `completed` (time.monotonic()) showed `hooks`."""
        with self._lock:
            for hook in hooks:
                self._first_seen.setdefault(hook.id, (completed, hook))
            if self._latest is None or completed > self._latest:
                self._latest = completed

    @property
    def latest(self) -> float | None:
        """When the newest view completed, or None before the first."""
        with self._lock:
            return self._latest

    def existed_before(self, webhook_id: str, moment: float) -> bool:
        """True when a view completed before `moment` showed this webhook."""
        with self._lock:
            seen = self._first_seen.get(webhook_id)
        return seen is not None and seen[0] <= moment

    def matching_before(self, key: Key, moment: float) -> list[str]:
        """Ids of the webhooks matching `key` that views completed before `moment` showed."""
        with self._lock:
            return [hid for hid, (at, hook) in self._first_seen.items() if at <= moment and key.matches(hook)]


class Holdings:
    """The ids resources of this process hold, and those a live resource keeps after this run.

    Webhook ids are unique across workspaces, so one registry serves every API configuration.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._kept: set[str] = set()

    def hold(self, webhook_id: str) -> None:
        """A resource has this id (seen in a read, delete, or a diff that replaces it)."""
        with self._lock:
            self._held.add(webhook_id)

    def keep(self, webhook_id: str) -> None:
        """A resource keeps this id after this run (created, adopted, or diffed without replacement)."""
        with self._lock:
            self._held.add(webhook_id)
            self._kept.add(webhook_id)

    def claim(self, webhook_id: str) -> bool:
        """Take this id for a resource that keeps it, unless a resource of the process holds it already."""
        with self._lock:
            if webhook_id in self._held:
                return False
            self._held.add(webhook_id)
            self._kept.add(webhook_id)
            return True

    def is_held(self, webhook_id: str) -> bool:
        with self._lock:
            return webhook_id in self._held

    def is_kept(self, webhook_id: str) -> bool:
        with self._lock:
            return webhook_id in self._kept

    def forget(self) -> None:
        with self._lock:
            self._held.clear()
            self._kept.clear()


class OneAtATime:
    """A lock per declaration key: identical declarations are created one after another."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[Key, threading.Lock] = {}

    @contextmanager
    def on(self, key: Key) -> Iterator[None]:
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield


def recoverable(found: Iterable[Webhook], key: Key, first_sent: float, views: Views,
                holdings: Holdings) -> list[Webhook]:
    """Rule 4: the webhooks an ambiguous POST (of a create whose first POST was sent at `first_sent`)
    may have registered: matching, in no view completed before that moment, held by no resource."""
    return [hook for hook in found
            if key.matches(hook) and not views.existed_before(hook.id, first_sent)
            and not holdings.is_held(hook.id)]


def may_delete(webhook_id: str, holdings: Holdings) -> bool:
    """Rule 5: False when another resource of this process keeps this webhook."""
    return not holdings.is_kept(webhook_id)


class Workspace:
    """The views of one workspace (API base URL and key) and the rules' bookkeeping for it."""

    def __init__(self) -> None:
        self.views = Views()
        self._first_view = threading.Lock()
        self._refreshing = threading.Lock()

    def observe(self, hooks: Iterable[Webhook], completed: float | None = None) -> None:
        """A listing of the workspace completed (now, unless told when)."""
        self.views.record(hooks, time.monotonic() if completed is None else completed)

    def ensure_view(self, scan: Callable[[], list[Webhook]]) -> None:
        """Before a POST: a view exists (`scan` now if none, shared by concurrent callers); one older
        than VIEW_REFRESH_SECONDS is renewed in the background."""
        if self.views.latest is None:
            with self._first_view:
                if self.views.latest is None:
                    self.observe(scan())
            return
        latest = self.views.latest
        if latest is not None and time.monotonic() - latest > VIEW_REFRESH_SECONDS and self._refreshing.acquire(
                blocking=False):
            threading.Thread(target=self._refresh, args=(scan,), name="copyai-view", daemon=True).start()

    def _refresh(self, scan: Callable[[], list[Webhook]]) -> None:
        try:
            self.observe(scan())
        except Exception:
            pass  # a missed refresh leaves the previous view as the evidence: older, still true
        finally:
            self._refreshing.release()
