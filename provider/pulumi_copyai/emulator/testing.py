"""Start the emulator in a subprocess for tests: `with Emulator() as emu: ... emu.base_url ...`."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import requests

_LISTENING = re.compile(r"listening on (http://\S+)")


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
    ) -> None:
        self.api_key = api_key
        self.db = db
        self.run_seconds = run_seconds
        self.seed = seed
        self.port = port
        self.extra_args = extra_args or []
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._http = requests.Session()
        self.output: list[str] = []

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, timeout: float = 20.0) -> Emulator:
        cmd = [sys.executable, "-m", "pulumi_copyai.emulator.cli", "--port", str(self.port),
               "--api-key", self.api_key, "--run-seconds", str(self.run_seconds), *self.extra_args]
        if self.db:
            cmd += ["--db", self.db]
        if self.seed is not None:
            cmd += ["--seed", str(self.seed)]
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
        import time

        deadline = time.monotonic() + timeout
        while True:
            try:
                self._http.get(f"{self.url}/_admin/health", timeout=1).raise_for_status()
                return
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

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
        """Every registered webhook, through the paginated list route."""
        found: list[dict[str, Any]] = []
        page = 0
        while True:
            resp = self.api("GET", "/webhook", params={"page": page, "size": 100})
            resp.raise_for_status()
            body = resp.json()
            found += body["data"]
            if not body["data"] or len(found) >= int(body["total"]):
                return found
            page += 1

    # -- admin ------------------------------------------------------------------------------
    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self._http.request(method, f"{self.url}/_admin{path}", timeout=30, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def arm(self, mode: str, **fault: Any) -> None:
        """Arm a fault, e.g. `arm("status", status=429, retry_after=1, count=2, methods=["POST"])`."""
        self.admin("POST", "/faults", json={"mode": mode, **fault})

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
        self.admin("POST", "/reset")


def running_emulator(**kwargs: Any) -> Iterator[Emulator]:
    """Generator form for pytest fixtures: `yield from running_emulator()`."""
    emu = Emulator(**kwargs).start()
    try:
        yield emu
    finally:
        emu.stop()


__all__ = ["Emulator", "running_emulator"]
