"""The emulator's HTTP application: the Copy.ai API contract (../shared/copyai-api.md) plus admin routes.

/api/...     the emulated Copy.ai API; every route needs `x-copy-ai-api-key`.
/_admin/...  test controls, no key: faults, the request log, deliveries, reset.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..events import EVENT_TYPES
from .faults import Fault, FaultInjector, FaultMiddleware
from .responses import error_response
from .store import Store

log = logging.getLogger("copyai-emulator")

Handler = Callable[[Request], Awaitable[Response]]

#: startVariables key that makes an emulated run fail instead of completing.
FAIL_VARIABLE = "emulatorOutcome"


def _not_found() -> JSONResponse:
    return error_response(404, "NOT_FOUND")


def _success(data: Any) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data})


async def _json_object(request: Request) -> dict[str, Any] | JSONResponse:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return error_response(400, "BAD_REQUEST", {"body": "the request body is not valid JSON"})
    if not isinstance(body, dict):
        return error_response(400, "BAD_REQUEST", {"body": "the request body must be a JSON object"})
    return body


def _validate_webhook(body: dict[str, Any]) -> dict[str, str]:
    details: dict[str, str] = {}
    url = body.get("url")
    if not isinstance(url, str) or not url:
        details["url"] = "url is required and must be a string"
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            details["url"] = "url must be an absolute http(s) URL"
    event_type = body.get("eventType")
    if event_type not in EVENT_TYPES:
        details["eventType"] = f"eventType must be one of {', '.join(EVENT_TYPES)}"
    workflow_id = body.get("workflowId")
    if workflow_id is not None and not isinstance(workflow_id, str):
        details["workflowId"] = "workflowId must be a string"
    return details


class Deliverer:
    """POSTs event payloads to webhook URLs from a small thread pool; failures are logged and kept."""

    def __init__(self, timeout: float = 5.0) -> None:
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="deliver")
        self._session = requests.Session()
        self._timeout = timeout
        self._lock = threading.Lock()
        self.log: list[dict[str, Any]] = []

    def deliver(self, urls: Iterable[tuple[str, str]], payload: dict[str, Any]) -> None:
        for webhook_id, url in urls:
            self._pool.submit(self._post, webhook_id, url, payload)

    def deliver_now(self, urls: Iterable[tuple[str, str]], payload: dict[str, Any]) -> None:
        for webhook_id, url in urls:
            self._post(webhook_id, url, payload)

    def _post(self, webhook_id: str, url: str, payload: dict[str, Any]) -> None:
        entry: dict[str, Any] = {"webhookId": webhook_id, "url": url, "type": payload["type"], "time": time.time()}
        try:
            resp = self._session.post(url, json=payload, timeout=self._timeout)
            entry["status"] = resp.status_code
        except requests.RequestException as exc:  # a receiver that is down must never crash the server
            entry["error"] = f"{type(exc).__name__}: {exc}"
            log.warning("delivery of %s to %s failed: %s", payload["type"], url, entry["error"])
        with self._lock:
            self.log.append(entry)

    def clear(self) -> None:
        with self._lock:
            self.log.clear()


def create_app(
    store: Store,
    api_keys: Iterable[str],
    injector: FaultInjector | None = None,
    run_seconds: float = 0.5,
) -> FaultMiddleware:
    """Build the ASGI app. `run_seconds` is how long an emulated workflow run takes."""
    keys = frozenset(api_keys)
    if not keys:
        raise ValueError("the emulator needs at least one API key")
    injector = injector or FaultInjector()
    deliverer = Deliverer()

    def api(handler: Handler) -> Handler:
        """An /api route: 401 unless `x-copy-ai-api-key` is one of the emulator's keys."""

        async def guarded(request: Request) -> Response:
            if request.headers.get("x-copy-ai-api-key") not in keys:
                return error_response(401, "UNAUTHORIZED", {"x-copy-ai-api-key": "missing or not a valid API key"})
            return await handler(request)

        return guarded

    # -- webhooks ---------------------------------------------------------------------------
    @api
    async def register_webhook(request: Request) -> Response:
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        details = _validate_webhook(body)
        if details:
            return error_response(422, "VALIDATION_ERROR", details)
        hook = store.add_webhook(body["url"], body["eventType"], body.get("workflowId") or "")
        return _success(hook.to_api())

    @api
    async def list_webhooks(request: Request) -> Response:
        details: dict[str, str] = {}
        values: dict[str, int] = {}
        for name, default, low, high in (("page", 0, 0, None), ("size", 10, 1, 100)):
            raw = request.query_params.get(name, str(default))
            try:
                values[name] = int(raw)
            except ValueError:
                details[name] = f"{name} must be an integer"
                continue
            if values[name] < low or (high is not None and values[name] > high):
                details[name] = f"{name} must be {low}..{high}" if high else f"{name} must be >= {low}"
        if details:
            return error_response(422, "VALIDATION_ERROR", details)
        total, hooks = store.list_webhooks(values["page"], values["size"])
        return JSONResponse({"total": total, "data": [h.to_api(empty_workflow=None) for h in hooks]})

    @api
    async def get_webhook(request: Request) -> Response:
        hook = store.get_webhook(request.path_params["webhook_id"])
        return _success(hook.to_api()) if hook else _not_found()

    @api
    async def delete_webhook(request: Request) -> Response:
        if not store.delete_webhook(request.path_params["webhook_id"]):
            return _not_found()
        return JSONResponse({"status": "success"})

    # -- workflow runs ----------------------------------------------------------------------
    def targets(event_type: str, workflow_id: str) -> list[tuple[str, str]]:
        return [(h.id, h.url) for h in store.webhooks_for(event_type, workflow_id)]

    def run_workflow(workflow_id: str, run_id: str, variables: dict[str, Any], metadata: dict[str, Any]) -> None:
        base = {"workflowId": workflow_id, "workflowRunId": run_id, "metadata": metadata}
        deliverer.deliver_now(targets("workflowRun.started", workflow_id),
                              {"type": "workflowRun.started", **base, "result": {}})
        time.sleep(run_seconds)
        failed = variables.get(FAIL_VARIABLE) == "failed"
        output = {} if failed else {"summary": f"emulated output for {json.dumps(variables, sort_keys=True)}"}
        store.finish_run(run_id, "FAILED" if failed else "COMPLETE", output)
        event = "workflowRun.failed" if failed else "workflowRun.completed"
        deliverer.deliver(targets(event, workflow_id), {"type": event, **base, "result": output})

    @api
    async def start_run(request: Request) -> Response:
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        variables, metadata = body.get("startVariables", {}), body.get("metadata", {})
        details = {k: f"{k} must be an object" for k, v in (("startVariables", variables), ("metadata", metadata))
                   if not isinstance(v, dict)}
        if details:
            return error_response(422, "VALIDATION_ERROR", details)
        workflow_id = request.path_params["workflow_id"]
        run_id = store.add_run(workflow_id, variables, metadata)
        threading.Thread(target=run_workflow, args=(workflow_id, run_id, variables, metadata), daemon=True).start()
        return _success({"id": run_id})

    @api
    async def get_run(request: Request) -> Response:
        run = store.get_run(request.path_params["workflow_id"], request.path_params["run_id"])
        return _success(run) if run else _not_found()

    @api
    async def list_runs(request: Request) -> Response:
        return _success(store.list_runs(request.path_params["workflow_id"]))

    # -- admin ------------------------------------------------------------------------------
    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def arm_fault(request: Request) -> Response:
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            injector.arm(Fault.from_json(body))
        except (TypeError, ValueError) as exc:
            return error_response(422, "VALIDATION_ERROR", {"fault": str(exc)})
        return JSONResponse({"faults": injector.faults()})

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            injector.clear()
        return JSONResponse({"faults": injector.faults()})

    async def requests_log(request: Request) -> Response:
        if request.method == "DELETE":
            injector.clear_requests()
        return JSONResponse({"requests": injector.requests()})

    async def deliveries(request: Request) -> Response:
        if request.method == "DELETE":
            deliverer.clear()
        return JSONResponse({"deliveries": list(deliverer.log)})

    async def credit_limit(request: Request) -> Response:
        deliverer.deliver_now([(h.id, h.url) for h in store.webhooks_for("workflowCreditLimit.reached", "")],
                              {"type": "workflowCreditLimit.reached"})
        return JSONResponse({"ok": True})

    async def reset(request: Request) -> Response:
        injector.clear()
        injector.clear_requests()
        deliverer.clear()
        store.clear()
        return JSONResponse({"ok": True})

    routes = [
        Route("/api/webhook", register_webhook, methods=["POST"]),
        Route("/api/webhook", list_webhooks, methods=["GET"]),
        Route("/api/webhook/{webhook_id}", get_webhook, methods=["GET"]),
        Route("/api/webhook/{webhook_id}", delete_webhook, methods=["DELETE"]),
        Route("/api/workflow/{workflow_id}/run", start_run, methods=["POST"]),
        Route("/api/workflow/{workflow_id}/run", list_runs, methods=["GET"]),
        Route("/api/workflow/{workflow_id}/run/{run_id}", get_run, methods=["GET"]),
        Route("/_admin/health", health, methods=["GET"]),
        Route("/_admin/faults", arm_fault, methods=["POST"]),
        Route("/_admin/faults", faults, methods=["GET", "DELETE"]),
        Route("/_admin/requests", requests_log, methods=["GET", "DELETE"]),
        Route("/_admin/deliveries", deliveries, methods=["GET", "DELETE"]),
        Route("/_admin/credit-limit", credit_limit, methods=["POST"]),
        Route("/_admin/reset", reset, methods=["POST"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return _not_found()

    app = Starlette(routes=routes, exception_handlers={404: not_found})
    return FaultMiddleware(app, injector)
