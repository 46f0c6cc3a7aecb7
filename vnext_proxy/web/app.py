"""Build the aiohttp application from settings and the loaded mappings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

from aiohttp import web

from vnext_proxy.aio import spawn
from vnext_proxy.config import Settings
from vnext_proxy.execution.context import Services
from vnext_proxy.execution.flavors import FlavorIds
from vnext_proxy.execution.projects import ProjectAccess
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.nova.caller import CallerFacts
from vnext_proxy.nova.client import NovaClient
from vnext_proxy.nova.endpoint import EndpointResolver
from vnext_proxy.nova.identity import TokenOwners, keystone_url
from vnext_proxy.nova.notifications import NotificationListener
from vnext_proxy.nova.service_auth import ServiceAuth
from vnext_proxy.stores import open_store
from vnext_proxy.tasks.engine import TaskEngine
from vnext_proxy.tasks.poller import TaskPoller
from vnext_proxy.web.generations import VNEXT_ROUTES, Generations, pin_generation, route_in_generation
from vnext_proxy.web.keys import (
    CALLER,
    GENERATIONS,
    METRICS,
    NOTIFICATIONS,
    NOVA,
    OWNERS,
    POLLER,
    SETTINGS,
    STORE,
    TASKS,
)
from vnext_proxy.web.metrics import Metrics
from vnext_proxy.web.middlewares import error_middleware, request_id_middleware
from vnext_proxy.web.observability import (
    healthcheck_handler,
    metrics_handler,
    observe_middleware,
    timeout_middleware,
)
from vnext_proxy.web.passthrough import add_passthrough_routes
from vnext_proxy.web.ui import add_ui_routes


def create_app(settings: Settings, mappings: MappingSet, *, config: Path | None = None) -> web.Application:
    """The proxy, serving ``mappings`` with ``settings``; given the ``config``
    file they were read from, it can reload them (web.reload)."""
    app = web.Application(
        middlewares=[pin_generation, request_id_middleware, observe_middleware, error_middleware, timeout_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[GENERATIONS] = Generations(config)
    app[METRICS] = Metrics()
    app[METRICS].mappings_loaded(mappings.version)
    # Operators' endpoints, not vNext routes: not in the mappings or JSON-Home.
    app.router.add_get("/healthcheck", healthcheck_handler)
    app.router.add_get("/metrics", metrics_handler)
    if settings.nova.passthrough:
        add_passthrough_routes(app)
    add_ui_routes(app)
    # Every other path is a vNext route, found in the request's generation.
    app.router.add_route("*", "/{path:.*}", route_in_generation, name=VNEXT_ROUTES)
    app.cleanup_ctx.append(_nova_client)
    app.cleanup_ctx.append(partial(_task_engine, mappings=mappings))
    return app


async def _task_engine(app: web.Application, mappings: MappingSet) -> AsyncIterator[None]:
    """The store, the engine and its one poller, and the first generation,
    which the store completes; the poller stops first."""
    settings = app[SETTINGS]
    store = await open_store(settings.store_url)
    flavors = FlavorIds(settings.id_namespace)
    engine = TaskEngine(mappings, settings, store, app[NOVA], flavors=flavors.resolve)
    app[STORE] = store
    app[TASKS] = engine
    app[GENERATIONS].start(Services(settings, mappings, app[CALLER], ProjectAccess(), flavors, store, engine))
    creds = settings.tasks.service_credentials
    service = ServiceAuth(creds, settings.nova) if creds is not None else None
    poller = TaskPoller(engine, settings.tasks.poll_interval, service=service, caller=app[CALLER], metrics=app[METRICS])
    app[POLLER] = poller
    running = [spawn(poller.run(), name="task-poller")]
    listener = None
    if settings.notifications is not None:
        # The poller's lease holder consumes: the one replica that polls.
        listener = NotificationListener(settings.notifications, lambda e: poller.wake(e.server_id), poller.holds_lease)
        app[NOTIFICATIONS] = listener
        running.append(spawn(listener.run(), name="nova-notifications"))
        running.append(spawn(poller.answer_wakes(), name="task-poller-wakes"))
    try:
        yield
    finally:
        if listener is not None:
            await listener.stop()
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError):
                await task
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
