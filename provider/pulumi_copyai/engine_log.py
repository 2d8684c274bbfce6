"""Status lines in the engine's progress display, through the engine's own Log RPC.

A provider plugin gets the engine's address as its first argument. An ephemeral INFO message with a
resource's URN replaces that resource's status text in `pulumi up`'s display (and is recorded in
`--event-log` / `--json` output as an ephemeral diagnostic) without staying in the final diagnostics.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

#: Give up on a status line after this long: it is never worth slowing an operation down.
LOG_TIMEOUT_SECONDS = 2.0


def engine_address(argv: list[str] | None = None) -> str | None:
    """The engine's address among a plugin's arguments (the first that is not a flag), if any."""
    args = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    return args[0] if args and ":" in args[0] else None


class EngineLog:
    """A lazily opened channel to the engine; thread-safe; every failure is swallowed."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self._lock = threading.Lock()
        self._stub: Any = None
        self._broken = address is None

    def status(self, urn: str, message: str, ephemeral: bool = True) -> None:
        """Show `message` as the resource's current status (ephemeral), or, without a URN, as an info line
        of the stack (the engine shows no ephemeral line without a URN)."""
        stub = self._connect()
        if stub is None:
            return
        from pulumi.runtime.proto import engine_pb2

        try:
            stub.Log(engine_pb2.LogRequest(severity=engine_pb2.INFO, message=message, urn=urn, ephemeral=ephemeral),
                     timeout=LOG_TIMEOUT_SECONDS)
        except Exception:
            self._broken = True  # the engine went away or never listened: stay silent from now on

    def _connect(self) -> Any:
        if self._broken:
            return None
        with self._lock:
            if self._stub is None and self.address is not None:
                import grpc
                from pulumi.runtime.proto import engine_pb2_grpc

                self._stub = engine_pb2_grpc.EngineStub(grpc.insecure_channel(self.address))
            return self._stub
