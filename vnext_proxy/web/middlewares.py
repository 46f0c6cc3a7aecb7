"""Middlewares: request ids, and one JSON error shape for every failure."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from vnext_proxy.errors import VNextError
from vnext_proxy.web.keys import GENERATION

log = logging.getLogger(__name__)

REQUEST_ID = web.RequestKey("request_id", str)
BACKEND_REQUEST_IDS = web.RequestKey("backend_request_ids", list[str])
#: What each Nova call made for this request was, for X-VNext-Explain.
NOVA_CALLS = web.RequestKey("nova_calls", list[dict[str, Any]])

_REQUEST_ID_FORMAT = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Keep the caller's x-openstack-request-id (or make one) and return it,
    with the ids Nova gave the calls made for this request."""
    offered = request.headers.get("X-OpenStack-Request-ID", "")
    request_id = offered if _REQUEST_ID_FORMAT.match(offered) else f"req-{uuid.uuid4()}"
    request[REQUEST_ID] = request_id
    request[BACKEND_REQUEST_IDS] = []
    request[NOVA_CALLS] = []
    response = await handler(request)
    response.headers["X-OpenStack-Request-ID"] = request_id
    backend_ids = request[BACKEND_REQUEST_IDS]
    if backend_ids:
        response.headers["X-VNext-Backend-Request-Ids"] = ",".join(backend_ids)
    return response


def explaining(request: web.Request) -> bool:
    """The caller asked to see the Nova calls (X-VNext-Explain: 1) and the operator allows it."""
    return request[GENERATION].settings.explain and request.headers.get("X-VNext-Explain") == "1"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as JSON with the right status; never a traceback."""
    request_id = request.get(REQUEST_ID)
    try:
        return await handler(request)
    except VNextError as exc:
        # Never with the explain record: Nova's calls could tell a 403 the
        # proxy hides as "not found, or not yours" from a real 404.
        return web.json_response(exc.body(request_id), status=exc.status, headers=exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = {
            404: "No such route in the vNext API; GET / lists them all",
            405: f"{request.method} is not allowed here",
        }.get(exc.status, exc.reason)
        err = VNextError(exc.status, message)
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return web.json_response(err.body(request_id), status=exc.status, headers=headers)
    except Exception:
        log.exception("unexpected error serving %s %s (request %s)", request.method, request.path, request_id)
        err = VNextError(500, "Unexpected error in the proxy; the request id identifies it in the log")
        return web.json_response(err.body(request_id), status=500)
