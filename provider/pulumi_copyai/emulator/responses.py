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
