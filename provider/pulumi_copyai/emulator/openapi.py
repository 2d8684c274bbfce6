"""The emulator's API, described once: the route table of `app.py` and `GET /openapi.json` both come from here.

`OPERATIONS` lists every operation under /api (method, path, parameters, request body, responses).
`app.py` builds its /api routes from it (a handler per `operation_id`, checked both ways at start),
and `build_openapi()` turns it into an OpenAPI 3.1 document. Paths are relative to the API base URL
(`<emulator>/api`, like Copy.ai's `https://api.copy.ai/api`), given as the document's server.

The document describes what the emulator serves now: the quirks that change answers (`omit_total`,
`total_as_string`) change the list schemas. Faults armed for tests (`status` with any code,
`non_json`, `oversized`, ...) are deliberately not described, except the ones that model what a real
API does: 429 (`rate_limit`) and 503 (`outage`), documented on every operation.

Validation in `app.py` uses the same constants (`URL_PATTERN`, `WORKFLOW_ID_PATTERN`, the page and
size bounds), so what the document accepts is what the emulator accepts.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ..events import EVENT_TYPES
from .quirks import Quirks

API_PREFIX = "/api"
API_KEY_HEADER = "x-copy-ai-api-key"

#: A webhook URL: http or https (any case), then a host (its first character is neither a
#: delimiter, a space nor a control character). Checked with `re.match`; anything may follow.
URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@:\x00-\x20\x7f]"
#: Workflow ids Copy.ai hands out: `WCFG-<uuid>`, and `PKGW-<uuid>` in the reference's run examples.
#: Run routes answer 404 for anything else (no such workflow); webhooks accept any workflowId.
WORKFLOW_ID_PATTERN = r"^(WCFG|PKGW)-."
#: startVariables key that makes an emulated run fail instead of completing (value "failed").
FAIL_VARIABLE = "emulatorOutcome"
RUN_ID_PATTERN = r"^WRUN-[0-9a-f-]{36}$"
RUN_STATUSES = ("PROCESSING", "COMPLETE", "FAILED")
#: (name, default, minimum, maximum) of the list routes' query parameters.
PAGE = ("page", 0, 0, None)
SIZE = ("size", 10, 1, 100)

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(*codes: str, details: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["status", "errorCode", *(["details"] if details else [])],
        "properties": {
            "status": {"const": "error"},
            "errorCode": {"type": "string", "enum": list(codes)},
            "details": _ref("Details"),
        },
        "additionalProperties": False,
    }
    return schema


def _success(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["status", "data"],
        "properties": {"status": {"const": "success"}, "data": data},
        "additionalProperties": False,
    }


def _response(
    description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None,
    links: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    if links:
        response["links"] = links
    return response


def _link(operation_id: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link: what a client (or a stateful test) can call next with values from this answer."""
    return {"operationId": operation_id, "parameters": parameters}


_WEBHOOK_LINKS = {
    "GetWebhook": _link("getWebhook", webhook_id="$response.body#/data/id"),
    "DeleteWebhook": _link("deleteWebhook", webhook_id="$response.body#/data/id"),
}
_RUN_LINKS = {
    "GetRun": _link("getRun", workflow_id="$request.path.workflow_id", run_id="$response.body#/data/id"),
    "ListRuns": _link("listRuns", workflow_id="$request.path.workflow_id"),
}


_RETRY_AFTER_SCHEMA = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}


def _common_responses() -> dict[str, Any]:
    """Answers every operation can give, whatever its input."""
    return {
        "401": _response("The x-copy-ai-api-key header is missing or not a valid key.",
                         _error("UNAUTHORIZED", details=True)),
        "429": _response(
            "Rate limited (per API key). Retry-After: seconds until a request is accepted again, a decimal "
            "number that may be fractional (e.g. \"0.35\"), or an integer if the limiter is set up so.",
            _error("RATE_LIMITED"),
            {"Retry-After": {"required": True, "schema": _RETRY_AFTER_SCHEMA,
                             "description": "seconds to wait, e.g. \"0.35\" or \"2\""}},
        ),
        "503": _response(
            "The service is unavailable (an outage).", _error("SERVICE_UNAVAILABLE"),
            {"Retry-After": {"required": False, "schema": _RETRY_AFTER_SCHEMA}},
        ),
    }


def _query(name: str, default: int, minimum: int, maximum: int | None, what: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum, "default": default}
    if maximum is not None:
        schema["maximum"] = maximum
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": what}


