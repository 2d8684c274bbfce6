"""Fault injection and the request log: ASGI middleware wrapped around the emulator's /api routes.

Faults are armed at run time with `POST /_admin/faults` (see `app.py`), e.g. `{"mode": "status",
"status": 429, "retry_after": 1, "count": 2}`, or from tests with `Emulator.arm("status", status=429,
retry_after=1, count=2)`. Every fault takes `methods` (e.g. `["POST"]`, empty: every method) and
`path_prefix` (default "/api/"; e.g. "/api/webhook/" for the routes of one webhook, not the list).
The per-request modes apply to the next `count` matching requests, or to each matching request with
`probability`, or both (default: `count` 1). With `after` (default 0) they first let that many
matching requests through untouched, then fire: `{"mode": "status", "status": 503, "methods":
["POST"], "after": 1}` hits the second POST only. A request matches when its method and path do,
whatever other fault handles it, so each fault counts requests on its own.

- ``status``: answer at once with `status` (e.g. 429 with `retry_after`, 500, 503) without touching
  state: a POST answered so was NOT applied.
- ``latency``: wait `seconds` before handling the request normally (combines with one other mode): a
  POST is held back that long before it is applied (so a client that timed out meanwhile finds it
  applied later).
- ``late_answer``: handle the request at once (so a POST is applied and the webhook is listed), then
  wait `seconds` before sending the answer: a client whose timeout is shorter gets none.
- ``drop_after_commit``: handle the request (so a POST registers the webhook), then close the TCP
  connection without sending a byte of the response (see `connections.py` for how).
- ``non_json``: answer 200 with an HTML body.
- ``oversized``: answer 200 with a JSON body of `size` bytes (default 5 MiB).
- ``garbled_after_commit``: handle the request (so a POST registers the webhook), then answer 200
  with JSON of the wrong shape: `{"status": "success", "result": <the request's JSON body>}` (no
  `data`), as a broken proxy or API version might; the body echoes the request, url included.
- ``answer``: answer `status` (default 200) with the JSON `body` given (required; any JSON value),
  without touching state; with `"commit": true` the request is handled first (a POST is applied)
  and its own answer discarded. E.g. `{"mode": "answer", "body": {"status": "error", "errorCode":
  "INTERNAL"}}` (a 200 that says error) or a webhook whose `workflowId` is a number.
- ``redirect``: answer `status` (301, 302, 303, 307 or 308; default 307) with no body and
  `Location: <location><the request's path>[?<its query>]`, without touching state. `location` (required)
  is an absolute http(s) base URL, e.g. another emulator's `Emulator.url`: a client that follows
  the redirect sends its request (and, if careless, its key) there.
- ``ignore_page``: the request is handled as if it had no `page` parameter, so a list route answers
  its first page (of the `size` asked) whatever page was asked for, as a broken API or proxy might.
  Arm it with `probability` 1.0 (and `methods: ["GET"]`) for every list call; with the quirk
  `omit_total` on as well, nothing in the answers says where the list ends.

Two modes model a service rather than one request; they ignore `count` and `probability`:

- ``outage``: for `seconds` from the moment it is armed, every matching request answers 503
  `{"status": "error", "errorCode": "SERVICE_UNAVAILABLE"}` (with `Retry-After: <retry_after>` if
  given). With `"refuse": true` the connection is reset instead (TCP RST, SO_LINGER 0) as soon as
  the request's headers are in, without an answer and without applying the request: the client
  reads ECONNRESET ("connection reset by peer"), the closest to "connection refused" the emulator
  can get while its port stays open for /_admin. For a real refusal, stop the emulator
  (`Emulator.stop()` / `restart()`).
- ``rate_limit``: a token bucket per API key (the `x-copy-ai-api-key` value; requests without one
  share a bucket): `rate` requests per second, up to `burst` at once (default: `rate`, at least 1).
  A request finding the bucket empty answers 429 `{"status": "error", "errorCode": "RATE_LIMITED"}`
  with `Retry-After`: the seconds until a token is available, rounded up to the next 0.01 and
  written as a decimal without trailing zeros ("0.35", "1", "2.5"; not RFC 9110's integer
  delay-seconds, which urllib3's own parser rejects; `"retry_after_format": "integer"` gives whole
  seconds rounded up, at least 1). Stays until disarmed.

Precedence: an active outage answers first; then the rate limiters (a refused request takes no
token); then the per-request modes (latency first, then at most one other).

The request log (`GET /_admin/requests`) has, for every /api request: `method`, `path`, `query`,
`status` (None when no answer was sent), `fault` (the modes that hit it, "latency+status"),
`with_key` (whether an `x-copy-ai-api-key` header came), `started` and `duration`.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .responses import error_response

_STATUS_CODES = {429: "RATE_LIMITED", 500: "INTERNAL_SERVER_ERROR", 503: "SERVICE_UNAVAILABLE"}

MODES = ("status", "latency", "late_answer", "drop_after_commit", "garbled_after_commit", "non_json", "oversized",
         "answer", "redirect", "ignore_page", "outage", "rate_limit")
#: Modes that last (by time or until disarmed) instead of counting requests.
LASTING_MODES = ("outage", "rate_limit")
RETRY_AFTER_FORMATS = ("fractional", "integer")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
#: The status a mode answers when the fault does not say.
_DEFAULT_STATUS = {"redirect": 307, "answer": 200}

#: Closes a request's connection without an answer (`reset`: with an RST); False if it cannot.
Aborter = Callable[[Scope, bool], bool]


def format_retry_after(seconds: float, fmt: str = "fractional") -> str:
    """`Retry-After` for a wait of `seconds`: "0.35", "1", "2.5" (fractional) or "1", "3" (integer)."""
    if fmt == "integer":
        return str(max(1, math.ceil(seconds - 1e-9)))
    hundredths = max(1, math.ceil(seconds * 100 - 1e-6))
    whole, frac = divmod(hundredths, 100)
    return str(whole) if frac == 0 else f"{whole}.{frac:02d}".rstrip("0")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class Fault:
    mode: str
    count: int | None = None  # None: unlimited (with probability) ; 0: spent
    probability: float = 1.0
    status: int = 503
    retry_after: float | None = None
    seconds: float = 0.0
    size: int = 5 * 1024 * 1024
    methods: list[str] = field(default_factory=list)  # empty: every method
    path_prefix: str = "/api/"
    rate: float = 0.0
    burst: float | None = None
    refuse: bool = False
    retry_after_format: str = "fractional"
    after: int = 0  # matching requests still to let through before the fault fires
    location: str = ""
    body: Any = None
    commit: bool = False
    hits: int = 0
    id: int = 0  # given when armed (FaultInjector.arm), for disarming this one
    # run-time state, not part of the fault's JSON
    _until: float = field(default=0.0, repr=False)
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)

    @classmethod
    def public_fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if not f.name.startswith("_"))

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Fault:
        mode = body.get("mode")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        unknown = sorted(set(body) - set(cls.public_fields()) - {"mode"})
        settable = [f for f in cls.public_fields() if f not in ("mode", "hits", "id")]  # hits and id: the injector's
        _check(not unknown, f"unknown field(s) {', '.join(unknown)}; known: {', '.join(settable)}")
        known = {k: v for k, v in body.items() if k == "mode" or k in settable}
        if "status" not in known and mode in _DEFAULT_STATUS:
            known["status"] = _DEFAULT_STATUS[mode]
        _check(known.get("count") is None or (isinstance(known["count"], int) and not isinstance(known["count"], bool)
                                              and known["count"] >= 0), "count must be an integer >= 0 or null")
        for name in ("probability", "seconds", "rate"):
            _check(name not in known or _is_number(known[name]), f"{name} must be a number")
        for name in ("retry_after", "burst"):
            _check(known.get(name) is None or _is_number(known[name]), f"{name} must be a number or null")
        _check(not isinstance(known.get("status", 503), bool) and isinstance(known.get("status", 503), int)
               and 100 <= known.get("status", 503) <= 599, "status must be an HTTP status code")
        _check(not isinstance(known.get("size", 0), bool) and isinstance(known.get("size", 0), int)
               and known.get("size", 0) >= 0, "size must be an integer >= 0")
        _check(isinstance(known.get("methods", []), list) and all(isinstance(m, str) for m in known.get("methods", [])),
               "methods must be a list of strings")
        _check(isinstance(known.get("path_prefix", ""), str), "path_prefix must be a string")
        _check(isinstance(known.get("refuse", False), bool), "refuse must be true or false")
        _check(isinstance(known.get("commit", False), bool), "commit must be true or false")
        after = known.get("after", 0)
        _check(isinstance(after, int) and not isinstance(after, bool) and after >= 0, "after must be an integer >= 0")
        _check(not after or mode not in LASTING_MODES, f"after applies to per-request modes, not {mode}")
        _check(isinstance(known.get("location", ""), str), "location must be a string")
        if mode == "redirect":
            _check(known["status"] in REDIRECT_STATUSES,
                   f"a redirect's status must be one of {', '.join(map(str, REDIRECT_STATUSES))}")
            _check(re.match(r"https?://[^/?#\s]+", known.get("location", "")) is not None,
                   "a redirect needs location, an absolute http(s) base URL such as http://127.0.0.1:8081")
        if mode == "answer":
            _check("body" in known, "an answer needs body, the JSON value to answer with")
        _check(known.get("retry_after_format", "fractional") in RETRY_AFTER_FORMATS,
               f"retry_after_format must be one of {', '.join(RETRY_AFTER_FORMATS)}")
        fault = cls(**known)
        fault.methods = [m.upper() for m in fault.methods]
        _check(0.0 <= fault.probability <= 1.0, "probability must be within 0..1")
        _check(fault.seconds >= 0, "seconds must be >= 0")
        if fault.mode in LASTING_MODES:
            fault.count, fault.probability = None, 1.0
        elif fault.count is None and "probability" not in body:
            fault.count = 1
        if fault.mode == "late_answer":
            _check(fault.seconds > 0, "a late answer needs seconds > 0")
        if fault.mode == "outage":
            _check(fault.seconds > 0, "an outage needs seconds > 0")
            fault._until = time.monotonic() + fault.seconds
        if fault.mode == "rate_limit":
            _check(fault.rate > 0, "a rate limit needs rate > 0 (requests per second)")
            if fault.burst is None:
                fault.burst = max(1.0, fault.rate)
            _check(fault.burst >= 1, "burst must be >= 1")
        return fault

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        if self.mode == "outage":
            data["remaining_seconds"] = round(max(0.0, self._until - time.monotonic()), 3)
        return data

    def matches(self, method: str, path: str) -> bool:
        if self.count == 0 or not path.startswith(self.path_prefix):
            return False
        return not self.methods or method in self.methods

    def take_token(self, key: str, now: float) -> float:
        """Take one token from `key`'s bucket: 0.0 if there was one, else the seconds until there is."""
        assert self.burst is not None
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate


