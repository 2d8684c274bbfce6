"""Start the emulator in a subprocess for tests: `with Emulator() as emu: ... emu.base_url ...`."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

_LISTENING = re.compile(r"listening on (http://\S+)")


def _session() -> requests.Session:
    """A session for the helpers: a GET that meets a keep-alive connection the server closed at the same
    moment (ECONNRESET before any answer) is sent again; nothing else is retried."""
    session = requests.Session()
    retry = Retry(total=3, connect=3, read=2, status=0, other=0, allowed_methods={"GET"}, backoff_factor=0.05,
                  raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


class Emulator:
    """A `copyai-emulator` subprocess on a free loopback port, with helpers for its admin routes."""

    def __init__(
        self,
        api_key: str = "emulator-key",
        db: str | None = None,
        run_seconds: float = 0.2,
        seed: int | None = 1234,
        port: int = 0,
        extra_args: list[str] | None = None,
        quirks: dict[str, bool] | None = None,
        credits: float | None = None,
        run_cost: float | None = None,
    ) -> None:
        """`quirks` (e.g. `{"total_as_string": True}`) and the credit budget `credits` (None: unlimited,
        each run costing `run_cost`, default 1) hold from the start and are restored by `reset()`."""
        self.api_key = api_key
        self.db = db
        self.run_seconds = run_seconds
        self.seed = seed
        self.port = port
        self.extra_args = extra_args or []
        self.initial_quirks = dict(quirks or {})
        self.initial_credits = credits
        self.run_cost = run_cost
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._http = _session()
        self.output: list[str] = []

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, timeout: float = 20.0) -> Emulator:
        cmd = [sys.executable, "-m", "pulumi_copyai.emulator.cli", "--port", str(self.port),
               "--api-key", self.api_key, "--run-seconds", str(self.run_seconds), *self.extra_args]
        if self.db:
            cmd += ["--db", self.db]
        if self.seed is not None:
            cmd += ["--seed", str(self.seed)]
        cmd += [arg for name, on in self.initial_quirks.items() if on for arg in ("--quirk", name)]
        if self.initial_credits is not None:
            cmd += ["--credits", str(self.initial_credits)]
        if self.run_cost is not None:
            cmd += ["--run-cost", str(self.run_cost)]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        found = threading.Event()

        def pump() -> None:
            assert self._proc is not None and self._proc.stdout is not None
            for line in self._proc.stdout:
                self.output.append(line)
                match = _LISTENING.search(line)
                if match and not found.is_set():
                    self.url = match.group(1)
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        if not found.wait(timeout):
            self.stop()
            raise RuntimeError("copyai-emulator did not start:\n" + "".join(self.output))
        self.port = int(self.url.rsplit(":", 1)[1])
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._http.get(f"{self.url}/_admin/health", timeout=1).raise_for_status()
                return
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self, kill: bool = False) -> None:
        """Stop the process (SIGTERM; `kill`: SIGKILL, as a crash). The port stays in `self.port`."""
        if self._proc and self._proc.poll() is None:
            if kill:
                self._proc.kill()
            else:
                self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def restart(self, downtime: float = 0.0, kill: bool = False, timeout: float = 20.0) -> Emulator:
        """Stop the process and start it again on the same port with the same `--db` file (without
        `db` the state starts empty). During `downtime` seconds connections are refused."""
        self.stop(kill=kill)
        if downtime > 0:
            time.sleep(downtime)
        return self.start(timeout)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- the API, as a client would see it ---------------------------------------------------
    @property
    def base_url(self) -> str:
        """The value for `copyai:baseUrl` / COPYAI_BASE_URL."""
        return f"{self.url}/api"

    def env(self) -> dict[str, str]:
        """Environment that points the provider at this emulator."""
        return {"COPYAI_BASE_URL": self.base_url, "COPYAI_API_KEY": self.api_key}

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"x-copy-ai-api-key": self.api_key, **kwargs.pop("headers", {})}
        return self._http.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)

    def webhooks(self) -> list[dict[str, Any]]:
        """Every registered webhook, through the paginated list route (whatever the quirks; under an
        `ignore_page` fault only the first 100 can be seen: disarm it to count them all)."""
        return self._pages("/webhook", nested=False)

    def runs(self, workflow_id: str) -> list[dict[str, Any]]:
        """Every run of a workflow, through the paginated (nested) list route."""
        return self._pages(f"/workflow/{workflow_id}/run/", nested=True)

    def _pages(self, path: str, nested: bool) -> list[dict[str, Any]]:
        """Read pages of 100 until a short page, the total, or a page that brings nothing new."""
        found: dict[str, dict[str, Any]] = {}
        page = 0
        while True:
            resp = self.api("GET", path, params={"page": page, "size": 100})
            resp.raise_for_status()
            body = resp.json()["data"] if nested else resp.json()
            new = {item["id"]: item for item in body["data"] if item["id"] not in found}
            found.update(new)
            done = len(found) >= int(body["total"]) if "total" in body else len(body["data"]) < 100
            if not new or done:
                return list(found.values())
            page += 1

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document the emulator serves (GET /openapi.json)."""
        resp = self._http.get(f"{self.url}/openapi.json", timeout=30)
        resp.raise_for_status()
        return dict(resp.json())

    # -- admin ------------------------------------------------------------------------------
    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self._http.request(method, f"{self.url}/_admin{path}", timeout=30, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def arm(self, mode: str, **fault: Any) -> list[dict[str, Any]]:
        """Arm a fault (the modes and fields: `pulumi_copyai.emulator.faults`); returns every armed fault.

        Per-request modes fire on the next `count` (default 1) matching requests, or with
        `probability`; `after=n` first lets n matching requests through. Examples::

            arm("status", status=429, retry_after=1, count=2, methods=["POST"])  # answered, not applied
            arm("status", status=503, methods=["POST"], after=1)       # the second POST only
            arm("latency", seconds=2, methods=["POST"])                # held back 2 s, then applied
            arm("late_answer", seconds=2, methods=["POST"], after=1)   # the second POST applied, answered 2 s late
            arm("status", status=500, methods=["GET"], path_prefix="/api/webhook/")  # GET of one webhook, not the list
            arm("answer", body={"status": "error", "errorCode": "X"}, commit=True)   # applied, then a 200 saying error
            arm("redirect", status=308, location=other.url, probability=1.0)       # every request sent elsewhere
            arm("ignore_page", probability=1.0, methods=["GET"])      # every list answers page 0 (+ quirk omit_total)
        """
        return list(self.admin("POST", "/faults", json={"mode": mode, **fault})["faults"])

    def disarm(self) -> None:
        self.admin("DELETE", "/faults")

    def requests(self, method: str | None = None, path_prefix: str = "/api/") -> list[dict[str, Any]]:
        """The request log: every /api call with its status and the fault that hit it."""
        return [r for r in self.admin("GET", "/requests")["requests"]
                if (method is None or r["method"] == method) and r["path"].startswith(path_prefix)]

    def clear_requests(self) -> None:
        self.admin("DELETE", "/requests")

    def call_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.requests():
            counts[r["method"]] = counts.get(r["method"], 0) + 1
        return counts

    def deliveries(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "/deliveries")["deliveries"])

    def reset(self) -> None:
        """Empty the state, faults, logs; restore the quirks and the credit budget given at start."""
        self.admin("POST", "/reset")

    def quirks(self, **flags: bool) -> dict[str, bool]:
        """Switch quirks, e.g. `quirks(total_as_string=True)`; returns every quirk's value (no flags: read)."""
        body = self.admin("POST", "/quirks", json=flags) if flags else self.admin("GET", "/quirks")
        return dict(body["quirks"])

    def set_credits(self, credits: float | None, run_cost: float | None = None) -> dict[str, Any]:
        """Set the credits left (None: unlimited), optionally the cost of a run; returns `credits()`."""
        body: dict[str, Any] = {"credits": credits}
        if run_cost is not None:
            body["run_cost"] = run_cost
        return dict(self.admin("POST", "/credits", json=body))

    def credits(self) -> dict[str, Any]:
        """`{"credits": left or None, "run_cost": c, "used": u, "limit_reached": bool}`."""
        return dict(self.admin("GET", "/credits"))


class Receiver:
    """A webhook receiver (`copyai-receiver`'s app) on a free loopback port, served from a thread of
    this process: `with Receiver() as rx: ... rx.url ... rx.events`. `delay`: seconds before each answer."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.events: list[dict[str, Any]] = []
        self.url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> Receiver:
        import socket

        import uvicorn

        from .receiver import create_receiver_app

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        app = create_receiver_app(self.events, delay=self.delay)
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the receiver did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
        self._server = self._thread = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least `count` events arrived; returns them all."""
        deadline = time.monotonic() + timeout
        while len(self.events) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.events)} of {count} events arrived: {self.events}")
            time.sleep(0.02)
        return list(self.events)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def running_emulator(**kwargs: Any) -> Iterator[Emulator]:
    """Generator form for pytest fixtures: `yield from running_emulator()`."""
    emu = Emulator(**kwargs).start()
    try:
        yield emu
    finally:
        emu.stop()


__all__ = ["Emulator", "Receiver", "running_emulator"]
