"""The emulator's dashboard: `GET /`, its forms, its live refresh and `GET /_admin/overview`.

- `GET /`: the page (page.py), rendered from `overview.overview()`;
- `GET /dashboard/events`: server-sent events, one `live` event with the live part of the page each time
  it changes (checked every `POLL_SECONDS`), which the page's script swaps in;
- `POST /dashboard/runs`, `/dashboard/faults/{id}/disarm`, `/dashboard/faults/disarm`,
  `/dashboard/quirks/{name}`: the forms (urlencoded), each answered with a redirect back to `/`;
- `GET /_admin/overview`: the same view as JSON.

Like the admin routes they need no key, so they answer loopback clients only, asking for a loopback address
or `localhost` (403 otherwise: a site whose name resolves to 127.0.0.1 gets nothing), and a form posted from
another site (an `Origin` or `Sec-Fetch-Site` saying so) is refused: a page elsewhere cannot drive the
emulator through the browser.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from . import openapi, page
from .overview import Sources, overview
from .quirks import Quirks

#: How often an open page's stream checks for changes.
POLL_SECONDS = 0.5
#: Sent while nothing changes, so proxies and the browser keep the stream open.
KEEPALIVE_SECONDS = 15.0
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make the browser send `Origin: null` with forms
    "Cache-Control": "no-store",
}
#: Host names a browser uses for the emulator on this machine. Any other Host (a name of another site that
#: resolves to 127.0.0.1: DNS rebinding) is refused, or that site's scripts could read and drive the dashboard.
_LOCAL_HOSTS = ("localhost", "localhost.")

Endpoint = Callable[[Request], Awaitable[Response]]


class RunRefused(Exception):
    """The emulator refused to start a run: no credits left."""


#: Starts a workflow run: (workflow id, startVariables) -> the run's id; raises RunRefused.
RunStarter = Callable[[str, dict[str, Any]], Awaitable[str]]


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _local(request: Request) -> bool:
    """A loopback client that asked for the emulator by a loopback address or `localhost`."""
    client = request.client.host if request.client else ""
    host = (request.url.hostname or "").lower()
    return _is_loopback(client) and (_is_loopback(host) or host in _LOCAL_HOSTS)


def _same_site(request: Request) -> bool:
    """False for a form posted from another site (the browser says so in Sec-Fetch-Site or Origin)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    own = urlsplit(str(request.base_url))
    return urlsplit(origin)._replace(path="").geturl() == own._replace(path="", query="", fragment="").geturl()


def _guarded(endpoint: Endpoint, form: bool = False) -> Endpoint:
    async def route(request: Request) -> Response:
        if not _local(request):
            return PlainTextResponse("The emulator's dashboard answers loopback clients only, at a loopback address "
                                     "or localhost (it shows payloads and controls faults); open it on the "
                                     "emulator's machine, e.g. http://127.0.0.1:PORT/, or through an SSH tunnel.",
                                     status_code=403)
        if form and not _same_site(request):
            return PlainTextResponse("A form of the dashboard was posted from another site; refused.",
                                     status_code=403)
        response = await endpoint(request)
        response.headers.update(_HEADERS)
        return response

    return route


async def _fields(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (first value of each)."""
    parsed = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def _back(kind: str = "", value: str = "", anchor: str = "") -> RedirectResponse:
    query = f"?{kind}={quote(value, safe='')}" if kind else ""
    return RedirectResponse(f"/{query}{'#' + anchor if anchor else ''}", status_code=303)


def routes(sources: Sources, set_quirks: Callable[[Quirks], None], start_run: RunStarter) -> list[Route]:
    """The dashboard's routes over the emulator's own objects (app.py calls this once)."""
    injector, quirks = sources.injector, sources.quirks

    async def view() -> dict[str, Any]:
        return await run_in_threadpool(overview, sources)

    async def index(request: Request) -> Response:
        api = str(request.base_url).rstrip("/") + openapi.API_PREFIX
        params = request.query_params
        message = next((page.notice(k, params[k]) for k in ("started", "disarmed", "disarmed-all", "quirk")
                        if k in params), "")
        error = page.refusal(params["refused"]) if "refused" in params else ""
        return HTMLResponse(page.page(await view(), api, message, error))

    async def overview_json(request: Request) -> Response:
        return JSONResponse(await view())

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            last, quiet = "", 0.0
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                fragment = page.live(await view())
                if fragment != last:
                    last, quiet = fragment, 0.0
                    yield "event: live\n" + "".join(f"data: {line}\n" for line in fragment.split("\n")) + "\n"
                elif quiet >= KEEPALIVE_SECONDS:
                    quiet = 0.0
                    yield ": keep-alive\n\n"
                await asyncio.sleep(POLL_SECONDS)
                quiet += POLL_SECONDS

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})

    async def run(request: Request) -> Response:
        fields = await _fields(request)
        workflow_id = fields.get("workflow_id", "").strip()
        outcome = fields.get("outcome", "completed")
        if not re.match(openapi.WORKFLOW_ID_PATTERN, workflow_id) or outcome not in ("completed", "failed"):
            return _back("refused", "workflow", "start-run")
        variables = {openapi.FAIL_VARIABLE: "failed"} if outcome == "failed" else {}
        try:
            run_id = await start_run(workflow_id, variables)
        except RunRefused:
            return _back("refused", "credits", "start-run")
        return _back("started", run_id, "runs")

    async def disarm(request: Request) -> Response:
        fault_id = request.path_params["fault_id"]
        if not injector.disarm(fault_id):
            return _back("refused", "fault", "faults")
        return _back("disarmed", str(fault_id), "faults")

    async def disarm_all(request: Request) -> Response:
        injector.clear()
        return _back("disarmed-all", "1", "faults")

    async def switch_quirk(request: Request) -> Response:
        name = request.path_params["name"]
        value = (await _fields(request)).get("value")
        if name not in Quirks.names() or value not in ("on", "off"):
            return _back("refused", "quirk", "faults")
        set_quirks(quirks().updated({name: value == "on"}))
        return _back("quirk", f"{name} {value}", "faults")

    async def style(request: Request) -> Response:
        return Response(page.STYLE, media_type="text/css")

    async def script(request: Request) -> Response:
        return Response(page.SCRIPT, media_type="text/javascript")

    async def icon(request: Request) -> Response:
        return Response(page.ICON, media_type="image/svg+xml")

    return [
        Route("/", _guarded(index), methods=["GET"]),
        Route("/dashboard/style.css", _guarded(style), methods=["GET"]),
        Route("/dashboard/live.js", _guarded(script), methods=["GET"]),
        Route("/dashboard/icon.svg", _guarded(icon), methods=["GET"]),
        Route("/favicon.ico", _guarded(icon), methods=["GET"]),
        Route("/dashboard/events", _guarded(events), methods=["GET"]),
        Route("/dashboard/runs", _guarded(run, form=True), methods=["POST"]),
        Route("/dashboard/faults/disarm", _guarded(disarm_all, form=True), methods=["POST"]),
        Route("/dashboard/faults/{fault_id:int}/disarm", _guarded(disarm, form=True), methods=["POST"]),
        Route("/dashboard/quirks/{name}", _guarded(switch_quirk, form=True), methods=["POST"]),
        Route("/_admin/overview", _guarded(overview_json), methods=["GET"]),
    ]