@dataclass
class Fired:
    """A fault that fires for one request; `retry_after` in seconds for rate limits."""

    fault: Fault
    retry_after: float | None = None


@dataclass
class LoggedRequest:
    seq: int
    method: str
    path: str
    query: str
    status: int | None
    fault: str | None
    with_key: bool
    started: float
    duration: float


class FaultInjector:
    """Holds armed faults and the request log; thread-safe, since admin calls may race /api calls."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._log: list[LoggedRequest] = []
        self._rng = random.Random(seed)
        self._armed = 0  # faults armed since start: each one's id

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._armed += 1
            fault.id = self._armed
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def disarm(self, fault_id: int) -> bool:
        """Disarm the fault with this id; False if no such fault is armed (any more)."""
        with self._lock:
            kept = [f for f in self._faults if f.id != fault_id]
            found = len(kept) < len(self._faults)
            self._faults = kept
        return found

    def _expire(self, now: float) -> None:
        self._faults = [f for f in self._faults if f.mode != "outage" or f._until > now]

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            self._expire(time.monotonic())
            return [f.to_json() for f in self._faults]

    def pick(self, method: str, path: str, api_key: str = "") -> list[Fired]:
        """The faults that fire for this request (see the module doc for the precedence)."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            for fault in self._faults:
                if fault.mode == "outage" and fault.matches(method, path):
                    fault.hits += 1
                    return [Fired(fault)]
            for fault in self._faults:
                if fault.mode == "rate_limit" and fault.matches(method, path):
                    wait = fault.take_token(api_key, now)
                    if wait > 0:
                        fault.hits += 1
                        return [Fired(fault, wait)]
            chosen: list[Fault] = []
            for fault in self._faults:
                if fault.mode in LASTING_MODES:
                    continue
                if not fault.matches(method, path):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue
                if self._rng.random() >= fault.probability:
                    continue
                if fault.mode != "latency" and any(f.mode != "latency" for f in chosen):
                    continue
                fault.hits += 1
                if fault.count is not None:
                    fault.count -= 1
                chosen.append(fault)
        chosen.sort(key=lambda f: f.mode != "latency")
        return [Fired(f) for f in chosen]

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            entry.seq = len(self._log)
            self._log.append(entry)

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(e) for e in self._log]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()


