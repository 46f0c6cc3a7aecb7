"""The poll follows Nova's paging: with 2,500 servers, tasks on every page
are judged on what Nova shows now. Nova is a stand-in (devcloud holds ten
servers a project); it pages as Nova does, 1000 a page with a next link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from vnext_proxy.config import NovaSettings, Settings
from vnext_proxy.execution.flavors import FlavorIds
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.nova.client import NovaClient
from vnext_proxy.nova.endpoint import EndpointResolver
from vnext_proxy.stores import open_store
from vnext_proxy.tasks.engine import TaskEngine
from vnext_proxy.tasks.model import COMPLETED, RUNNING, Task
from vnext_proxy.tasks.poller import TaskPoller

NOW = datetime.now(UTC)
MAX_LIMIT = 1000


class PagingNova:
    def __init__(self, count: int) -> None:
        self.servers = [self._server(n) for n in range(count)]
        self.pages_served = 0

    @staticmethod
    def _server(n: int) -> dict[str, Any]:
        return {
            "id": f"00000000-0000-4000-8000-{n:012d}", "status": "ACTIVE", "updated": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "OS-EXT-STS:vm_state": "active", "OS-EXT-STS:task_state": "powering-off", "tenant_id": "p",
        }  # fmt: skip

    def stop_all(self) -> None:
        for server in self.servers:
            server.update({"status": "SHUTOFF", "OS-EXT-STS:vm_state": "stopped", "OS-EXT-STS:task_state": None})

    async def detail(self, request: web.Request) -> web.Response:
        # As Nova: at most max_limit a page, after the marker, and a next link when the page is full.
        limit = min(int(request.query.get("limit", MAX_LIMIT)), MAX_LIMIT)
        start = 0
        if "marker" in request.query:
            start = next(i for i, s in enumerate(self.servers) if s["id"] == request.query["marker"]) + 1
        page = self.servers[start : start + limit]
        self.pages_served += "changes-since" in request.query
        body: dict[str, Any] = {"servers": page}
        if len(page) == limit:
            body["servers_links"] = [{"rel": "next", "href": f"/v2.1/servers/detail?marker={page[-1]['id']}"}]
        return web.json_response(body)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v2.1/servers/detail", self.detail)
        return app


def power_off(server: dict[str, Any]) -> Task:
    return Task(
        id=server["id"].replace("-8000-", "-9000-"), server_id=server["id"], project_id="p", action="POWER_OFF",
        state=RUNNING, created_at=NOW, created_by="u", deadline_at=NOW + timedelta(hours=1),
        params={"start_vm_state": "active"},
    )  # fmt: skip


async def test_tasks_on_every_page_advance(tmp_path: Path, mappings: MappingSet) -> None:
    nova = PagingNova(2500)
    server = TestServer(nova.app())
    await server.start_server()
    settings = Settings(nova=NovaSettings(endpoint=str(server.make_url("/v2.1"))))
    store = await open_store(f"sqlite:///{tmp_path}/t.sqlite3")
    watched = [nova.servers[n] for n in (10, 1500, 2400)]
    try:
        async with NovaClient(settings.nova, EndpointResolver(settings.nova, None)) as client:
            engine = TaskEngine(mappings, settings, store, client, flavors=FlavorIds(settings.id_namespace).resolve)
            poller = TaskPoller(engine, interval=1.0)
            for watched_server in watched:
                task = power_off(watched_server)
                await store.add_task(task)
                engine._tokens[task.id] = "admin-token"  # as start() keeps it
            await poller.poll_once()  # every server powering off
            assert nova.pages_served == 3
            nova.stop_all()
            await poller.poll_once()
            for watched_server in watched:
                ended = await store.get_task(power_off(watched_server).id)
                assert ended is not None
                assert ended.state == COMPLETED, watched_server["id"]
    finally:
        await store.close()
        await server.close()
