"""How the task poller's cost grows with the number of running tasks.

Runs N POWER_OFF tasks against a counting stand-in of Nova (an in-process
aiohttp app that serves the server, server-list, action and instance-action
APIs and counts every request), then reports, per poll cycle, how many Nova
requests the poller made, and the proxy's resident memory, for each N.

devcloud cannot hold 1000 servers (quota, and about 10 GETs a second), so the
stand-in plays Nova; it answers the way Nova 34 does for these calls.

    .venv/bin/python bench/task_poll.py [--sizes 10,100,1000] [--cycles 5]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from vnext_proxy.config import NovaSettings, Settings, TaskSettings
from vnext_proxy.execution.flavors import FlavorIds
from vnext_proxy.mapping.loader import load_mappings
from vnext_proxy.nova.client import NovaClient
from vnext_proxy.nova.endpoint import EndpointResolver
from vnext_proxy.stores.sqlite import SqliteStore
from vnext_proxy.tasks.engine import TaskEngine
from vnext_proxy.tasks.poller import TaskPoller

TOKEN = "bench-token"
#: Nova's default [api] max_limit: the most servers one page holds.
MAX_LIMIT = 1000


def _now() -> str:
    """As Nova writes ``updated``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StandInNova:
    """Just enough of Nova for POWER_OFF tasks, counting requests by kind."""

    def __init__(self) -> None:
        self.servers: dict[str, dict[str, Any]] = {}
        self.actions: dict[str, dict[str, Any]] = {}
        self.requests: Counter[str] = Counter()

    def add_server(self) -> str:
        sid = str(uuid.uuid4())
        self.servers[sid] = {
            "id": sid, "tenant_id": "p", "user_id": "u", "status": "ACTIVE", "updated": "2026-01-01T00:00:00Z",
            "OS-EXT-STS:vm_state": "active", "OS-EXT-STS:task_state": None, "OS-EXT-STS:power_state": 1,
            "flavor": {"original_name": "m1.tiny"},
        }  # fmt: skip
        return sid

    def finish_all(self) -> None:
        """Nova's compute finishes every stop it was asked for."""
        for server in self.servers.values():
            if server["OS-EXT-STS:task_state"] == "powering-off":
                server.update({"OS-EXT-STS:vm_state": "stopped", "OS-EXT-STS:task_state": None, "status": "SHUTOFF"})
                server["updated"] = _now()
        for action in self.actions.values():
            for event in action["events"]:
                event.update(result="Success", finish_time="2026-01-01T00:00:02.000000")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v2.1/servers/detail", self.detail)
        app.router.add_get("/v2.1/servers/{id}", self.show)
        app.router.add_post("/v2.1/servers/{id}/action", self.action)
        app.router.add_get("/v2.1/servers/{id}/os-instance-actions/{req}", self.instance_action)
        return app

    def touch(self, count: int | None = None) -> None:
        """Nova changes ``count`` servers (all of them by default): their
        ``updated`` moves on, so changes-since lists them."""
        now = _now()
        for server in list(self.servers.values())[:count]:
            server["updated"] = now

    async def detail(self, request: web.Request) -> web.Response:
        """As Nova pages: changed since ``changes-since``, at most max_limit
        (1000) a page after ``marker``, and a next link when a page is full."""
        self.requests["GET /servers/detail"] += 1
        since = request.query.get("changes-since", "")
        listed = [s for s in self.servers.values() if s["updated"] >= since.replace("+00:00", "Z")]
        start = 0
        if "marker" in request.query:
            start = next(i for i, s in enumerate(listed) if s["id"] == request.query["marker"]) + 1
        limit = min(int(request.query.get("limit", MAX_LIMIT)), MAX_LIMIT)
        page = listed[start : start + limit]
        body: dict[str, Any] = {"servers": page}
        if page and len(page) == limit:
            body["servers_links"] = [{"rel": "next", "href": f"/v2.1/servers/detail?marker={page[-1]['id']}"}]
        return web.json_response(body)

    async def show(self, request: web.Request) -> web.Response:
        self.requests["GET /servers/{id}"] += 1
        return web.json_response({"server": self.servers[request.match_info["id"]]})

    async def action(self, request: web.Request) -> web.Response:
        self.requests["POST /servers/{id}/action"] += 1
        sid = request.match_info["id"]
        req = f"req-{uuid.uuid4()}"
        self.servers[sid].update({"OS-EXT-STS:task_state": "powering-off", "updated": _now()})
        self.actions[req] = {
            "action": "stop", "request_id": req, "user_id": "u", "message": None,
            "events": [{"event": "compute_stop_instance", "result": None, "finish_time": None,
                        "start_time": "2026-01-01T00:00:01.000000"}],
        }  # fmt: skip
        return web.Response(status=202, headers={"x-openstack-request-id": req})

    async def instance_action(self, request: web.Request) -> web.Response:
        self.requests["GET os-instance-actions/{req}"] += 1
        return web.json_response({"instanceAction": self.actions[request.match_info["req"]]})


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StandInServiceAuth:
    """The poller's service credentials, as a token the stand-in accepts."""

    async def token(self) -> str:
        return TOKEN