def _path(name: str, what: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": what}


_PAGING = (
    _query(*PAGE, "page number, from 0"),
    _query(*SIZE, "items per page, 1..100"),
)
_WORKFLOW = _path("workflow_id", "the workflow: WCFG-<uuid> or PKGW-<uuid>", WORKFLOW_ID_PATTERN)
_BAD_PAGING = _response("page or size is not an integer (the body is an empty object).", _ref("Empty"))


@dataclass(frozen=True)
class Operation:
    """One method on one path, relative to the API base URL."""

    operation_id: str
    method: str
    path: str
    summary: str
    responses: dict[str, Any]
    parameters: tuple[dict[str, Any], ...] = ()
    request_body: dict[str, Any] | None = None
    tags: tuple[str, ...] = field(default=())

    def to_openapi(self) -> dict[str, Any]:
        op: dict[str, Any] = {
            "operationId": self.operation_id,
            "summary": self.summary,
            "tags": list(self.tags),
            "responses": {**self.responses, **_common_responses()},
        }
        if self.parameters:
            op["parameters"] = list(self.parameters)
        if self.request_body is not None:
            op["requestBody"] = self.request_body
        return op


def _list_runs(operation_id: str, path: str, summary: str) -> Operation:
    return Operation(
        operation_id, "GET", path, summary, tags=("workflow runs",), parameters=(_WORKFLOW, *_PAGING),
        responses={
            "200": _response("One page of the workflow's runs, oldest first (nested in data).",
                             _success(_ref("RunPage"))),
            "400": _BAD_PAGING,
            "404": _response("Not a workflow id (neither WCFG- nor PKGW-).", _error("NOT_FOUND")),
            "422": _response("page or size out of range.", _error("REQUEST_INVALID", details=True)),
        },
    )


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "registerWebhook", "POST", "/webhook", "Register a webhook", tags=("webhooks",),
        request_body={"required": True, "content": {JSON: {"schema": _ref("WebhookRequest")}}},
        responses={
            "200": _response("The webhook as registered.", _success(_ref("Webhook")), links=_WEBHOOK_LINKS),
            "400": _response("The body is not a JSON object.", _error("BAD_REQUEST")),
            "422": _response("A field is missing or invalid; details names each.",
                             _error("VALIDATION_ERROR", details=True)),
        },
    ),
    Operation(
        "listWebhooks", "GET", "/webhook", "Every webhook of the workspace, paginated", tags=("webhooks",),
        parameters=_PAGING,
        responses={
            "200": _response("One page of webhooks, oldest first. No status field.", _ref("WebhookPage")),
            "400": _BAD_PAGING,
            "422": _response("page or size out of range.", _error("VALIDATION_ERROR", details=True)),
        },
    ),
    Operation(
        "getWebhook", "GET", "/webhook/{webhook_id}", "One webhook", tags=("webhooks",),
        parameters=(_path("webhook_id", "the webhook's id"),),
        responses={
            "200": _response("The webhook.", _success(_ref("Webhook"))),
            "404": _response("No such webhook.", _error("NOT_FOUND")),
        },
    ),
    Operation(
        "deleteWebhook", "DELETE", "/webhook/{webhook_id}", "Remove a webhook", tags=("webhooks",),
        parameters=(_path("webhook_id", "the webhook's id"),),
        responses={
            "202": _response("Removed (an empty object, no status field).", _ref("Empty")),
            "404": _response("No such webhook.", _error("NOT_FOUND")),
        },
    ),
    Operation(
        "startRun", "POST", "/workflow/{workflow_id}/run", "Start a workflow run", tags=("workflow runs",),
        parameters=(_WORKFLOW,),
        request_body={"required": False, "content": {JSON: {"schema": _ref("RunRequest")}}},
        responses={
            "200": _response("The run started; poll it or wait for its webhook events.",
                             _success({"type": "object", "required": ["id"], "additionalProperties": False,
                                       "properties": {"id": {"type": "string", "pattern": RUN_ID_PATTERN}}}),
                             links=_RUN_LINKS),
            "400": _response("The workspace is out of credits, or the body is not a JSON object.",
                             _error("WORKFLOW_CREDIT_LIMIT_REACHED", "BAD_REQUEST")),
            "404": _response("Not a workflow id (neither WCFG- nor PKGW-).", _error("NOT_FOUND")),
            "422": _response("startVariables or metadata is not an object.", _error("REQUEST_INVALID", details=True)),
        },
    ),
    _list_runs("listRuns", "/workflow/{workflow_id}/run/", "The workflow's runs, paginated"),
    _list_runs("listRunsNoSlash", "/workflow/{workflow_id}/run", "The workflow's runs (same as with the slash)"),
    Operation(
        "getRun", "GET", "/workflow/{workflow_id}/run/{run_id}", "One run", tags=("workflow runs",),
        parameters=(_WORKFLOW, _path("run_id", "the run's id, WRUN-<uuid>")),
        responses={
            "200": _response("The run.", _success(_ref("Run"))),
            "404": _response("No such run of this workflow, or not a workflow id.", _error("NOT_FOUND")),
        },
    ),
)


