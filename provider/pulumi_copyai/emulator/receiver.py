"""`copyai-receiver`: a local endpoint that prints every webhook event it receives as a JSON line."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import socket
import sys
import time
from typing import Any


def create_receiver_app(events: list[dict[str, Any]] | None = None, out: Any = None, delay: float = 0.0) -> Any:
    """An ASGI app that answers 200 to any POST (after `delay` seconds) and records the JSON body it got."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    received = events if events is not None else []

    async def receive(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        event = {"path": request.url.path, "received": time.time(), "body": body}
        received.append(event)
        if out is not None:
            print(json.dumps(event), file=out, flush=True)
        if delay > 0:
            await asyncio.sleep(delay)
        return JSONResponse({"ok": True})

    async def list_events(request: Request) -> JSONResponse:
        return JSONResponse({"events": received})

    return Starlette(routes=[
        Route("/_events", list_events, methods=["GET"]),
        Route("/{path:path}", receive, methods=["POST"]),
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="copyai-receiver", description="Print Copy.ai webhook events as JSON lines.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8788, help="port to bind; 0 picks a free one (default: 8788)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering each event")
    args = parser.parse_args(argv)
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the install
        sys.exit(f"copyai-receiver needs the emulator extra: pip install 'pulumi-copyai[emulator]' ({exc})")

    # Bound before anything is printed: "listening" means a POST can be received now.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        hint = (f"another process listens on port {args.port} (e.g. the receiver `make up` started: "
                "`make emulator-stop`); stop it, or choose another port, e.g. --port 0 (a free one)"
                if exc.errno == errno.EADDRINUSE else "check --host and --port")
        sys.exit(f"copyai-receiver: cannot listen on {args.host}:{args.port}: {exc.strerror}; {hint}")
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    print(f"copyai-receiver listening on http://{shown}:{port}", file=sys.stderr, flush=True)
    app = create_receiver_app(out=sys.stdout, delay=args.delay)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


if __name__ == "__main__":
    main()
