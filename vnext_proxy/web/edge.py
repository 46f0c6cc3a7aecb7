"""The HTTP edge of every vNext route: an aiohttp request becomes an
``Inbound`` for the route's executor, and its ``VNextResponse`` the answer.

Only HTTP is adapted here: the token header, the JSON body, the record of
the Nova calls made (request ids, explain) and the response's encoding.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

import orjson
from aiohttp import web

from vnext_proxy.calls import NovaAnswer, PlannedCall
from vnext_proxy.errors import VNextError
from vnext_proxy.execution.context import Inbound
from vnext_proxy.execution.named import Executor
from vnext_proxy.mapping.engine import VNextResponse
from vnext_proxy.mapping.model import Route
from vnext_proxy.web.keys import GENERATION, NOVA, ROUTE_MATCH
from vnext_proxy.web.middlewares import BACKEND_REQUEST_IDS, NOVA_CALLS, REQUEST_ID, explaining

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route_handler(route: Route, executor: Executor) -> Handler:
    # A route that is not applicable answers so to anyone, token or not.
    needs_token = route.auth and route.not_applicable is None

    async def handle(request: web.Request) -> web.StreamResponse:
        req = inbound(request, caller_token(request) if needs_token else "", request[ROUTE_MATCH])
        return respond(request, await executor.execute(request[GENERATION].services, req))

    return handle


def inbound(
    request: web.Request, token: str, match: Mapping[str, str] | None = None, *, record_calls: bool = False
) -> Inbound:
    """The request as execution sees it, with Nova reached through ``send_for``
    (which keeps the record of each call if ``record_calls``, or if the caller
    asked for explain and the operator allows it)."""
    return Inbound(
        token=token,
        method=request.method,
        send=partial(send_for, request, token, record=record_calls),
        path=request.path,
        path_qs=request.path_qs,
        match=match if match is not None else {},
        query=request.query,
        json=partial(json_body, request),
    )


async def send_for(request: web.Request, token: str, call: PlannedCall, *, record: bool = False) -> NovaAnswer:
    """Every Nova call made for a vNext request goes here: the caller's token,
    the request id, and a record of the call (backend ids, explain)."""
    started = time.perf_counter()
    answer = await request.app[NOVA].send(call, token=token, request_id=request[REQUEST_ID])
    if answer.request_id:
        request[BACKEND_REQUEST_IDS].append(answer.request_id)
    if not (record or explaining(request)):
        return answer
    request[NOVA_CALLS].append(
        {
            "method": call.method,
            "path": call.path,
            "query": dict(call.query),
            "microversion": call.microversion or request[GENERATION].settings.nova.microversion,
            "status": answer.status,
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "request_id": answer.request_id,
        }
    )
    return answer


#: How deep a request body may nest. The spec's deepest request (a launch
#: with affinity) is four levels; a limit, not a recursion error.
MAX_JSON_DEPTH = 32


async def json_body(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise VNextError(415, "send the body as application/json")
    try:
        # orjson parses without Python recursion (and stops at 1024 levels).
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise VNextError(400, "the body is not valid JSON", field="body") from None
    if _nests_deeper(body, MAX_JSON_DEPTH):
        raise VNextError(400, f"the body nests deeper than {MAX_JSON_DEPTH} levels", field="body")
    return body


def _nests_deeper(value: Any, limit: int) -> bool:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def caller_token(request: web.Request) -> str:
    token = request.headers.get("X-Auth-Token", "").strip()
    if not token:
        raise VNextError(401, "Authentication required: send an X-Auth-Token header")
    return token


def respond(request: web.Request, answer: VNextResponse) -> web.StreamResponse:
    """The answer, with the record of its Nova calls when the caller asked to
    see it (X-VNext-Explain: 1) and the operator allowed it."""
    body, headers = answer.body, dict(answer.headers)
    if explaining(request):
        calls = request[NOVA_CALLS]
        if isinstance(body, dict):
            body = {**body, "_explain": {"nova_calls": calls}}
        else:
            headers["X-VNext-Explain"] = json.dumps(calls, separators=(",", ":"))
    if body is None:
        return web.Response(status=answer.status, headers=headers)
    if answer.content_type.startswith("text/"):
        return web.Response(text=str(body), status=answer.status, headers=headers, content_type=answer.content_type)
    # orjson: the proxy's answers are large JSON documents (lists of servers).
    return web.Response(
        body=orjson.dumps(body), status=answer.status, headers=headers, content_type=answer.content_type
    )
