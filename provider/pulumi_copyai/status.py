"""What a resource is waiting for, told to the operator while it waits.

A front door runs each resource operation inside `reporting(reporter, window=...)`: the reporter puts a
line on that resource's row of the engine's progress display (the plugin: the engine's Log RPC with the
resource's URN, `ephemeral`); `window` names the setting that bounds the wait (`copyai:retryWindowSeconds`,
an explicit provider's `retryWindowSeconds`, a resource's `customTimeouts`). The client and the core call
`report(...)` only when a call waits: nothing is said per request when nothing is wrong.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

Reporter = Callable[[str], None]


@dataclass(frozen=True)
class _Context:
    reporter: Reporter | None
    window: str


_CURRENT: contextvars.ContextVar[_Context | None] = contextvars.ContextVar("copyai_status", default=None)
#: The window's setting when no front door said (direct use of the client).
DEFAULT_WINDOW = "copyai:retryWindowSeconds (or COPYAI_RETRY_WINDOW_SECONDS)"


@contextmanager
def reporting(reporter: Reporter | None, window: str = DEFAULT_WINDOW) -> Iterator[None]:
    """Within this block (this thread or task), waits are reported to `reporter`."""
    token = _CURRENT.set(_Context(reporter, window))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def report(message: str) -> None:
    """Tell the operator what the current resource waits for (never fails the operation)."""
    context = _CURRENT.get()
    if context is not None and context.reporter is not None:
        try:
            context.reporter(message)
        except Exception:
            pass


def window_setting() -> str:
    """The setting that bounds the current operation's retries, as messages name it."""
    context = _CURRENT.get()
    return context.window if context is not None else DEFAULT_WINDOW
