"""The emulator's HTTP application: the Copy.ai API contract (docs/copyai-api.md) plus admin routes.

/api/...       the emulated Copy.ai API; every route needs `x-copy-ai-api-key`. The routes are built
               from `openapi.OPERATIONS`, which also gives `GET /openapi.json`.
/openapi.json  the OpenAPI 3.1 description of /api as served now (no key).
/_admin/...    test controls, no key: faults, quirks, remaining credits, the request log, deliveries, reset.
/              the dashboard (dashboard.py): the same data in a browser, refreshed live; /_admin/overview as JSON.

Nothing blocks the event loop: SQLite calls run in Starlette's thread pool, workflow runs are asyncio
tasks, and events are POSTed with an `httpx.AsyncClient`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..events import EVENT_TYPES
from ..origin import key_fingerprint
from . import dashboard, openapi
from .connections import ConnectionRegistry
from .dashboard import RunRefused
from .faults import Fault, FaultInjector, FaultMiddleware
from .overview import Sources
from .quirks import Quirks, normalize_url
from .responses import empty_response, error_response
from .store import Store

log = logging.getLogger("copyai-emulator")

Handler = Callable[[Request], Awaitable[Response]]

CREDIT_LIMIT_EVENT = "workflowCreditLimit.reached"
#: Pages beyond this read as empty (keeps OFFSET within SQLite's 64-bit integers).
_MAX_PAGE = 10**15
_INTEGER = re.compile(r"-?[0-9]+")


def _not_found() -> JSONResponse:
    return error_response(404, "NOT_FOUND")


def _success(data: Any) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data})


async def _json_object(request: Request) -> dict[str, Any] | Response:
    """The body as a JSON object, or 400 `{"status": "error", "errorCode": "BAD_REQUEST"}`."""
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return error_response(400, "BAD_REQUEST")
    if not isinstance(body, dict):
        return error_response(400, "BAD_REQUEST")
    return body


def _paging(request: Request, error_code: str) -> tuple[int, int] | Response:
    """(page, size) of a list route: 400 `{}` if one is not an integer, 422 with details if out of range."""
    values: dict[str, int] = {}
    details: dict[str, str] = {}
    for name, default, low, high in (openapi.PAGE, openapi.SIZE):
        raw = request.query_params.get(name)
        if raw is None:
            values[name] = default
            continue
        if not _INTEGER.fullmatch(raw):
            return empty_response(400)
        values[name] = int(raw)
        if values[name] < low or (high is not None and values[name] > high):
            details[name] = f"{name} must be {low}..{high}" if high is not None else f"{name} must be >= {low}"
    if details:
        return error_response(422, error_code, details)
    return min(values["page"], _MAX_PAGE), values["size"]


def _validate_webhook(body: dict[str, Any]) -> dict[str, str]:
    details: dict[str, str] = {}
    url = body.get("url")
    if not isinstance(url, str) or not url:
        details["url"] = "url is required and must be a string"
    elif not re.match(openapi.URL_PATTERN, url):
        details["url"] = "url must be an absolute http(s) URL"
    event_type = body.get("eventType")
    if event_type not in EVENT_TYPES:
        details["eventType"] = f"eventType must be one of {', '.join(EVENT_TYPES)}"
    workflow_id = body.get("workflowId")
    if workflow_id is not None and not isinstance(workflow_id, str):
        details["workflowId"] = "workflowId must be a string"
    return details


def _workflow_id(request: Request) -> str | None:
    """The path's workflow id if it has the shape of one (WCFG-/PKGW-), else None (answer 404)."""
    workflow_id: str = request.path_params["workflow_id"]
    return workflow_id if re.match(openapi.WORKFLOW_ID_PATTERN, workflow_id) else None


