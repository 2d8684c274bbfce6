"""`copyai-emulator`: serve the Copy.ai API emulator."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys

DEFAULT_KEY_ENV = "COPYAI_EMULATOR_API_KEYS"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="copyai-emulator",
        description="A local emulator of the Copy.ai API (webhooks, workflow runs, event delivery).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port to bind; 0 picks a free one (default: 8787)")
    parser.add_argument("--db", default=None, help="SQLite file for persistent state (default: in memory)")
    parser.add_argument(
        "--api-key", action="append", dest="api_keys", default=None,
        help=f"an accepted x-copy-ai-api-key; repeatable (default: ${DEFAULT_KEY_ENV}, comma-separated, "
             "else 'emulator-key')",
    )
    parser.add_argument("--run-seconds", type=float, default=0.5, help="how long an emulated workflow run takes")
    parser.add_argument("--seed", type=int, default=None, help="seed for probabilistic faults")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        import uvicorn

        from .app import create_app
        from .faults import FaultInjector
        from .store import Store
    except ImportError as exc:  # pragma: no cover - depends on the install
        sys.exit(f"copyai-emulator needs the emulator extra: pip install 'pulumi-copyai[emulator]' ({exc})")

    keys = args.api_keys or [k for k in os.environ.get(DEFAULT_KEY_ENV, "emulator-key").split(",") if k]
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app(Store(args.db), keys, FaultInjector(args.seed), run_seconds=args.run_seconds)

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only then (else keep-alive
    # requests stall ~40 ms on delayed ACKs).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
        sock.listen(128)  # connections made right after the address is printed wait in the backlog
    except OSError as exc:
        sys.exit(f"copyai-emulator: cannot bind {args.host}:{args.port}: {exc.strerror}")
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    print(f"copyai-emulator listening on http://{shown}:{port} (API base URL http://{shown}:{port}/api)", flush=True)
    config = uvicorn.Config(app, log_level=args.log_level, access_log=False, timeout_graceful_shutdown=1)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
