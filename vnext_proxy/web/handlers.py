"""One generic handler per declared route: plan, call Nova, render."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from vnext_proxy.errors import VNextError, from_nova
from vnext_proxy.mapping.engine import plan_call, render_response
from vnext_proxy.mapping.model import MappingSet, Route
from vnext_proxy.nova.client import NovaClient
from vnext_proxy.web.keys import MAPPINGS, NOVA
from vnext_proxy.web.middlewares import BACKEND_REQUEST_IDS, REQUEST_ID


def caller_token(request: web.Request) -> str:
    token = request.headers.get("X-Auth-Token", "").strip()
    if not token:
        raise VNextError(401, "Authentication required: send an X-Auth-Token header")
    return token


class RouteHandler:
    """Serves one mapping route. Holds the route; does no parsing per request."""

    def __init__(self, route: Route) -> None:
        self.route = route

    async def handle(self, request: web.Request) -> web.StreamResponse:
        route = self.route
        if route.not_applicable is not None:
            na = route.not_applicable
            raise VNextError(na.answer, f"{na.reason} Use instead: {na.use_instead}")
        token = caller_token(request) if route.auth else None
        mappings: MappingSet = request.app[MAPPINGS]
        bodies: dict[str, Any] = {}
        if route.nova:
            assert token is not None  # routes that call Nova always need a token (checked at load)
            nova: NovaClient = request.app[NOVA]
            variables = dict(request.match_info)
            variables.update({q: request.query[q] for q in route.query_vars if q in request.query})
            for call in route.nova:
                answer = await nova.send(plan_call(call, variables), token=token, request_id=request[REQUEST_ID])
                if answer.request_id:
                    request[BACKEND_REQUEST_IDS].append(answer.request_id)
                if not answer.ok:
                    raise from_nova(answer.status, answer.body)
                bodies[call.name] = answer.body
        result = render_response(route, mappings, bodies, request.path_qs)
        return web.json_response(result.body, status=result.status, content_type=result.content_type)
