"""Build the aiohttp application from settings and the loaded mappings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from vnext_proxy.aio import spawn
from vnext_proxy.config import Settings
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.nova.caller import CallerFacts
from vnext_proxy.nova.client import NovaClient
from vnext_proxy.nova.endpoint import EndpointResolver
from vnext_proxy.nova.identity import TokenOwners, keystone_url
from vnext_proxy.nova.service_auth import ServiceAuth
from vnext_proxy.stores import open_store
from vnext_proxy.tasks.engine import TaskEngine
from vnext_proxy.tasks.poller import TaskPoller
from vnext_proxy.web.handlers import RouteHandler
from vnext_proxy.web.idempotency import idempotent
from vnext_proxy.web.keys import CALLER, MAPPINGS, METRICS, NOVA, OWNERS, SETTINGS, TASKS
from vnext_proxy.web.launch_handler import launch_servers
from vnext_proxy.web.metrics import Metrics
from vnext_proxy.web.middlewares import error_middleware, request_id_middleware
from vnext_proxy.web.observability import (
    healthcheck_handler,
    metrics_handler,
    observe_middleware,
    timeout_middleware,
)
from vnext_proxy.web.server_group_handlers import SERVER_GROUP_HANDLERS
from vnext_proxy.web.server_type_handlers import SERVER_TYPE_HANDLERS
from vnext_proxy.web.task_handlers import TASK_HANDLERS

#: The Python side of mapping.variables.ROUTE_HANDLERS.
ROUTE_HANDLERS = {
    **TASK_HANDLERS,
    **SERVER_TYPE_HANDLERS,
    **SERVER_GROUP_HANDLERS,
    # The POSTs that make Nova act: a retry with the same Idempotency-Key acts once.
    "start_task": idempotent(TASK_HANDLERS["start_task"]),
    "launch_servers": idempotent(launch_servers),
}


def create_app(settings: Settings, mappings: MappingSet) -> web.Application:
    app = web.Application(
        middlewares=[request_id_middleware, observe_middleware, error_middleware, timeout_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[MAPPINGS] = mappings
    for spec in mappings.objects.values():
        spec.renders.resize(settings.cache_bytes)
    app[METRICS] = Metrics()
    # Operators' endpoints, not vNext routes: not in the mappings or JSON-Home.
    app.router.add_get("/healthcheck", healthcheck_handler)
    app.router.add_get("/metrics", metrics_handler)
    app.cleanup_ctx.append(_nova_client)
    app.cleanup_ctx.append(_task_engine)
    for route in mappings.routes:
        handler = ROUTE_HANDLERS[route.handler] if route.handler else RouteHandler(route, settings.cache_bytes).handle
        app.router.add_route(route.method, route.path, handler, name=f"{route.rel}:{route.method}")
    return app


async def _task_engine(app: web.Application) -> AsyncIterator[None]:
    """The store, the engine and its one poller; the poller stops first."""
    settings = app[SETTINGS]
    store = await open_store(settings.store_url)
    engine = TaskEngine(app[MAPPINGS], settings, store, app[NOVA])
    app[TASKS] = engine
    creds = settings.tasks.service_credentials
    service = ServiceAuth(creds, settings.nova) if creds is not None else None
    poller = TaskPoller(engine, settings.tasks.poll_interval, service=service, caller=app[CALLER], metrics=app[METRICS])
    running = spawn(poller.run(), name="task-poller")
    try:
        yield
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await store.close()


async def _nova_client(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    resolver = EndpointResolver(settings.nova, settings.tasks.service_credentials)
    owners = TokenOwners(keystone_url(settings), settings.nova.request_timeout)
    async with NovaClient(settings.nova, resolver, observe=app[METRICS].nova_call) as nova, owners:
        app[NOVA] = nova
        app[CALLER] = CallerFacts()
        app[OWNERS] = owners
        yield