async def _buffered(receive: Receive) -> Receive:
    """Read the request body now and replay it to the app later."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return await receive()

    return replay


async def _replayed(body: bytes, receive: Receive) -> Receive:
    """A receive that gives `body` once more, then defers to `receive`."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _until_disconnected(receive: Receive, timeout: float = 2.0) -> None:
    """After an abort: wait for the server to notice, so it does not try to answer in our place."""

    async def drain() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(drain(), timeout)
    except asyncio.TimeoutError:
        pass


def _collect(messages: list[Message]) -> Send:
    """A send that keeps the app's messages in `messages`, to be sent later."""

    async def collect(message: Message) -> None:
        messages.append(message)

    return collect


class FaultMiddleware:
    """Applies armed faults to /api requests and logs every /api request with its outcome.

    `abort` closes a request's connection unanswered (`ConnectionRegistry.abort` under
    `copyai-emulator`); without it, `drop_after_commit` raises after applying the request (uvicorn
    then answers 500) and a refusing outage answers 503 instead.
    """

    def __init__(self, app: ASGIApp, injector: FaultInjector, abort: Aborter | None = None) -> None:
        self.app = app
        self.injector = injector
        self.abort: Aborter = abort or (lambda scope, reset: False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        started = time.time()
        outcome: dict[str, Any] = {"status": None, "fault": None}

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
            await send(message)

        try:
            await self._handle(scope, receive, logging_send, outcome)
        finally:
            self.injector.record(
                LoggedRequest(
                    0, method, path, scope.get("query_string", b"").decode(), outcome["status"],
                    outcome["fault"], any(k == b"x-copy-ai-api-key" for k, _ in scope["headers"]), started,
                    time.time() - started,
                )
            )

    async def _handle(self, scope: Scope, receive: Receive, send: Send, outcome: dict[str, Any]) -> None:
        api_key = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-copy-ai-api-key"), "")
        for fired in self.injector.pick(scope["method"], scope["path"], api_key):
            fault = fired.fault
            outcome["fault"] = fault.mode if outcome["fault"] is None else f"{outcome['fault']}+{fault.mode}"
            if fault.mode == "latency":
                # Take the whole request first: a slow server still applies a request whose
                # client gave up waiting, which is what makes timeouts ambiguous.
                receive = await _buffered(receive)
                await asyncio.sleep(fault.seconds)
            elif fault.mode == "outage":
                if fault.refuse and self.abort(scope, True):
                    await _until_disconnected(receive)
                    return
                headers = {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else None
                await error_response(503, "SERVICE_UNAVAILABLE", headers=headers)(scope, receive, send)
                return
            elif fault.mode == "rate_limit":
                retry_after = format_retry_after(fired.retry_after or 0.0, fault.retry_after_format)
                await error_response(429, "RATE_LIMITED", headers={"retry-after": retry_after})(scope, receive, send)
                return
            elif fault.mode == "status":
                code = _STATUS_CODES.get(fault.status, f"HTTP_{fault.status}")
                details = {"injected": "fault injected by the emulator"} if fault.status == 422 else None
                headers = {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else None
                await error_response(fault.status, code, details, headers)(scope, receive, send)
                return
            elif fault.mode == "late_answer":
                held: list[Message] = []
                await self.app(scope, receive, _collect(held))
                await asyncio.sleep(fault.seconds)
                for message in held:
                    await send(message)
                return
            elif fault.mode == "answer":
                if fault.commit:

                    async def ignore(message: Message) -> None:
                        return None

                    await self.app(scope, receive, ignore)
                await JSONResponse(fault.body, status_code=fault.status)(scope, receive, send)
                return
            elif fault.mode == "redirect":
                raw_path = scope.get("raw_path") or scope["path"].encode()
                query = scope.get("query_string", b"")
                target = fault.location.rstrip("/") + raw_path.decode("latin-1") \
                    + (f"?{query.decode('latin-1')}" if query else "")
                await Response(b"", status_code=fault.status, headers={"location": target})(scope, receive, send)
                return
            elif fault.mode == "ignore_page":
                query = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                                      keep_blank_values=True) if k != "page"]
                scope = {**scope, "query_string": urlencode(query).encode("latin-1")}
            elif fault.mode == "non_json":
                await HTMLResponse("<html><body>Bad gateway</body></html>")(scope, receive, send)
                return
            elif fault.mode == "oversized":
                filler = b'{"status": "success", "data": {"pad": "' + b"x" * fault.size + b'"}}'
                await Response(filler, media_type="application/json")(scope, receive, send)
                return
            elif fault.mode == "garbled_after_commit":
                receive = await _buffered(receive)
                request_body = (await receive()).get("body", b"")
                receive = await _replayed(request_body, receive)

                async def discard(message: Message) -> None:
                    return None

                await self.app(scope, receive, discard)
                try:
                    echoed = json.loads(request_body or b"{}")
                except ValueError:
                    echoed = None
                await JSONResponse({"status": "success", "result": echoed})(scope, receive, send)
                return
            elif fault.mode == "drop_after_commit":

                async def swallow(message: Message) -> None:
                    return None

                await self.app(scope, receive, swallow)
                if not self.abort(scope, False):
                    raise ConnectionAbortedError("fault: drop_after_commit")  # the server answers 500 then
                await _until_disconnected(receive)
                return
        await self.app(scope, receive, send)
