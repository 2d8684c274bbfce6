"""Find the TCP connection under a request, so a fault can drop or reset it without answering.

Why this exists: ASGI gives an application no way to close its connection without an answer. If an
app raises before `http.response.start`, the spec lets the server do as it likes and uvicorn answers
500; if it raises after, uvicorn closes the connection, but the status line and headers are already
on the wire. ASGI defines no "abort" message or extension, and neither uvicorn nor hypercorn offers
one. What uvicorn does offer publicly is the choice of its HTTP protocol class (`Config(http=...)`),
and asyncio's protocol contract says `connection_made(transport)` / `connection_lost(exc)` are
called for every connection. So `copyai-emulator` serves with a subclass of uvicorn's h11 protocol
that only records each connection's transport under its peer address (what ASGI's `scope["client"]`
holds, with proxy headers off), and the fault middleware looks the request's transport up here and
calls the public `asyncio.Transport.abort()`. No private attribute is touched.

Under any other server (no entry here) `abort` returns False and the caller falls back (see faults.py).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Mapping
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

Peer = tuple[str, int]


def _peer(info: Any) -> Peer | None:
    if isinstance(info, (list, tuple)) and len(info) >= 2:
        return str(info[0]), int(info[1])
    return None


class ConnectionRegistry:
    """Live connections of one server, by peer address; used from the event loop thread only."""

    def __init__(self) -> None:
        self._transports: dict[Peer, asyncio.Transport] = {}

    def protocol_class(self) -> type[H11Protocol]:
        """uvicorn's h11 protocol, recording each connection here: pass it as `uvicorn.Config(http=...)`."""
        registry = self

        class TrackedH11Protocol(H11Protocol):
            _copyai_peer: Peer | None = None

            def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
                super().connection_made(transport)
                self._copyai_peer = _peer(transport.get_extra_info("peername"))
                if self._copyai_peer is not None:
                    registry._transports[self._copyai_peer] = transport

            def connection_lost(self, exc: Exception | None) -> None:
                if self._copyai_peer is not None:
                    registry._transports.pop(self._copyai_peer, None)
                super().connection_lost(exc)

        return TrackedH11Protocol

    def abort(self, scope: Mapping[str, Any], reset: bool = False) -> bool:
        """Close the request's connection at once, unanswered; `reset`: with a TCP RST (SO_LINGER 0)
        instead of a FIN, so the client reads ECONNRESET. False when the connection is not known."""
        peer = _peer(scope.get("client"))
        transport = self._transports.get(peer) if peer else None
        if transport is None or transport.is_closing():
            return False
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        return True
