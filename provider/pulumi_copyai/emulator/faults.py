"""Fault injection and the request log: ASGI middleware wrapped around the emulator's /api routes.

Faults are armed at run time through the admin routes (see `app.py`). Each fault applies to the
next `count` matching requests, or to each matching request with `probability`, or both.

Modes:
- ``status``: answer at once with `status` (e.g. 429 with `retry_after`, 500, 503) without touching state.
- ``latency``: wait `seconds` before handling the request normally.
- ``drop_after_commit``: handle the request (so a POST registers the webhook), then abort the
  TCP connection without sending a byte of the response.
- ``non_json``: answer 200 with an HTML body.
- ``oversized``: answer 200 with a JSON body of `size` bytes (default 5 MiB).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .responses import error_response

_STATUS_CODES = {429: "RATE_LIMITED", 500: "INTERNAL_SERVER_ERROR", 503: "SERVICE_UNAVAILABLE"}

MODES = ("status", "latency", "drop_after_commit", "non_json", "oversized")


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
    hits: int = 0

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Fault:
        mode = body.get("mode")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        known = {k: v for k, v in body.items() if k in cls.__dataclass_fields__ and k != "hits"}
        fault = cls(**known)
        fault.methods = [m.upper() for m in fault.methods]
        if fault.count is None and "probability" not in body:
            fault.count = 1
        if not 0.0 <= fault.probability <= 1.0:
            raise ValueError("probability must be within 0..1")
        return fault

    def matches(self, method: str, path: str) -> bool:
        if self.count == 0 or not path.startswith(self.path_prefix):
            return False
        return not self.methods or method in self.methods


@dataclass
class LoggedRequest:
    seq: int
    method: str
    path: str
    query: str
    status: int | None
    fault: str | None
    started: float
    duration: float


class FaultInjector:
    """Holds armed faults and the request log; thread-safe, since admin calls may race /api calls."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._log: list[LoggedRequest] = []
        self._rng = random.Random(seed)

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def pick(self, method: str, path: str) -> list[Fault]:
        """The faults that fire for this request (latency first, then at most one other)."""
        chosen: list[Fault] = []
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path) or self._rng.random() >= fault.probability:
                    continue
                if fault.mode != "latency" and any(f.mode != "latency" for f in chosen):
                    continue
                fault.hits += 1
                if fault.count is not None:
                    fault.count -= 1
                chosen.append(fault)
        chosen.sort(key=lambda f: f.mode != "latency")
        return chosen

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


def _abort_connection(send: Send) -> bool:
    """Abort the TCP connection under this request (uvicorn keeps the transport on the send's owner)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return False
    transport.abort()
    return True


class FaultMiddleware:
    """Applies armed faults to /api requests and logs every /api request with its outcome."""

    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

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
            await self._handle(scope, receive, send, logging_send, outcome)
        finally:
            self.injector.record(
                LoggedRequest(
                    0, method, path, scope.get("query_string", b"").decode(), outcome["status"],
                    outcome["fault"], started, time.time() - started,
                )
            )

    async def _handle(
        self, scope: Scope, receive: Receive, raw_send: Send, send: Send, outcome: dict[str, Any]
    ) -> None:
        for fault in self.injector.pick(scope["method"], scope["path"]):
            outcome["fault"] = fault.mode if outcome["fault"] is None else f"{outcome['fault']}+{fault.mode}"
            if fault.mode == "latency":
                # Take the whole request first: a slow server still applies a request whose
                # client gave up waiting, which is what makes timeouts ambiguous.
                receive = await _buffered(receive)
                await asyncio.sleep(fault.seconds)
            elif fault.mode == "status":
                code = _STATUS_CODES.get(fault.status, f"HTTP_{fault.status}")
                details = {"injected": "fault injected by the emulator"} if fault.status == 422 else None
                headers = {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else None
                await error_response(fault.status, code, details, headers)(scope, receive, send)
                return
            elif fault.mode == "non_json":
                await HTMLResponse("<html><body>Bad gateway</body></html>")(scope, receive, send)
                return
            elif fault.mode == "oversized":
                filler = b'{"status": "success", "data": {"pad": "' + b"x" * fault.size + b'"}}'
                await Response(filler, media_type="application/json")(scope, receive, send)
                return
            elif fault.mode == "drop_after_commit":

                async def swallow(message: Message) -> None:
                    return None

                await self.app(scope, receive, swallow)
                if not _abort_connection(raw_send):
                    raise ConnectionAbortedError("fault: drop_after_commit")  # the server answers 500 then
                return
        await self.app(scope, receive, send)