class Deliverer:
    """POSTs event payloads to webhook URLs with an async HTTP client; failures are logged and kept.

    Proxy settings of the environment are ignored (`trust_env=False`): receivers are local.
    """

    def __init__(self, timeout: float = 5.0) -> None:
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._sent = 0  # deliveries made since start: each entry's `seq`, never reused after a clear
        #: One entry per delivery: webhookId, url, type, time (epoch s), status or error, duration (s), payload, seq.
        self.log: list[dict[str, Any]] = []

    async def deliver(self, targets: Iterable[tuple[str, str]], payload: dict[str, Any]) -> None:
        """POST `payload` to every (webhook id, url) at once; returns when all have answered or failed."""
        await asyncio.gather(*(self._post(webhook_id, url, payload) for webhook_id, url in targets))

    async def _post(self, webhook_id: str, url: str, payload: dict[str, Any]) -> None:
        entry: dict[str, Any] = {"webhookId": webhook_id, "url": url, "type": payload["type"], "time": time.time()}
        started = time.monotonic()
        try:
            if self._client is None:
                self._client = httpx.AsyncClient(timeout=self._timeout, trust_env=False)
            resp = await self._client.post(url, json=payload)
            entry["status"] = resp.status_code
        except Exception as exc:  # a receiver that is down or a URL httpx rejects must never crash the server
            entry["error"] = f"{type(exc).__name__}: {exc}"
            log.warning("delivery of %s to %s failed: %s", payload["type"], url, entry["error"])
        entry["duration"] = round(time.monotonic() - started, 4)
        entry["payload"] = payload
        self._sent += 1
        entry["seq"] = self._sent
        self.log.append(entry)

    def newest(self, count: int) -> tuple[int, list[dict[str, Any]]]:
        """(how many deliveries the log holds, the newest `count` of them, oldest first)."""
        return len(self.log), self.log[-count:] if count > 0 else []

    def clear(self) -> None:
        self.log.clear()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class Credits:
    """The workspace's credit budget: `remaining` None is unlimited; each run costs `run_cost`."""

    def __init__(self, remaining: float | None = None, run_cost: float = 1.0) -> None:
        self._initial = (remaining, run_cost)
        self.remaining, self.run_cost, self.used, self.reported = remaining, run_cost, 0.0, False

    def reset(self) -> None:
        self.remaining, self.run_cost = self._initial
        self.used, self.reported = 0.0, False

    def set(self, remaining: float | None, run_cost: float | None = None) -> None:
        self.remaining = remaining
        if run_cost is not None:
            self.run_cost = run_cost
        self.reported = False  # a new budget can be exhausted (and reported) again

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining < self.run_cost

    def charge(self) -> tuple[bool, bool]:
        """Charge one run: (allowed, report), `report` True once per budget, when it runs out."""
        allowed = not self.exhausted
        if allowed:
            self.used += self.run_cost
            if self.remaining is not None:
                self.remaining -= self.run_cost
        report = self.exhausted and not self.reported
        self.reported = self.reported or report
        return allowed, report

    def refund(self) -> None:
        self.used -= self.run_cost
        if self.remaining is not None:
            self.remaining += self.run_cost

    def to_json(self) -> dict[str, Any]:
        return {"credits": self.remaining, "run_cost": self.run_cost, "used": self.used,
                "limit_reached": self.exhausted}