async def measure(n: int, cycles: int, replicas: int = 1) -> dict[str, Any]:
    nova = StandInNova()
    runner = web.AppRunner(nova.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    settings = Settings(nova=NovaSettings(endpoint=f"http://127.0.0.1:{port}/v2.1"), tasks=TaskSettings())
    mappings = load_mappings()
    with tempfile.TemporaryDirectory() as tmp:
        store = await SqliteStore.open(f"{tmp}/tasks.sqlite3")
        async with NovaClient(settings.nova, EndpointResolver(settings.nova)) as client:
            engine = TaskEngine(mappings, settings, store, client, flavors=FlavorIds(settings.id_namespace).resolve)
            for _ in range(n):
                await engine.start(nova.add_server(), {"action": "POWER_OFF"}, TOKEN, engine.sender(TOKEN))
            # Several replicas share the store; with service credentials each
            # could watch every task, and the lease lets one at a time.
            service = StandInServiceAuth() if replicas > 1 else None
            pollers = [
                TaskPoller(
                    TaskEngine(mappings, settings, store, client, flavors=FlavorIds(settings.id_namespace).resolve),
                    interval=1.0,
                    service=service,
                )  # type: ignore[arg-type]
                for _ in range(replicas - 1)
            ]
            pollers.insert(0, TaskPoller(engine, interval=1.0, service=service))  # type: ignore[arg-type]
            # A first cycle in which Nova shows every server: from then on each
            # task knows its server, as in a proxy that has been running.
            nova.touch()
            for poller in pollers:
                await poller.poll_once()
            steady: dict[str, int] = {}
            for case, changed in (("all changed", None), ("few changed", 5)):
                if changed is not None:
                    # Past the poll's overlap (5 s), the earlier changes are old news.
                    await asyncio.sleep(6)
                    for poller in pollers:
                        await poller.poll_once()
                counts = []
                for _ in range(cycles):
                    nova.touch(changed)
                    before = sum(nova.requests.values())
                    for poller in pollers:
                        await poller.poll_once()
                    counts.append(sum(nova.requests.values()) - before)
                steady[case] = max(counts)
            nova.finish_all()
            before = sum(nova.requests.values())
            for poller in pollers:
                await poller.poll_once()
            finishing = sum(nova.requests.values()) - before
            done = sum(1 for t in await store.running_tasks())
        await store.close()
    await runner.cleanup()
    return {"n": n, **steady, "finishing": finishing, "still_running": done, "rss_mb": rss_mb()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=1, help="pollers sharing one store (service credentials)")
    args = parser.parse_args()
    print(f"{args.replicas} replica(s); Nova pages {MAX_LIMIT} servers at a time")
    print(
        f"{'N tasks':>8} {'Nova req/interval, all changed':>31} {'few changed':>12} {'at completion':>14} {'RSS MB':>8}"
    )
    for n in (int(x) for x in args.sizes.split(",")):
        r = await measure(n, args.cycles, args.replicas)
        print(
            f"{n:>8} {r['all changed']:>31} {r['few changed']:>12} {r['finishing']:>14} {r['rss_mb']:>8.1f}"
            + ("" if r["still_running"] == 0 else f"   ({r['still_running']} tasks did not complete!)")
        )
    print(
        "\nThe poller makes one batched GET /servers/detail?changes-since per credential per interval,"
        "\nfollowing Nova's pages: N/1000 + 1 requests when every server changed, 1 when few did."
        "\nPOWER_OFF is a trust_state action: seen going from powering-off to stopped, it completes without"
        "\nreading its instance action. Actions whose end state can also be a state on the way (REBOOT, RESIZE,"
        "\nREBUILD...) read it once, in the cycle they look finished. RSS is the process's peak so far."
    )


if __name__ == "__main__":
    asyncio.run(main())
