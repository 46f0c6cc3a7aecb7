"""Generations: the settings, mappings and routes a request is served by.

aiohttp's router is frozen once the app starts, so the vNext routes live
in a router of their own, one per generation. A reload builds a whole new
generation beside the running one and swaps it in with one assignment;
each request is pinned to the generation current when it arrived, so a
request in flight finishes on the set it started with.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from vnext_proxy.config import Settings
from vnext_proxy.execution.context import Services
from vnext_proxy.execution.named import executor_for
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.edge import route_handler
from vnext_proxy.web.idempotency import idempotent
from vnext_proxy.web.keys import GENERATION, GENERATIONS, ROUTE_MATCH

#: The POSTs that make Nova act: a retry with the same Idempotency-Key acts once.
IDEMPOTENT = frozenset({"start_task", "launch_servers"})


@dataclass(frozen=True)
class Generation:
    """One loaded, checked set of settings and mappings, with its routes."""

    services: Services
    router: web.UrlDispatcher
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def mappings(self) -> MappingSet:
        return self.services.mappings

    @property
    def version(self) -> str:
        return self.services.mappings.version


def build_generation(services: Services) -> Generation:
    """Every route of the services' mappings, in a router of their own."""
    settings, mappings = services.settings, services.mappings
    for spec in mappings.objects.values():
        spec.renders.resize(settings.cache_bytes)
    router = web.UrlDispatcher()
    for route in mappings.routes:
        handler = route_handler(route, executor_for(route, settings))
        if route.handler in IDEMPOTENT:
            handler = idempotent(handler)
        router.add_route(route.method, route.path, handler, name=f"{route.rel}:{route.method}")
    return Generation(services, router)


class Generations:
    """The generation serving new requests, and where its files are read from."""

    def __init__(self, config: Path | None) -> None:
        #: The config file a reload reads again (None: the app was built
        #: from Settings in code, and cannot reload).
        self.config = config
        self._current: Generation | None = None
        #: One reload at a time: a second SIGHUP waits for the first.
        self.reloading = asyncio.Lock()

    @property
    def current(self) -> Generation:
        if self._current is None:
            raise RuntimeError("no generation yet: the app has not started")
        return self._current

    def start(self, services: Services) -> Generation:
        self._current = build_generation(services)
        return self._current

    def swap(self, settings: Settings, mappings: MappingSet) -> Generation:
        """Build the next generation from the running one's shared parts
        (store, task engine, caches of Nova's answers) and make it current."""
        services = dataclasses.replace(self.current.services, settings=settings, mappings=mappings)
        generation = build_generation(services)
        # From here on, new requests and the task engine's next steps use it.
        self._current = generation
        services.tasks.use(mappings, settings)
        return generation


#: The name of the app's catch-all route, which hands a request to its
#: generation's router (a request resolved no further matched no route).
VNEXT_ROUTES = "vnext-routes"

#: Each answer says which mapping set served it, so a client (or a test)
#: can tell the generations apart across a reload.
VERSION_HEADER = "X-VNext-Mappings-Version"


@web.middleware
async def pin_generation(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The first middleware: whatever a reload does meanwhile, this request
    reads its settings, mappings and routes from one generation."""
    generation = request[GENERATION] = request.app[GENERATIONS].current
    response = await handler(request)
    response.headers[VERSION_HEADER] = generation.version
    return response


async def route_in_generation(request: web.Request) -> web.StreamResponse:
    """The app's catch-all route: resolve the request in its generation's
    router, and answer its 404 or 405 as aiohttp's own router would."""
    match = await request[GENERATION].router.resolve(request)
    if match.http_exception is not None:
        raise match.http_exception
    request[ROUTE_MATCH] = match
    return await match.handler(request)