def _total_schema(quirks: Quirks) -> dict[str, Any]:
    if quirks.total_as_string:
        return {"type": "string", "pattern": "^[0-9]+$", "description": "the number of items, as a string"}
    return {"type": "integer", "minimum": 0, "description": "the number of items on every page"}


def _page(item: dict[str, Any], quirks: Quirks) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["data"] if quirks.omit_total else ["total", "data"],
        "properties": {"total": _total_schema(quirks), "data": {"type": "array", "items": item}},
        "additionalProperties": False,
    }
    if quirks.omit_total:
        del schema["properties"]["total"]
    return schema


def schemas(quirks: Quirks) -> dict[str, Any]:
    webhook_props = {
        "id": {"type": "string"},
        "url": {"type": "string"},
        "eventType": {"type": "string", "enum": list(EVENT_TYPES)},
    }
    return {
        "Empty": {"type": "object", "maxProperties": 0, "description": "an empty object, {}"},
        "Details": {"type": "object", "additionalProperties": {"type": "string"},
                    "description": "what is wrong, by field"},
        "WebhookRequest": {
            "type": "object",
            "required": ["url", "eventType"],
            "properties": {
                "url": {"type": "string", "pattern": URL_PATTERN,
                        "description": "where events are POSTed: an absolute http(s) URL"},
                "eventType": {"type": "string", "enum": list(EVENT_TYPES)},
                "workflowId": {"type": ["string", "null"],
                               "description": "only this workflow's events; absent, null or \"\": every workflow"},
            },
        },
        "Webhook": {
            "type": "object", "required": ["id", "url", "eventType", "workflowId"], "additionalProperties": False,
            "properties": {**webhook_props,
                           "workflowId": {"type": "string", "description": "\"\" when it hears every workflow"}},
        },
        "ListedWebhook": {
            "type": "object", "required": ["id", "url", "eventType", "workflowId"], "additionalProperties": False,
            "properties": {**webhook_props,
                           "workflowId": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}],
                                          "description": "null when it hears every workflow"}},
        },
        "WebhookPage": _page(_ref("ListedWebhook"), quirks),
        "RunRequest": {
            "type": "object",
            "properties": {"startVariables": {"type": "object"}, "metadata": {"type": "object"}},
        },
        "Run": {
            "type": "object",
            "required": ["id", "workflowRunId", "workflowId", "input", "status", "createdAt", "credits"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "pattern": RUN_ID_PATTERN},
                "workflowRunId": {"type": "string", "pattern": RUN_ID_PATTERN, "description": "the same as id"},
                "workflowId": {"type": "string"},
                "input": {"type": "object", "description": "the startVariables"},
                "status": {"type": "string", "enum": list(RUN_STATUSES)},
                "createdAt": {"type": "string", "format": "date-time"},
                "credits": {"type": "number", "minimum": 0},
                "metadata": {"type": "object", "description": "only when given at start"},
                "output": {"type": "object", "description": "only once there is one"},
            },
        },
        "RunPage": _page(_ref("Run"), quirks),
    }


def build_openapi(quirks: Quirks | None = None, server_url: str = API_PREFIX) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the /api routes, as served with these quirks at `server_url`.

    A deep copy: the document shares nothing with this module's tables, so whoever changes it (some
    tools resolve references in place) cannot change the next one.
    """
    quirks = quirks or Quirks()
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = op.to_openapi()
    return copy.deepcopy({
        "openapi": "3.1.0",
        "info": {
            "title": "Copy.ai API (pulumi-copyai emulator)",
            "version": "1.0.0",
            "description": "Webhooks and workflow runs as the copyai-emulator serves them, after Copy.ai's "
                           "public API reference. Quirks on: " + (", ".join(
                               k for k, v in quirks.to_json().items() if v) or "none") + ".",
        },
        "servers": [{"url": server_url}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}},
            "schemas": schemas(quirks),
        },
    })
