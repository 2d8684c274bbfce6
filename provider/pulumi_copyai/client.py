"""A small client for Copy.ai's webhook API: pooled connections, bounded retries, precise errors.

Retries (urllib3's `Retry`, with exponential backoff and jitter):
- GET and DELETE: on connection errors, 429 (honouring Retry-After, capped) and 5xx.
- POST: only when the request surely never reached the server (connection refused or connect
  timeout) or was refused with 429. A POST that may have been applied (read timeout, dropped
  connection, 5xx) raises an error with `ambiguous=True`; `create_webhook` then looks the
  webhook up through the paginated list before it registers again.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, InvalidHeader, NewConnectionError
from urllib3.util.retry import Retry

from .errors import (
    CopyAIAuthError,
    CopyAIConfigError,
    CopyAIConnectionError,
    CopyAIError,
    CopyAINotFoundError,
    CopyAIRateLimitError,
    CopyAIResponseError,
    CopyAIServerError,
    CopyAIValidationError,
)
from .settings import DEFAULT_BASE_URL, DEFAULT_TIMEOUT_SECONDS

__all__ = [
    "DEFAULT_BASE_URL",
    "CopyAIAuthError",
    "CopyAIClient",
    "CopyAIConfigError",
    "CopyAIConnectionError",
    "CopyAIError",
    "CopyAINotFoundError",
    "CopyAIRateLimitError",
    "CopyAIResponseError",
    "CopyAIServerError",
    "CopyAIValidationError",
    "Webhook",
]

MAX_BODY_BYTES = 1024 * 1024
_IDEMPOTENT = frozenset({"GET", "DELETE"})


@dataclass(frozen=True)
class Webhook:
    """A webhook as the API reports it; `workflow_id` is None for a webhook that hears every workflow."""

    id: str
    url: str
    event_type: str
    workflow_id: str | None

    @classmethod
    def from_api(cls, data: Any, operation: str) -> Webhook:
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str) or not data.get("id"):
            raise CopyAIResponseError(operation, f"expected a webhook object with an id, got {_preview(data)}")
        return cls(
            id=data["id"],
            url=str(data.get("url") or ""),
            event_type=str(data.get("eventType") or ""),
            workflow_id=data.get("workflowId") or None,
        )

    def matches(self, url: str, event_type: str, workflow_id: str | None) -> bool:
        return (self.url, self.event_type, self.workflow_id) == (url, event_type, workflow_id or None)


def _preview(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class _Retry(Retry):
    """urllib3 Retry that never replays a POST the server may have applied, and caps Retry-After."""

    MAX_RETRY_AFTER = 30.0

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() == "POST":
            return bool(self.total) and status_code == 429  # refused before it was applied
        return super().is_retry(method, status_code, has_retry_after)

    def _is_method_retryable(self, method: str) -> bool:
        return method.upper() in _IDEMPOTENT

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            seconds = super().parse_retry_after(retry_after)
        except InvalidHeader:
            try:  # tolerate fractional seconds; ignore anything else and use the backoff
                seconds = max(0.0, float(retry_after))
            except ValueError:
                seconds = 0.0
        return min(seconds, self.MAX_RETRY_AFTER)


class CopyAIClient:
    """Thread-safe client; one instance (and one connection pool) per base URL and key is enough."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        retries: int = 4,
        backoff: float = 0.5,
        max_body_bytes: int = MAX_BODY_BYTES,
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
                "configure",
                f"copyai:baseUrl must be an absolute http(s) URL such as {DEFAULT_BASE_URL}, got {base_url!r}",
            )
        if timeout <= 0:
            raise CopyAIConfigError("configure", f"copyai:timeoutSeconds must be positive, got {timeout}")
        self.base_url = base_url.rstrip("/")
        self.timeout = (min(5.0, timeout), timeout)
        self.backoff = backoff
        self.max_body_bytes = max_body_bytes
        self._api_key = api_key
        retry = _Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            backoff_factor=backoff,
            backoff_max=8.0,
            backoff_jitter=backoff,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=_IDEMPOTENT | {"POST"},
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self._session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=8)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update({"accept": "application/json", "user-agent": "pulumi-copyai"})

    def __repr__(self) -> str:  # never show the key
        return f"CopyAIClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    # -- transport --------------------------------------------------------------------------
    def _request(self, operation: str, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        url = f"{self.base_url}{path}"
        headers = {"x-copy-ai-api-key": self._api_key}
        try:
            resp = self._session.request(method, url, headers=headers, timeout=self.timeout, stream=True, **kwargs)
        except requests.exceptions.ConnectionError as exc:
            refused = _never_sent(exc)
            raise CopyAIConnectionError(
                operation,
                f"{method} {url}: " + ("could not connect" if refused else "the connection failed before an answer")
                + f" ({_root_cause(exc)})",
                ambiguous=method == "POST" and not refused,
            ) from None
        except requests.exceptions.Timeout as exc:
            raise CopyAIConnectionError(
                operation, f"{method} {url}: no answer within {self.timeout[1]:g}s ({_root_cause(exc)})",
                ambiguous=method == "POST", timed_out=True,
            ) from None
        except requests.RequestException as exc:
            raise CopyAIConnectionError(
                operation, f"{method} {url}: {_root_cause(exc)}", ambiguous=method == "POST"
            ) from None
        with resp:
            try:
                raw = resp.raw.read(self.max_body_bytes + 1, decode_content=True)
            except Exception as exc:
                raise CopyAIConnectionError(
                    operation, f"{method} {url}: the answer was cut off ({_root_cause(exc)})",
                    ambiguous=method == "POST",
                ) from None
        if len(raw) > self.max_body_bytes:
            raise CopyAIResponseError(
                operation, f"{method} {url}: the response body exceeds {self.max_body_bytes} bytes",
                status=resp.status_code, ambiguous=method == "POST",
            )
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = _NotJSON(raw[:200].decode("utf-8", "replace"))
        status = resp.status_code
        if 200 <= status < 300:
            if isinstance(body, _NotJSON):
                raise CopyAIResponseError(
                    operation, f"{method} {url}: expected JSON, got {body.text!r}",
                    status=status, ambiguous=method == "POST",
                )
            return status, body
        raise self._error(operation, method, url, status, body, resp.headers.get("retry-after"))

    def _error(
        self, operation: str, method: str, url: str, status: int, body: Any, retry_after: str | None
    ) -> CopyAIError:
        code = body.get("errorCode") if isinstance(body, Mapping) else None
        details = body.get("details") if isinstance(body, Mapping) else None
        if isinstance(body, _NotJSON):
            details = f"non-JSON body {body.text!r}"
        kwargs: dict[str, Any] = {"status": status, "error_code": code, "details": details}
        where = f"{method} {url}"
        if status in (401, 403):
            return CopyAIAuthError(
                operation, f"{where}: the API key was rejected; check copyai:apiKey (or COPYAI_API_KEY) "
                "and that the key has not expired", **kwargs)
        if status == 404:
            return CopyAINotFoundError(operation, f"{where}: not found", **kwargs)
        if status in (400, 422):
            return CopyAIValidationError(operation, f"{where}: the API rejected the request", **kwargs)
        if status == 429:
            hint = f" (Retry-After: {retry_after})" if retry_after else ""
            return CopyAIRateLimitError(operation, f"{where}: rate limited, still after retries{hint}", **kwargs)
        if status >= 500:
            return CopyAIServerError(operation, f"{where}: server error", ambiguous=method == "POST", **kwargs)
        return CopyAIError(operation, f"{where}: unexpected status", **kwargs)

    # -- webhooks ---------------------------------------------------------------------------
    def register_webhook(self, url: str, event_type: str, workflow_id: str | None = None) -> Webhook:
        """One POST /webhook (retried only when it surely was not applied)."""
        payload: dict[str, Any] = {"url": url, "eventType": event_type}
        if workflow_id:
            payload["workflowId"] = workflow_id
        _, body = self._request("register webhook", "POST", "/webhook", json=payload)
        return Webhook.from_api(_data(body, "register webhook"), "register webhook")

    def create_webhook(
        self, url: str, event_type: str, workflow_id: str | None = None, *, attempts: int = 3
    ) -> Webhook:
        """Register a webhook exactly once, even when an answer is lost.

        A normal call is one POST. After an ambiguous failure, the paginated list is searched for
        a webhook with the same url, event type and workflow; if found it is adopted. After a
        timeout the server may still be applying the POST, so the list is searched again for up to
        two more timeout periods. Only then is the POST sent again (at most `attempts` POSTs).
        """
        for attempt in range(1, attempts + 1):
            try:
                return self.register_webhook(url, event_type, workflow_id)
            except CopyAIError as exc:
                if not exc.ambiguous:
                    raise
                failure = exc
            settle_until = time.monotonic() + (2 * self.timeout[1] if failure.timed_out else 0.0)
            delay = self.backoff * attempt
            while True:
                time.sleep(delay * (1 + random.random()))
                try:
                    found = self.find_webhooks(url, event_type, workflow_id)
                except CopyAIError as lookup:
                    raise CopyAIError(
                        "register webhook",
                        f"{failure}; then looking for it in the webhook list failed too ({lookup}). "
                        "The webhook may exist without being in the stack: run `pulumi refresh` and "
                        "`pulumi up` again once the API answers",
                        status=failure.status, error_code=failure.error_code,
                    ) from None
                if found:
                    return found[-1]
                if time.monotonic() >= settle_until:
                    break
                delay = min(delay * 2, 2.0)
        raise failure

    def get_webhook(self, webhook_id: str) -> Webhook:
        _, body = self._request("get webhook", "GET", f"/webhook/{_segment(webhook_id)}")
        return Webhook.from_api(_data(body, "get webhook"), "get webhook")

    def list_webhooks(self, page: int = 0, size: int = 100) -> tuple[int, list[Webhook]]:
        """One page of GET /webhook: (total, webhooks)."""
        _, body = self._request("list webhooks", "GET", "/webhook", params={"page": page, "size": size})
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
            raise CopyAIResponseError("list webhooks", f"expected {{total, data: [...]}}, got {_preview(body)}")
        try:
            total = int(body.get("total", len(body["data"])))
        except (TypeError, ValueError):
            raise CopyAIResponseError("list webhooks", f"total is not a number: {body.get('total')!r}") from None
        return total, [Webhook.from_api(item, "list webhooks") for item in body["data"]]

    def iter_webhooks(self, size: int = 100) -> Iterator[Webhook]:
        """Every webhook of the workspace, page by page."""
        page, seen = 0, 0
        while True:
            total, hooks = self.list_webhooks(page, size)
            yield from hooks
            seen += len(hooks)
            if not hooks or seen >= total:
                return
            page += 1

    def find_webhooks(self, url: str, event_type: str, workflow_id: str | None = None) -> list[Webhook]:
        return [h for h in self.iter_webhooks() if h.matches(url, event_type, workflow_id)]

    def delete_webhook(self, webhook_id: str) -> bool:
        """DELETE /webhook/{id}; False when it was already gone (404)."""
        try:
            self._request("delete webhook", "DELETE", f"/webhook/{_segment(webhook_id)}")
        except CopyAINotFoundError:
            return False
        return True


class _NotJSON:
    def __init__(self, text: str) -> None:
        self.text = text


def _data(body: Any, operation: str) -> Any:
    if not isinstance(body, Mapping) or "data" not in body:
        raise CopyAIResponseError(operation, f"expected {{status, data}}, got {_preview(body)}")
    return body["data"]


def _segment(value: str) -> str:
    return quote(value, safe="")


def _never_sent(exc: BaseException) -> bool:
    """True when the error happened before the request could reach the server."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (NewConnectionError, ConnectTimeoutError, requests.exceptions.ConnectTimeout)):
            return True
        reason = getattr(cur, "reason", None)
        nxt = reason if isinstance(reason, BaseException) else None
        if nxt is None and cur.args and isinstance(cur.args[0], BaseException):
            nxt = cur.args[0]
        cur = nxt or cur.__cause__ or cur.__context__
    return False


def _root_cause(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) < 300 else text[:300] + "..."

