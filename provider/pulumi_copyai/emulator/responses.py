"""The emulator's error body, in the shape the Copy.ai contract documents."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


def error_response(
    status: int, code: str, details: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """`{"status": "error", "errorCode": code[, "details": {...}]}` with the given HTTP status."""
    body: dict[str, Any] = {"status": "error", "errorCode": code}
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


def empty_response(status: int) -> JSONResponse:
    """`{}` with the given HTTP status: Copy.ai's 202 for a delete and its bodiless 400s."""
    return JSONResponse({}, status_code=status)