class Tasks:
    """Background coroutines (workflow runs, event deliveries), kept so they can be cancelled."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def api_routes(handlers: dict[str, Handler], keys: frozenset[str]) -> list[Route]:
    """The /api routes, one per path of `openapi.OPERATIONS`, each dispatching by method after the key check."""
    declared = {op.operation_id for op in openapi.OPERATIONS}
    if declared != set(handlers):
        raise RuntimeError(f"handlers and openapi.OPERATIONS differ: {sorted(declared ^ set(handlers))}")
    by_path: dict[str, dict[str, Handler]] = {}
    for op in openapi.OPERATIONS:
        by_path.setdefault(openapi.API_PREFIX + op.path, {})[op.method] = handlers[op.operation_id]

    def dispatcher(methods: dict[str, Handler]) -> Handler:
        async def endpoint(request: Request) -> Response:
            if request.headers.get(openapi.API_KEY_HEADER) not in keys:
                return error_response(401, "UNAUTHORIZED", {openapi.API_KEY_HEADER: "missing or not a valid API key"})
            return await methods["GET" if request.method == "HEAD" else request.method](request)

        return endpoint

    return [Route(path, dispatcher(methods), methods=sorted(methods)) for path, methods in by_path.items()]


def create_app(
    store: Store,
    api_keys: Iterable[str],
    injector: FaultInjector | None = None,
    run_seconds: float = 0.5,
    *,
    quirks: Quirks | None = None,
    credits: float | None = None,
    run_cost: float = 1.0,
    connections: ConnectionRegistry | None = None,
) -> FaultMiddleware:
    """Build the ASGI app.

    `run_seconds`: how long an emulated workflow run takes. `quirks`: the quirks on at start (and
    after a reset). `credits`: the workspace's credit budget (None: unlimited), each run costing
    `run_cost`. `connections`: the server's connection registry, which lets faults drop connections.
    """
    keys = frozenset(api_keys)
    if not keys:
        raise ValueError("the emulator needs at least one API key")
    injector = injector or FaultInjector()
    deliverer = Deliverer()
    tasks = Tasks()
    budget = Credits(credits, run_cost)
    initial_quirks = quirks or Quirks()
    current = {"quirks": initial_quirks}

    def db(func: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        """Run a blocking store call in the thread pool."""
        return run_in_threadpool(func, *args)

    # -- webhooks ---------------------------------------------------------------------------
    async def register_webhook(request: Request) -> Response:
        body = await _json_object(request)
        if isinstance(body, Response):
            return body
        details = _validate_webhook(body)
        if details:
            return error_response(422, "VALIDATION_ERROR", details)
        url = normalize_url(body["url"]) if current["quirks"].normalize_urls else body["url"]
        hook = await db(store.add_webhook, url, body["eventType"], body.get("workflowId") or "",
                        key_fingerprint(request.headers.get(openapi.API_KEY_HEADER)))
        return _success(hook.to_api())

    async def list_webhooks(request: Request) -> Response:
        paging = _paging(request, "VALIDATION_ERROR")
        if isinstance(paging, Response):
            return paging
        total, hooks = await db(store.list_webhooks, *paging)
        return JSONResponse({**current["quirks"].list_total(total),
                             "data": [h.to_api(empty_workflow=None) for h in hooks]})

    async def get_webhook(request: Request) -> Response:
        hook = await db(store.get_webhook, request.path_params["webhook_id"])
        return _success(hook.to_api()) if hook else _not_found()

    async def delete_webhook(request: Request) -> Response:
        if not await db(store.delete_webhook, request.path_params["webhook_id"]):
            return _not_found()
        return empty_response(202)

    # -- workflow runs ----------------------------------------------------------------------
    async def targets(event_type: str, workflow_id: str | None) -> list[tuple[str, str]]:
        return [(h.id, h.url) for h in await db(store.webhooks_for, event_type, workflow_id)]

    async def report_credit_limit(workflow_id: str, run_id: str | None) -> None:
        """workflowCreditLimit.reached goes to every webhook of that type: the limit is the workspace's."""
        payload: dict[str, Any] = {"type": CREDIT_LIMIT_EVENT, "workflowId": workflow_id}
        if run_id:
            payload["workflowRunId"] = run_id
        await deliverer.deliver(await targets(CREDIT_LIMIT_EVENT, None), payload)

    async def run_workflow(workflow_id: str, run_id: str, variables: dict[str, Any],
                           metadata: dict[str, Any] | None) -> None:
        base = {"workflowId": workflow_id, "workflowRunId": run_id, "metadata": metadata or {}}
        await deliverer.deliver(await targets("workflowRun.started", workflow_id),
                                {"type": "workflowRun.started", **base, "result": {}})
        await asyncio.sleep(run_seconds)
        failed = variables.get(openapi.FAIL_VARIABLE) == "failed"
        output = None if failed else {"summary": f"emulated output for {json.dumps(variables, sort_keys=True)}"}
        await db(store.finish_run, run_id, "FAILED" if failed else "COMPLETE", output)
        event = "workflowRun.failed" if failed else "workflowRun.completed"
        await deliverer.deliver(await targets(event, workflow_id), {"type": event, **base, "result": output or {}})

    async def start_run(request: Request) -> Response:
        workflow_id = _workflow_id(request)
        if workflow_id is None:
            return _not_found()
        body = await _json_object(request)
        if isinstance(body, Response):
            return body
        details: dict[str, str] = {k: f"{k} must be an object" for k in ("startVariables", "metadata")
                   if k in body and not isinstance(body[k], dict)}
        if details:
            return error_response(422, "REQUEST_INVALID", details)
        try:
            run_id = await begin_run(workflow_id, body.get("startVariables", {}), body.get("metadata"))
        except RunRefused:
            return error_response(400, "WORKFLOW_CREDIT_LIMIT_REACHED")
        return _success({"id": run_id})

    async def begin_run(workflow_id: str, variables: dict[str, Any], metadata: dict[str, Any] | None = None) -> str:
        """Charge and start a run (the API's and the dashboard's): its id; RunRefused when no credits are left."""
        cost = budget.run_cost
        allowed, report = budget.charge()
        if not allowed:
            if report:
                tasks.spawn(report_credit_limit(workflow_id, None))
            raise RunRefused("no credits left")
        try:
            run = await db(store.add_run, workflow_id, variables, metadata, cost)
        except BaseException:
            budget.refund()
            raise
        tasks.spawn(run_workflow(workflow_id, run["id"], variables, metadata))
        if report:
            tasks.spawn(report_credit_limit(workflow_id, run["id"]))
        return str(run["id"])

    async def get_run(request: Request) -> Response:
        workflow_id = _workflow_id(request)
        run = await db(store.get_run, workflow_id, request.path_params["run_id"]) if workflow_id else None
        return _success(run) if run else _not_found()

    async def list_runs(request: Request) -> Response:
        workflow_id = _workflow_id(request)
        if workflow_id is None:
            return _not_found()
        paging = _paging(request, "REQUEST_INVALID")
        if isinstance(paging, Response):
            return paging
        total, runs = await db(store.list_runs, workflow_id, *paging)
        return _success({**current["quirks"].list_total(total), "data": runs})

    handlers: dict[str, Handler] = {
        "registerWebhook": register_webhook,
        "listWebhooks": list_webhooks,
        "getWebhook": get_webhook,
        "deleteWebhook": delete_webhook,
        "startRun": start_run,
        "listRuns": list_runs,
        "listRunsNoSlash": list_runs,
        "getRun": get_run,
    }

    async def openapi_json(request: Request) -> Response:
        server = str(request.base_url).rstrip("/") + openapi.API_PREFIX
        return JSONResponse(openapi.build_openapi(current["quirks"], server))

    # -- admin ------------------------------------------------------------------------------
    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def arm_fault(request: Request) -> Response:
        body = await _json_object(request)
        if isinstance(body, Response):
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

    async def disarm_fault(request: Request) -> Response:
        if not injector.disarm(request.path_params["fault_id"]):
            return _not_found()
        return JSONResponse({"faults": injector.faults()})

    async def quirks_route(request: Request) -> Response:
        if request.method == "POST":
            body = await _json_object(request)
            if isinstance(body, Response):
                return body
            try:
                current["quirks"] = current["quirks"].updated(body)
            except ValueError as exc:
                return error_response(422, "VALIDATION_ERROR", {"quirks": str(exc)})
        return JSONResponse({"quirks": current["quirks"].to_json()})

    def credits_route(field: str) -> Handler:
        """GET reads, POST sets the credits left, under `field`: "remaining" at /_admin/remaining-credits, "credits"
        at /_admin/credits (its first name, kept working)."""

        async def route(request: Request) -> Response:
            if request.method == "POST":
                body = await _json_object(request)
                if isinstance(body, Response):
                    return body
                remaining, cost = body.get(field, budget.remaining), body.get("run_cost")
                bad = {k: f"{k} must be a number >= 0" + (" or null" if k == field else "")
                       for k, v in ((field, remaining), ("run_cost", cost))
                       if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0)}
                if bad:
                    return error_response(422, "VALIDATION_ERROR", bad)
                budget.set(remaining, cost)
            shown = budget.to_json()
            return JSONResponse({field: shown.pop("credits"), **shown})

        return route

    async def requests_log(request: Request) -> Response:
        if request.method == "DELETE":
            injector.clear_requests()
        return JSONResponse({"requests": injector.requests()})

    async def deliveries(request: Request) -> Response:
        if request.method == "DELETE":
            deliverer.clear()
        return JSONResponse({"deliveries": list(deliverer.log)})

    async def credit_limit(request: Request) -> Response:
        """Deliver workflowCreditLimit.reached to its webhooks now (answers once they all answered)."""
        await deliverer.deliver(await targets(CREDIT_LIMIT_EVENT, None), {"type": CREDIT_LIMIT_EVENT})
        return JSONResponse({"ok": True})

    async def reset(request: Request) -> Response:
        await tasks.cancel_all()
        injector.clear()
        injector.clear_requests()
        deliverer.clear()
        await db(store.clear)
        current["quirks"] = initial_quirks
        budget.reset()
        return JSONResponse({"ok": True})

    def set_quirks(quirks: Quirks) -> None:
        current["quirks"] = quirks

    sources = Sources(store=store, injector=injector, api_keys=keys, deliveries=deliverer.newest,
                      quirks=lambda: current["quirks"], credits=budget.to_json)
    routes = [
        *api_routes(handlers, keys),
        *dashboard.routes(sources, set_quirks, begin_run),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/_admin/health", health, methods=["GET"]),
        Route("/_admin/faults", arm_fault, methods=["POST"]),
        Route("/_admin/faults", faults, methods=["GET", "DELETE"]),
        Route("/_admin/faults/{fault_id:int}", disarm_fault, methods=["DELETE"]),
        Route("/_admin/quirks", quirks_route, methods=["GET", "POST"]),
        Route("/_admin/remaining-credits", credits_route("remaining"), methods=["GET", "POST"]),
        Route("/_admin/credits", credits_route("credits"), methods=["GET", "POST"]),  # the old name of the above
        Route("/_admin/requests", requests_log, methods=["GET", "DELETE"]),
        Route("/_admin/deliveries", deliveries, methods=["GET", "DELETE"]),
        Route("/_admin/credit-limit", credit_limit, methods=["POST"]),
        Route("/_admin/reset", reset, methods=["POST"]),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException) and exc.status_code == 405:
            return error_response(405, "METHOD_NOT_ALLOWED", headers=dict(exc.headers or {}))
        return _not_found()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await tasks.cancel_all()
        await deliverer.aclose()

    app = Starlette(routes=routes, exception_handlers={404: http_error, 405: http_error}, lifespan=lifespan)
    app.router.redirect_slashes = False  # /api serves exactly the paths of openapi.OPERATIONS
    return FaultMiddleware(app, injector, connections.abort if connections is not None else None)
