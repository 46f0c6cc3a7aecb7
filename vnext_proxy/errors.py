"""vNext errors, and the one place that turns a Nova error into one."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

#: About how much of a value an error message quotes: a caller's input is
#: unbounded (a 1 MB type_id, Nova echoing 128 kB of user_data).
QUOTED_CHARS = 200
#: Whatever a message is made of, no more than this reaches an answer.
MESSAGE_CHARS = 1000


def shown(value: Any) -> str:
    """``value`` as an error message quotes it: repr, cut to about 200 characters."""
    text = repr(value)
    return text if len(text) <= QUOTED_CHARS else f"{text[:QUOTED_CHARS]}... ({len(text)} characters)"


def _bounded(text: str, limit: int = MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... (cut)"


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
        message = _bounded(message)
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field if field is None else _bounded(field, QUOTED_CHARS)
        self.problems = [{k: _bounded(v, QUOTED_CHARS * 2) for k, v in p.items()} for p in problems or []] or None
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
    # Nova's messages quote what it was sent: cut, like the proxy's own.
    message = _bounded(nova_error_message(body) or _phrase(status), QUOTED_CHARS)
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
