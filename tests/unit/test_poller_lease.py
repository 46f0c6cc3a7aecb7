"""Two replicas' pollers and a slow Nova: one cycle takes longer than the
lease once lasted, yet each resize is confirmed exactly once. Nova is a
stand-in here (devcloud cannot be made slow); the replicas share one store."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from vnext_proxy.aio import spawn
from vnext_proxy.config import NovaSettings, Settings, TaskSettings
from vnext_proxy.execution.flavors import FlavorIds
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.nova.client import NovaClient
from vnext_proxy.nova.endpoint import EndpointResolver
from vnext_proxy.stores import open_store
from vnext_proxy.tasks.engine import TaskEngine
from vnext_proxy.tasks.model import COMPLETED, RUNNING, Task
from vnext_proxy.tasks.poller import TaskPoller

SERVERS = [f"00000000-0000-4000-8000-0000000000{n:02d}" for n in range(8)]
NOW = datetime.now(UTC)


class SlowNova:
    """Lists servers in 1.5 s and confirms a resize in 0.8 s, counting confirms."""

    def __init__(self) -> None:
        self.confirms: Counter[str] = Counter()
        self.states = dict.fromkeys(SERVERS, "resized")

    def server(self, server_id: str) -> dict[str, Any]:
        return {
            "id": server_id, "status": "VERIFY_RESIZE" if self.states[server_id] == "resized" else "ACTIVE",
            "OS-EXT-STS:vm_state": self.states[server_id], "OS-EXT-STS:task_state": None,
            "updated": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), "tenant_id": "p",
        }  # fmt: skip

    async def servers(self, request: web.Request) -> web.Response:
        await asyncio.sleep(1.5)
        return web.json_response({"servers": [self.server(s) for s in SERVERS]})

    async def action(self, request: web.Request) -> web.Response:
        server_id = request.match_info["server_id"]
        await asyncio.sleep(0.8)
        self.confirms[server_id] += 1
        self.states[server_id] = "active"
        return web.Response(status=204)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v2.1/servers/detail", self.servers)
        app.router.add_post("/v2.1/servers/{server_id}/action", self.action)
        return app


class ServiceToken:
    """The service credentials' token, as ServiceAuth hands it out."""

    async def token(self) -> str:
        return "service-token"

    def invalidate(self) -> None:
        pass


def resize(server_id: str) -> Task:
    return Task(
        id=server_id.replace("-0000000000", "-1111111111"), server_id=server_id, project_id="p", action="RESIZE",
        state=RUNNING, created_at=NOW, created_by="u", deadline_at=NOW + timedelta(hours=1),
        params={"type_id": "2", "start_vm_state": "active"},
    )  # fmt: skip


async def test_a_slow_cycle_keeps_its_lease_and_confirms_once(store_url: str, mappings: MappingSet) -> None:
    nova = SlowNova()
    server = TestServer(nova.app())
    await server.start_server()
    settings = Settings(
        nova=NovaSettings(
            endpoint=str(server.make_url("/v2.1")), request_timeout=4.0
        ),  # headroom over the slow 1.5 s list
        tasks=TaskSettings(poll_interval=0.5),
    )
    stores = [await open_store(store_url), await open_store(store_url)]
    async with contextlib.AsyncExitStack() as stack:
        pollers = []
        for store in stores:
            client = await stack.enter_async_context(NovaClient(settings.nova, EndpointResolver(settings.nova, None)))
            engine = TaskEngine(mappings, settings, store, client, flavors=FlavorIds(settings.id_namespace).resolve)
            pollers.append(TaskPoller(engine, 0.5, service=ServiceToken()))  # type: ignore[arg-type]
        for server_id in SERVERS:
            await stores[0].add_task(resize(server_id))
        # A cycle here takes 1.5 + 8 x 0.8 s: more than 3 x interval and 5 s,
        # the lease a poller used to take once, at the start of its cycle.
        first = spawn(pollers[0].run(), name="replica-a")
        await asyncio.sleep(0.2)
        second = spawn(pollers[1].run(), name="replica-b")
        try:
            for _ in range(60):
                tasks = [await stores[0].get_task(resize(s).id) for s in SERVERS]
                if all(t is not None and t.state == COMPLETED for t in tasks):
                    break
                await asyncio.sleep(0.5)
        finally:
            for running in (first, second):
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
    for store in stores:
        await store.close()
    await server.close()
    assert nova.confirms == Counter(dict.fromkeys(SERVERS, 1))
    assert all(t is not None and t.state == COMPLETED for t in tasks)
