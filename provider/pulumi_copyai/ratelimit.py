"""One rate gate per provider process and API key: every call of the process passes through it.

- A 429 with Retry-After pauses *every* call of the process until then, not just the one that got it.
- The request rate adapts (additive increase, multiplicative decrease, as TCP does): after a 429
  the gate paces requests just under the rate that was getting through; each success raises the
  pace a little; a minute without 429s lifts the pacing altogether. So a burst of 200 creates
  against a limit of 20 requests/s settles into about 20/s instead of a storm of 429s.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque

from .status import report

#: After this long without a 429 the gate stops pacing.
CALM_SECONDS = 60.0
#: Pace after a 429: this fraction of the rate that was getting through (first 429), or of the pace.
DECREASE = 0.95
#: Requests per second added to the pace by each success.
INCREASE = 0.02

MIN_RATE = 0.5


class RateGate:
    """Thread-safe; `wait()` before each request, then `succeeded()` or `throttled(retry_after)`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self._next_slot = 0.0
        self._last_throttle = -CALM_SECONDS
        self._last_decrease = -CALM_SECONDS
        #: Requests per second, or None while no 429 has been seen recently.
        self.rate: float | None = None
        self._successes: deque[float] = deque()
        self.throttles = 0

    def wait(self, deadline: float | None = None) -> float:
        """Block until this request may go (never past `deadline`, a time.monotonic() value); returns
        the time it went, for `throttled`."""
        with self._lock:
            now = time.monotonic()
            if self.rate is not None and now - self._last_throttle > CALM_SECONDS:
                self.rate = None
            start = max(now, self._paused_until)
            if self.rate is not None:
                start = max(start, self._next_slot)
                self._next_slot = start + 1.0 / self.rate
        if deadline is not None:
            start = min(start, deadline)
        if start > now:
            if start - now >= 1.0:
                report(f"waiting {start - now:.0f} s: the API asked this provider to slow down (HTTP 429 "
                       "with Retry-After); every call of the provider waits with this one")
            time.sleep(start - now)
        return time.monotonic()

    def succeeded(self) -> None:
        with self._lock:
            now = time.monotonic()
            self._successes.append(now)
            while self._successes and self._successes[0] < now - 1.0:
                self._successes.popleft()
            if self.rate is not None:
                self.rate += INCREASE

    def throttled(self, retry_after: float | None, sent: float | None = None) -> None:
        """A 429 for a request that went at `sent`: pause everyone for `retry_after` seconds and
        slow the pace down, once per event (a request sent before the last slow-down was already
        in flight then: its 429 is the same event, as TCP counts one loss per round trip)."""
        with self._lock:
            now = time.monotonic()
            self.throttles += 1
            same_event = sent is not None and sent <= self._last_decrease
            self._last_throttle = now
            if retry_after:
                self._paused_until = max(self._paused_until, now + retry_after)
            while self._successes and self._successes[0] < now - 1.0:
                self._successes.popleft()
            got = float(len(self._successes))  # requests that got through in the last second
            if self.rate is None:
                if got >= 2:  # too little history says nothing about the limit: Retry-After alone then
                    self.rate = DECREASE * got
                    self._last_decrease = now
            elif not same_event:
                self.rate = max(MIN_RATE, DECREASE * self.rate)
                self._last_decrease = now
            self._next_slot = max(self._next_slot, self._paused_until)


_GATES: dict[tuple[str, str], RateGate] = {}
_GATES_LOCK = threading.Lock()


def gate_for(base_url: str, api_key: str) -> RateGate:
    """The process's gate for this API and key (the key is only hashed, never kept)."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    with _GATES_LOCK:
        return _GATES.setdefault((base_url, digest), RateGate())
