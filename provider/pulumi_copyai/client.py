"""A small client for Copy.ai's webhook API: pooled connections, a retry window, precise errors.

Transient failures (connection refused or reset, timeouts, 429, 5xx) are retried with exponential
backoff and jitter, honouring Retry-After, until the retry window closes (default 300 s). Every
call of the process passes one rate gate per API key (`ratelimit.py`).

A POST is repeated only when it surely was not applied (connection refused, connect timeout, 429).
When its fate is unknown (read timeout, dropped connection, 5xx, a 2xx that is not the documented
JSON), the error says so (`ambiguous`): what to do then is ownership policy, in `core` and
`ownership`, not HTTP.

HTTP is spoken strictly: a redirect is never followed (it would carry the API key to another host)
and is an error that names only the target's scheme and host; a 2xx whose body says
`"status": "error"`, or a webhook with a field of the wrong type, is a malformed answer; the API's
`details` and bodies are described by shape, never quoted (they may echo a secret url).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential_jitter
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from .errors import (
    CopyAIAuthError,
    CopyAIConfigError,
    CopyAIConnectionError,
    CopyAIError,
    CopyAINotFoundError,
    CopyAIRateLimitError,
    CopyAIRedirectError,
    CopyAIResponseError,
    CopyAIServerError,
    CopyAIUnsettledError,
    CopyAIValidationError,
    causes,
)
from .model import Webhook, describe_shape
from .origin import Origin
from .ratelimit import RateGate, gate_for
from .settings import DEFAULT_BASE_URL, DEFAULT_RETRY_WINDOW_SECONDS, DEFAULT_TIMEOUT_SECONDS
from .validation import webhook_id_problem

__all__ = [
    "DEFAULT_BASE_URL",
    "CopyAIAuthError",
    "CopyAIClient",
    "CopyAIConfigError",
    "CopyAIConnectionError",
    "CopyAIError",
    "CopyAINotFoundError",
    "CopyAIRateLimitError",
    "CopyAIRedirectError",
    "CopyAIResponseError",
    "CopyAIServerError",
    "CopyAIUnsettledError",
    "CopyAIValidationError",
    "Listing",
    "Webhook",
]

MAX_BODY_BYTES = 1024 * 1024
#: A Retry-After longer than this is not believed (a misconfigured proxy must not stall a deploy).
MAX_RETRY_AFTER = 30.0
#: Page size of list reads (the API's maximum).
PAGE_SIZE = 100
#: A scan of the list reads at most this many pages (an error beyond: the list does not end).
MAX_PAGES = 1000
#: A host name that does not resolve is more likely a typo than an outage: retried this long only.
UNRESOLVED_RETRY_SECONDS = 15.0


@dataclass(frozen=True)
class Listing:
    """Every webhook of the workspace, de-duplicated by id, from one scan of the paginated list.

    `consistent` is True when every page reported the same `total`, that many webhooks were seen,
    and no webhook came twice: the list did not change during the scan, and the API honoured `page`.
    """

    webhooks: list[Webhook]
    consistent: bool


class CopyAIClient:
    """Thread-safe client; one instance (and one connection pool) per base URL and key is enough."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        retry_window: float = DEFAULT_RETRY_WINDOW_SECONDS,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        max_body_bytes: int = MAX_BODY_BYTES,
        pool_size: int = 64,
        gate: RateGate | None = None,
    ) -> None:
        if not api_key:
            raise CopyAIConfigError(
                "configure",
                "no API key: set it with `pulumi config set --secret copyai:apiKey <key>` "
                "or export COPYAI_API_KEY",
            )
        parts = urlsplit(base_url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CopyAIConfigError(
                "configure", f"copyai:baseUrl must be an absolute http(s) URL such as {DEFAULT_BASE_URL}",
            )
        if timeout <= 0:
            raise CopyAIConfigError("configure", "copyai:timeoutSeconds must be a positive number of seconds")
        if retry_window < 0:
            raise CopyAIConfigError("configure", "copyai:retryWindowSeconds must be 0 or more seconds")
        self.base_url = base_url.rstrip("/")
        self.timeout = (min(5.0, timeout), timeout)
        self.retry_window = retry_window
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_body_bytes = max_body_bytes
        self._api_key = api_key
        self.gate = gate or gate_for(self.base_url, api_key)
        self._session = requests.Session()
        adapter = HTTPAdapter(max_retries=0, pool_connections=2, pool_maxsize=pool_size)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update({"accept": "application/json", "user-agent": "pulumi-copyai"})

    @property
    def origin(self) -> Origin:
        """The API and workspace this client talks to (the key as a fingerprint only)."""
        return Origin.of(self.base_url, self._api_key)

    def __repr__(self) -> str:  # never show the key
        return f"CopyAIClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def deadline(self, window: float | None = None) -> float:
        """The time.monotonic() at which a call started now gives up retrying."""
        return time.monotonic() + (self.retry_window if window is None else window)

    # -- transport --------------------------------------------------------------------------
    def _send(self, operation: str, method: str, path: str, **kwargs: Any) -> Any:
        """One attempt: the JSON body of a 2xx answer (None when empty), else a precise error."""
        url = f"{self.base_url}{path}"
        where = f"{method} {url}"
        headers = {"x-copy-ai-api-key": self._api_key}
        is_post = method == "POST"
        try:
            resp = self._session.request(method, url, headers=headers, timeout=self.timeout, stream=True,
                                         allow_redirects=False, **kwargs)
        except requests.exceptions.ConnectionError as exc:
            if _caused_by(exc, NameResolutionError):
                host = urlsplit(url).hostname
                raise CopyAIConnectionError(
                    operation, f"{where}: the host name {host!r} does not resolve; check copyai:baseUrl "
                    f"(or COPYAI_BASE_URL) ({_root_cause(exc)})", unresolved=True,
                ) from None
            refused = _never_sent(exc)
            raise CopyAIConnectionError(
                operation,
                f"{where}: " + ("could not connect" if refused else "the connection failed before an answer")
                + f" ({_root_cause(exc)})",
                ambiguous=is_post and not refused,
            ) from None
        except requests.exceptions.Timeout as exc:
            raise CopyAIConnectionError(
                operation, f"{where}: no answer within {self.timeout[1]:g}s ({_root_cause(exc)})",
                ambiguous=is_post, timed_out=True,
            ) from None
        except requests.RequestException as exc:
            raise CopyAIConnectionError(operation, f"{where}: {_root_cause(exc)}", ambiguous=is_post) from None
        with resp:
            try:
                raw = resp.raw.read(self.max_body_bytes + 1, decode_content=True)
            except Exception as exc:
                raise CopyAIConnectionError(
                    operation, f"{where}: the answer was cut off ({_root_cause(exc)})", ambiguous=is_post,
                ) from None
        status = resp.status_code
        if 300 <= status < 400:
            raise _redirect(operation, where, url, status, resp.headers.get("location"))
        if len(raw) > self.max_body_bytes:
            raise CopyAIResponseError(
                operation, f"{where}: the response body exceeds {self.max_body_bytes} bytes",
                status=status, ambiguous=is_post and 200 <= status < 300,
            )
        body: Any = None
        not_json = False
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                not_json = True
        if 200 <= status < 300:
            if not_json:
                content_type = resp.headers.get("content-type", "no content type")
                raise CopyAIResponseError(
                    operation, f"{where}: expected JSON, got a {len(raw)}-byte body of {content_type}",
                    status=status, ambiguous=is_post,
                )
            if isinstance(body, Mapping) and body.get("status") == "error":
                # The list answers without `status`, the rest with "success": only "error" is a failure.
                code = body.get("errorCode")
                raise CopyAIResponseError(
                    operation, f'{where}: the API answered HTTP {status} with a body that says "status": "error"'
                    + (", so the request may or may not have been applied" if is_post else ""),
                    status=status, error_code=code if isinstance(code, str) else None, details=body.get("details"),
                    ambiguous=is_post,
                )
            return body
        raise self._error(operation, where, is_post, status, body, resp.headers.get("retry-after"))

    def _error(
        self, operation: str, where: str, is_post: bool, status: int, body: Any, retry_after: str | None
    ) -> CopyAIError:
        code = body.get("errorCode") if isinstance(body, Mapping) else None
        details = body.get("details") if isinstance(body, Mapping) else None
        kwargs: dict[str, Any] = {"status": status, "error_code": code if isinstance(code, str) else None,
                                  "details": details}
        if status in (401, 403):
            return CopyAIAuthError(
                operation, f"{where}: the API key was rejected; check copyai:apiKey (or COPYAI_API_KEY) "
                "and that the key has not expired", **kwargs)
        if status == 404:
            if is_post or where.split("?")[0].endswith("/webhook"):  # a route every Copy.ai API has
                return CopyAINotFoundError(
                    operation, f"{where}: not found: this API has no such route, so the base URL is probably "
                    f"wrong; check copyai:baseUrl (or COPYAI_BASE_URL): Copy.ai's is {DEFAULT_BASE_URL} "
                    "(with /api)", **kwargs)
            return CopyAINotFoundError(operation, f"{where}: not found", **kwargs)
        if status in (400, 422):
            return CopyAIValidationError(operation, f"{where}: the API rejected the request", **kwargs)
        if status == 429:
            seconds = parse_retry_after(retry_after)
            hint = f" (Retry-After: {seconds:g} s)" if seconds is not None else ""
            return CopyAIRateLimitError(operation, f"{where}: rate limited{hint}", retry_after=seconds, **kwargs)
        if status >= 500:
            return CopyAIServerError(operation, f"{where}: server error", ambiguous=is_post,
                                     retry_after=parse_retry_after(retry_after), **kwargs)
        return CopyAIError(operation, f"{where}: unexpected status", **kwargs)

    def _call(self, operation: str, method: str, path: str, *, deadline: float | None = None, **kwargs: Any) -> Any:
        """`_send` through the rate gate, retried on transient failures until `deadline`.

        A POST is retried only when it surely was not applied; otherwise its error (ambiguous)
        goes to the caller.
        """
        until = self.deadline() if deadline is None else deadline
        expo = wait_exponential_jitter(initial=self.backoff, max=self.max_backoff, jitter=self.backoff)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            delay = expo(state)
            after = getattr(exc, "retry_after", None)
            if after is not None:
                delay = after + random.uniform(0, self.backoff / 4)
            return max(0.0, min(delay, until - time.monotonic()))

        def attempt() -> Any:
            sent = self.gate.wait(until)
            try:
                body = self._send(operation, method, path, **kwargs)
            except CopyAIRateLimitError as exc:
                self.gate.throttled(exc.retry_after, sent)
                raise
            self.gate.succeeded()
            return body

        started = time.monotonic()

        def stop(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            if getattr(exc, "unresolved", False) and time.monotonic() - started >= UNRESOLVED_RETRY_SECONDS:
                return True
            return time.monotonic() >= until

        retrying = Retrying(
            retry=retry_if_exception(lambda exc: _transient(method, exc)),
            stop=stop,
            wait=wait,
            reraise=True,
        )
        return retrying(attempt)

    # -- webhooks ---------------------------------------------------------------------------
    def register_webhook(
        self, url: str, event_type: str, workflow_id: str | None = None, *, deadline: float | None = None
    ) -> Webhook:
        """One POST /webhook (repeated only while it surely was not applied)."""
        payload: dict[str, Any] = {"url": url, "eventType": event_type}
        if workflow_id:
            payload["workflowId"] = workflow_id
        body = self._call("register webhook", "POST", "/webhook", deadline=deadline, json=payload)
        return _answered_webhook("register webhook", body, ambiguous=True)

    def get_webhook(self, webhook_id: str, *, deadline: float | None = None) -> Webhook:
        path = f"/webhook/{_segment('get webhook', webhook_id)}"
        return _answered_webhook("get webhook", self._call("get webhook", "GET", path, deadline=deadline))

    def list_webhooks(
        self, page: int = 0, size: int = PAGE_SIZE, *, deadline: float | None = None
    ) -> tuple[int | None, list[Webhook]]:
        """One page of GET /webhook: (total if the API said, webhooks). `total` may come as a
        number, a numeric string, or not at all."""
        body = self._call("list webhooks", "GET", "/webhook", deadline=deadline, params={"page": page, "size": size})
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
            raise CopyAIResponseError("list webhooks",
                                      "expected {total, data: [webhooks]}, got " + describe_shape(body))
        hooks: list[Webhook] = []
        for index, item in enumerate(body["data"]):
            hook = Webhook.from_api(item)
            if hook is None:
                raise CopyAIResponseError(
                    "list webhooks", f"item {index} of page {page} is not a webhook (id, url and eventType strings, "
                    f"workflowId a string or null): {describe_shape(item)}")
            hooks.append(hook)
        return _parse_total(body.get("total")), hooks

    def scan_webhooks(self, *, size: int = PAGE_SIZE, deadline: float | None = None) -> Listing:
        """Every webhook of the workspace, page by page until a short page, the reported total, or a
        full page that brings no webhook not seen before (an API that ignores `page` answers page 0
        again: the scan ends, not `consistent`). More than MAX_PAGES pages is an error."""
        seen: dict[str, Webhook] = {}
        totals: set[int | None] = set()
        repeated = False
        for page in range(MAX_PAGES):
            total, hooks = self.list_webhooks(page, size, deadline=deadline)
            totals.add(total)
            new = 0
            for hook in hooks:
                if hook.id in seen:
                    repeated = True
                else:
                    seen[hook.id] = hook
                    new += 1
            if len(hooks) < size or new == 0 or (total is not None and (page + 1) * size >= total):
                break
        else:
            raise CopyAIResponseError(
                "list webhooks", f"the webhook list did not end within {MAX_PAGES} pages of {size} (the cap: each "
                "page brought webhooks not seen before); stopped reading rather than page forever")
        only = next(iter(totals)) if len(totals) == 1 else None
        return Listing(list(seen.values()), not repeated and only is not None and only == len(seen))

    def delete_webhook(self, webhook_id: str, *, deadline: float | None = None) -> bool:
        """DELETE /webhook/{id}: True on any 2xx, with any or no body, unless the body says
        `"status": "error"` (then CopyAIResponseError: not deleted); False when it was already gone (404)."""
        path = f"/webhook/{_segment('delete webhook', webhook_id)}"
        try:
            self._call("delete webhook", "DELETE", path, deadline=deadline)
        except CopyAINotFoundError:
            return False
        return True


def _transient(method: str, exc: BaseException) -> bool:
    """Worth another try: the API may answer differently in a moment, and trying again is safe."""
    if isinstance(exc, CopyAIRateLimitError):
        return True  # refused before it was applied, also for POST
    if isinstance(exc, CopyAIConnectionError):
        return method != "POST" or not exc.ambiguous
    if isinstance(exc, CopyAIServerError):
        return method != "POST"
    return False


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds (fractions tolerated) or an HTTP date,
    capped at MAX_RETRY_AFTER; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if seconds != seconds:  # NaN
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def _parse_total(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _segment(operation: str, value: str) -> str:
    """A webhook id as a path segment; an id that could name another route (".", "..", "/", ...)
    is refused before anything is sent."""
    problem = webhook_id_problem(value)
    if problem is not None:
        shown = repr(value)[:60]
        raise CopyAIError(operation, f"{shown} is not a webhook id ({problem}); nothing was sent")
    return quote(value, safe="")


def _answered_webhook(operation: str, body: Any, *, ambiguous: bool = False) -> Webhook:
    """The webhook of a `{status, data: {...}}` answer, else CopyAIResponseError describing its shape."""
    data = body.get("data") if isinstance(body, Mapping) else None
    hook = Webhook.from_api(data)
    if hook is None:
        got = describe_shape(body)
        if isinstance(data, Mapping) and data:
            got += f", its data {describe_shape(data)}"
        raise CopyAIResponseError(
            operation, "expected {status, data: {id, url, eventType (strings), workflowId (string or null)}}, got "
            + got, ambiguous=ambiguous)
    return hook


def _redirect(operation: str, where: str, url: str, status: int, location: str | None) -> CopyAIRedirectError:
    """The error for a 3xx: it names the target's scheme and host only (its path or query may hold a secret)."""
    target = _origin(urljoin(url, location)) if location else None
    to = f"to {target}" if target else ("without a Location" if not location else "to a location that is not http(s)")
    return CopyAIRedirectError(
        operation, f"{where}: the API answered with a redirect (HTTP {status}) {to}, which is not followed (the "
        "API key goes only to the configured API); nothing was applied. Check copyai:baseUrl (or COPYAI_BASE_URL): "
        f"it must be the API's own address, such as {DEFAULT_BASE_URL}", status=status)


def _origin(url: str) -> str | None:
    """scheme://host[:port] of an http(s) URL (no user info, path or query), or None."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    host = f"[{host}]" if ":" in host else host
    origin = f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")
    return origin if len(origin) <= 120 else origin[:120] + "..."


def _caused_by(exc: BaseException, *kinds: type[BaseException]) -> bool:
    return any(isinstance(cause, kinds) for cause in causes(exc))


def _never_sent(exc: BaseException) -> bool:
    """True when the error happened before the request could reach the server."""
    return _caused_by(exc, NewConnectionError, ConnectTimeoutError, requests.exceptions.ConnectTimeout)


def _root_cause(exc: BaseException) -> str:
    """The innermost cause of a transport error, as "Type: message" (e.g. "RemoteDisconnected: Remote
    end closed connection without response"), not the nested reprs requests and urllib3 build."""
    *_, cur = causes(exc)
    text = str(cur) or type(cur).__name__
    text = text if text.startswith(type(cur).__name__) else f"{type(cur).__name__}: {text}"
    return text if len(text) < 200 else text[:200] + "..."
