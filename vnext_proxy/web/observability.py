"""Operators' view: Prometheus metrics, a structured access log, /healthcheck.

Nothing here ever sees a token: the access log writes what it picks from
the request (method, route, status, times, ids), never headers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import UrlMappingMatchInfo
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from vnext_proxy.errors import VNextError
from vnext_proxy.timeutil import show_time
from vnext_proxy.web.generations import VNEXT_ROUTES
from vnext_proxy.web.keys import GENERATION, METRICS, NOTIFICATIONS, NOVA, ROUTE_MATCH
from vnext_proxy.web.middlewares import BACKEND_REQUEST_IDS, REQUEST_ID

access_log = logging.getLogger("vnext_proxy.access")


def _route_of(request: web.Request) -> str:
    """The route's template: the metric label and the access log's route."""
    match: UrlMappingMatchInfo = request.get(ROUTE_MATCH, request.match_info)
    resource = match.route.resource
    if resource is None or resource.name == VNEXT_ROUTES:
        return "(no route)"
    return resource.canonical


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every request, and write its access-log line."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        elapsed = time.perf_counter() - started
        route = _route_of(request)
        request.app[METRICS].request_done(route, request.method, status, elapsed)
        if request[GENERATION].settings.access_log:
            access_log.info(
                json.dumps(
                    {
                        "method": request.method,
                        "route": route,
                        "path": request.path,
                        "status": status,
                        "ms": round(elapsed * 1000, 1),
                        "request_id": request.get(REQUEST_ID),
                        "nova_request_ids": request.get(BACKEND_REQUEST_IDS, []),
                        "remote": request.remote,
                    }
                )
            )


@web.middleware
async def timeout_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A whole request, all its Nova calls included, has a deadline."""
    limit = request[GENERATION].settings.request_timeout
    try:
        async with asyncio.timeout(limit):
            return await handler(request)
    except TimeoutError:
        raise VNextError(503, f"The request did not finish within {limit:g}s", headers={"Retry-After": "5"}) from None


async def metrics_handler(request: web.Request) -> web.StreamResponse:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def healthcheck_handler(request: web.Request) -> web.StreamResponse:
    """The proxy answers; whether Nova does is in the body (an outage of Nova
    is not a reason for a load balancer to drop this replica)."""
    try:
        answer = await request.app[NOVA].versions()
        nova_state = "up" if answer.status < 500 else f"answering {answer.status}"
    except VNextError as exc:
        nova_state = f"down: {exc.message}"
    generation = request[GENERATION]
    mappings = {"version": generation.version, "loaded_at": show_time(generation.loaded_at)}
    health: dict[str, Any] = {"proxy": "up", "nova": nova_state, "mappings": mappings}
    if NOTIFICATIONS in request.app:
        health["notifications"] = request.app[NOTIFICATIONS].health()
    return web.json_response(health)
