"""vNext errors, and the one place that turns a Nova error into one."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any


class VNextError(Exception):
    """An error the proxy answers with: a status and a clear JSON body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
        problems: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.problems = problems
        self.headers = dict(headers or {})

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.status,
            "title": HTTPStatus(self.status).phrase,
            "message": self.message,
        }
        if self.field is not None:
            error["field"] = self.field
        if self.problems:
            error["problems"] = self.problems
        if request_id is not None:
            error["request_id"] = request_id
        return {"error": error}


class NovaUnavailable(VNextError):
    """Nova could not be reached or did not answer in time."""

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(503, message, headers={"Retry-After": str(retry_after)})


def nova_error_message(body: Any) -> str | None:
    """Nova wraps errors as {"itemNotFound": {"code": 404, "message": ...}}."""
    if isinstance(body, Mapping):
        for value in body.values():
            message = value.get("message") if isinstance(value, Mapping) else None
            if isinstance(message, str):
                return message
    return None


def from_nova(status: int, body: Any) -> VNextError:
    """Map a Nova 4xx/5xx answer onto the vNext error the caller should see."""
    message = nova_error_message(body) or _phrase(status)
    if status in (400, 401, 403, 404, 409, 413):
        return VNextError(status, message)
    if status == 503:
        return NovaUnavailable(f"Nova is unavailable: {message}")
    # Nova's own failures are a bad gateway from the caller's point of view;
    # the message stays (Nova never puts tracebacks in it for non-admins).
    return VNextError(502, f"Nova answered {status}: {message}")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"
