"""Build the aiohttp application from settings and the loaded mappings."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from vnext_proxy.config import Settings
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.nova.caller import CallerFacts
from vnext_proxy.nova.client import NovaClient
from vnext_proxy.nova.endpoint import EndpointResolver
from vnext_proxy.web.handlers import RouteHandler
from vnext_proxy.web.keys import CALLER, MAPPINGS, NOVA, SETTINGS
from vnext_proxy.web.middlewares import error_middleware, request_id_middleware


def create_app(settings: Settings, mappings: MappingSet) -> web.Application:
    app = web.Application(middlewares=[request_id_middleware, error_middleware])
    app[SETTINGS] = settings
    app[MAPPINGS] = mappings
    app.cleanup_ctx.append(_nova_client)
    for route in mappings.routes:
        app.router.add_route(route.method, route.path, RouteHandler(route).handle, name=f"{route.rel}:{route.method}")
    return app


async def _nova_client(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    resolver = EndpointResolver(settings.nova, settings.tasks.service_credentials)
    async with aiohttp.ClientSession(raise_for_status=False) as session:
        app[NOVA] = NovaClient(session, settings.nova, resolver)
        app[CALLER] = CallerFacts()
        yield
