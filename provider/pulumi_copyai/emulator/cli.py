"""`copyai-emulator`: serve the Copy.ai API emulator."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys

DEFAULT_KEY_ENV = "COPYAI_EMULATOR_API_KEYS"

ADMIN_HELP = """\
routes without a key (loopback clients only for the dashboard):
  GET  /                           the dashboard: webhooks, runs, deliveries, faults and quirks, live; a form
                                   starts a run, buttons disarm faults and switch quirks
  GET  /_admin/overview            what the dashboard shows, as JSON (URLs masked)
  GET  /openapi.json               the OpenAPI 3.1 description of /api as served now
  POST /_admin/faults              arm a fault: {"mode": "status", "status": 429, "retry_after": 1, "count": 2},
                                   {"mode": "latency", "seconds": 3, "probability": 0.2},
                                   {"mode": "drop_after_commit", "methods": ["POST"]}, {"mode": "non_json"},
                                   {"mode": "oversized", "size": 2000000}, {"mode": "outage", "seconds": 5},
                                   {"mode": "outage", "seconds": 5, "refuse": true},
                                   {"mode": "rate_limit", "rate": 5, "burst": 10},
                                   {"mode": "late_answer", "seconds": 3, "methods": ["POST"], "after": 1},
                                   {"mode": "answer", "body": {"status": "error"}},
                                   {"mode": "redirect", "status": 308, "location": "http://127.0.0.1:8081"},
                                   {"mode": "ignore_page", "probability": 1.0, "methods": ["GET"]}
                                   (see faults.py)
  GET|DELETE /_admin/faults        list | disarm every fault
  DELETE /_admin/faults/{id}       disarm one fault (its "id" in the list)
  GET|POST /_admin/quirks          read | switch quirks: {"total_as_string": true, "omit_total": false,
                                   "normalize_urls": true}
  GET|POST /_admin/remaining-credits
                                   read | set the credits left (null: unlimited) and a run's cost:
                                   {"remaining": 10, "run_cost": 1}; /_admin/credits, its old name, takes
                                   and shows the credits left as "credits"
  POST /_admin/credit-limit        deliver workflowCreditLimit.reached now
  GET|DELETE /_admin/requests      the request log | empty it
  GET|DELETE /_admin/deliveries    the event deliveries | empty them
  POST /_admin/reset               empty everything; quirks and credits back to the command line's
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="copyai-emulator",
        description="A local emulator of the Copy.ai API (webhooks, workflow runs, event delivery).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=ADMIN_HELP,
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
    parser.add_argument("--credits", type=float, default=None,
                        help="the credits the workspace has left at start (and after /_admin/reset); runs beyond "
                             "them answer 400 WORKFLOW_CREDIT_LIMIT_REACHED (default: unlimited)")
    parser.add_argument("--run-cost", type=float, default=1.0, help="credits each workflow run costs (default: 1)")
    parser.add_argument("--quirk", action="append", dest="quirks", default=[], metavar="NAME",
                        help="switch a quirk on at start (and after /_admin/reset); repeatable: "
                             "total_as_string, omit_total, normalize_urls")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        import uvicorn

        from .app import create_app
        from .connections import ConnectionRegistry
        from .faults import FaultInjector
        from .quirks import Quirks
        from .store import Store
    except ImportError as exc:  # pragma: no cover - depends on the install
        sys.exit(f"copyai-emulator needs the emulator extra: pip install 'pulumi-copyai[emulator]' ({exc})")

    keys = args.api_keys or [k for k in os.environ.get(DEFAULT_KEY_ENV, "emulator-key").split(",") if k]
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        quirks = Quirks().updated(dict.fromkeys(args.quirks, True))
    except ValueError as exc:
        sys.exit(f"copyai-emulator: {exc}")
    if (args.credits is not None and args.credits < 0) or args.run_cost < 0:
        sys.exit("copyai-emulator: --credits and --run-cost must be >= 0")
    connections = ConnectionRegistry()
    app = create_app(Store(args.db), keys, FaultInjector(args.seed), run_seconds=args.run_seconds, quirks=quirks,
                     credits=args.credits, run_cost=args.run_cost, connections=connections)

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
    print(f"copyai-emulator listening on http://{shown}:{port} (API base URL http://{shown}:{port}/api, "
          f"dashboard http://{shown}:{port}/)", flush=True)
    # The h11 protocol class that records connections lets faults drop them (connections.py); proxy
    # headers off, so scope["client"] is the real peer.
    config = uvicorn.Config(app, log_level=args.log_level, access_log=False, timeout_graceful_shutdown=1,
                            http=connections.protocol_class(), proxy_headers=False)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
