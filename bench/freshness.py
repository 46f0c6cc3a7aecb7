"""How soon the proxy says a task COMPLETED after Nova finished it.

For each task: freshness = the moment the proxy's store says COMPLETED minus
the end of Nova's instance action (its last event's finish_time; devcloud's
Nova runs on this machine's clock). Two set-ups of the proxy, in this
process, in front of one devcloud: polling only, and polling woken by Nova's
versioned notifications (read from the machine's RabbitMQ, on a queue of
the bench's own, deleted at the end). Each runs the same cycle of actions
that need Nova's compute (POWER_OFF, POWER_ON, REBOOT, PAUSE, UNPAUSE,
SUSPEND, RESUME) on a few servers, one task at a time per server.

The store is watched in-process every 10 ms, so measuring asks Nova
nothing. Targets (issue 18): with notifications a median of 0.2 s or less;
without, one poll interval or less. Starting devcloud takes about a minute.

    .venv/bin/python bench/freshness.py [--tasks 30] [--poll-interval 2] [--servers 3] [--breakdown]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import os
import random
import statistics
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
from aiohttp import web

from vnext_proxy.aio import spawn
from vnext_proxy.config import NotificationSettings, NovaSettings, Settings, TaskSettings
from vnext_proxy.devcloud.process import DevCloudProcess
from vnext_proxy.mapping.loader import load_mappings
from vnext_proxy.nova.notifications import ServerEvent
from vnext_proxy.stores import Store
from vnext_proxy.tasks.model import COMPLETED
from vnext_proxy.timeutil import parse_time
from vnext_proxy.web.app import create_app
from vnext_proxy.web.keys import NOTIFICATIONS, POLLER, SETTINGS, STORE

ROOT = Path(__file__).resolve().parent.parent
RABBITMQ = os.environ.get("VNEXT_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/")
TOKEN = "devcloud-member-a"
IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"  # devcloud's first image
#: 2.62+ shows an instance action's events with their host; 2.100 is what the proxy speaks.
NOVA_HEADERS = {"X-Auth-Token": TOKEN, "OpenStack-API-Version": "compute 2.100"}
#: Each leaves the server where the next one applies, and each needs Nova's
#: compute (unlike LOCK, which is done when Nova's API answers).
ACTIONS = ("POWER_OFF", "POWER_ON", "REBOOT", "PAUSE", "UNPAUSE", "SUSPEND", "RESUME")
#: How often the proxy's store is looked at: the measure's resolution.
WATCH_SECONDS = 0.01
#: devcloud answers about 10 GETs a second: waiting on it, ask once a second at most.
NOVA_POLL_SECONDS = 1.0
NOTIFIED_TARGET = 0.2


@dataclasses.dataclass(frozen=True)
class Sample:
    action: str
    #: Proxy's COMPLETED minus the end of Nova's instance action, in seconds.
    freshness: float
    #: When the proxy's listener got Nova's end event, from the same end (None: no event).
    notified: float | None


@dataclasses.dataclass
class SetupResult:
    name: str
    samples: list[Sample]
    #: Tasks that ended otherwise than COMPLETED: not freshness samples.
    failed: list[str]


class Nova:
    """devcloud's Nova, asked directly (not through the proxy)."""

    def __init__(self, session: aiohttp.ClientSession, endpoint: str) -> None:
        self.session = session
        self.endpoint = endpoint

    async def _json(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(method, self.endpoint + path, json=body, headers=NOVA_HEADERS) as resp:
            return resp.status, await resp.json() if resp.content_type == "application/json" else None

    async def boot(self, name: str) -> str:
        server = {"name": name, "imageRef": IMAGE, "flavorRef": "1", "networks": "none"}
        status, body = await self._json("POST", "/servers", {"server": server})
        if status != 202:
            raise RuntimeError(f"booting {name}: {status} {body}")
        server_id: str = body["server"]["id"]
        return server_id

    async def wait_active(self, server_id: str, within: float = 180.0) -> None:
        async with asyncio.timeout(within):
            while True:
                _, body = await self._json("GET", f"/servers/{server_id}")
                if body["server"]["status"] == "ACTIVE":
                    return
                if body["server"]["status"] == "ERROR":
                    raise RuntimeError(f"server {server_id} went to ERROR: {body['server'].get('fault')}")
                await asyncio.sleep(NOVA_POLL_SECONDS)

    async def action_end(self, server_id: str, request_id: str, within: float = 60.0) -> datetime:
        """When Nova finished the instance action: its last event's
        finish_time, once every event has one (Nova writes an event's finish
        after the state change the proxy may already have acted on)."""
        async with asyncio.timeout(within):
            while True:
                status, body = await self._json("GET", f"/servers/{server_id}/os-instance-actions/{request_id}")
                if status != 200:
                    raise RuntimeError(f"instance action {request_id}: {status} {body}")
                events = body["instanceAction"].get("events") or []
                if events and all(e.get("finish_time") for e in events):
                    return max(parse_time(e["finish_time"]) for e in events)
                await asyncio.sleep(NOVA_POLL_SECONDS)

    async def forget(self, server_ids: list[str], within: float = 60.0) -> list[str]:
        """Delete for good (devcloud's DELETE is a soft delete, which
        forceDelete ends once it has settled); the ones still there."""
        for server_id in server_ids:
            await self._json("DELETE", f"/servers/{server_id}")
        left = list(server_ids)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while left:
                    for server_id in list(left):
                        status, body = await self._json("GET", f"/servers/{server_id}")
                        if status == 404:
                            left.remove(server_id)
                        elif _settled_soft_delete(body["server"]):
                            await self._json("POST", f"/servers/{server_id}/action", {"forceDelete": None})
                    await asyncio.sleep(NOVA_POLL_SECONDS)
        return left


def _settled_soft_delete(server: dict[str, Any]) -> bool:
    return server["OS-EXT-STS:vm_state"] == "soft-delete" and server["OS-EXT-STS:task_state"] is None


class CompletionWatch:
    """Which tasks the proxy's store holds RUNNING, every WATCH_SECONDS: a
    task that leaves that list was ended by the proxy at that moment (to
    WATCH_SECONDS). One query for all tasks, and no Nova call."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.seen_running: set[str] = set()
        self._ended: dict[str, asyncio.Future[datetime]] = {}

    async def run(self) -> None:
        running: set[str] = set()
        while True:
            looked_at = datetime.now(UTC)
            now_running = {task.id for task in await self.store.running_tasks()}
            for task_id in running - now_running:
                if not (ended := self._future(task_id)).done():
                    ended.set_result(looked_at)
            self.seen_running |= now_running
            running = now_running
            await asyncio.sleep(WATCH_SECONDS)

    async def ended(self, task_id: str, within: float = 180.0) -> datetime:
        return await asyncio.wait_for(asyncio.shield(self._future(task_id)), within)

    def _future(self, task_id: str) -> asyncio.Future[datetime]:
        return self._ended.setdefault(task_id, asyncio.get_running_loop().create_future())


def noting_arrivals(app: web.Application) -> dict[str, datetime]:
    """When the proxy's listener got each end event, by request id; the
    listener's own handling (waking the poller) is unchanged."""
    arrivals: dict[str, datetime] = {}
    listener = app[NOTIFICATIONS]
    wake = listener.on_event

    def noted(event: ServerEvent) -> None:
        if event.request_id is not None:
            arrivals.setdefault(event.request_id, datetime.now(UTC))
        wake(event)

    listener.on_event = noted
    return arrivals


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[web.Application, str]]:
    """The proxy in this process, once its first poll cycle is over (and its
    notification queue bound, if it has one); the app and its base URL."""
    app = create_app(settings, load_mappings())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        async with asyncio.timeout(60):
            while app[POLLER].cycles < 1 or (NOTIFICATIONS in app and app[NOTIFICATIONS].state != "consuming"):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        yield app, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def task_counts(total: int, servers: int) -> list[int]:
    return [total // servers + (1 if i < total % servers else 0) for i in range(servers)]


@dataclasses.dataclass
class SetupRun:
    """One set-up's proxy, and what its tasks are measured with."""

    session: aiohttp.ClientSession
    base: str
    app: web.Application
    nova: Nova
    watch: CompletionWatch
    arrivals: dict[str, datetime]
    result: SetupResult

    async def run_tasks(self, server_id: str, actions: Iterator[str], count: int) -> None:
        """``count`` tasks on one server, one after the other. Each starts at
        a random point of the poll interval: started right after the cycle
        that ended the one before, Nova would end them all at one phase of
        the cycle, and the polled set-up would measure that phase."""
        interval = self.app[SETTINGS].tasks.poll_interval
        for _ in range(count):
            await asyncio.sleep(random.uniform(0, interval))
            await self.run_task(server_id, next(actions))

    async def run_task(self, server_id: str, action: str) -> None:
        url = f"{self.base}/servers/{server_id}/tasks"
        async with self.session.post(url, json={"action": action}, headers={"X-Auth-Token": TOKEN}) as resp:
            body = await resp.json()
            if resp.status != 202:
                raise RuntimeError(f"{action} on {server_id}: {resp.status} {body}")
        task_id = body["id"]
        completed_at = await self.watch.ended(task_id)
        if task_id not in self.watch.seen_running:
            raise RuntimeError(f"task {task_id} ended before the watch saw it running: no measure")
        task = await self.app[STORE].get_task(task_id)
        if task is None or task.request_id is None:
            raise RuntimeError(f"task {task_id} is gone from the store, or has no Nova request id")
        if task.state != COMPLETED:
            self.result.failed.append(f"{action} {task.state}: {task.reason}")
            return
        nova_end = await self.nova.action_end(server_id, task.request_id)
        arrived = self.arrivals.get(task.request_id)
        notified = None if arrived is None else (arrived - nova_end).total_seconds()
        self.result.samples.append(Sample(action, (completed_at - nova_end).total_seconds(), notified))


async def run_setup(
    name: str,
    settings: Settings,
    session: aiohttp.ClientSession,
    nova: Nova,
    servers: dict[str, Iterator[str]],
    tasks: int,
) -> SetupResult:
    result = SetupResult(name, [], [])
    async with serving(settings) as (app, base):
        arrivals = noting_arrivals(app) if NOTIFICATIONS in app else {}
        watch = CompletionWatch(app[STORE])
        run = SetupRun(session, base, app, nova, watch, arrivals, result)
        watching = spawn(watch.run(), name="freshness-watch")
        counts = task_counts(tasks, len(servers))
        try:
            await asyncio.gather(
                *(run.run_tasks(sid, actions, n) for (sid, actions), n in zip(servers.items(), counts, strict=True))
            )
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
    return result


async def delete_queue(url: str, name: str) -> None:
    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        await (await connection.channel()).queue_delete(name)


async def bench(endpoint: str, args: argparse.Namespace, store_dir: Path) -> list[SetupResult]:
    queue = f"vnext-proxy-freshness-{uuid.uuid4().hex[:8]}"
    base = Settings(
        nova=NovaSettings(endpoint=endpoint),
        tasks=TaskSettings(poll_interval=args.poll_interval),
        access_log=False,
        log_level="WARNING",
    )
    setups = (
        ("without notifications", dataclasses.replace(base, store_url=f"sqlite:///{store_dir}/polled.sqlite3")),
        (
            "with notifications",
            dataclasses.replace(
                base,
                store_url=f"sqlite:///{store_dir}/notified.sqlite3",
                notifications=NotificationSettings(args.rabbitmq, queue=queue),
            ),
        ),
    )
    results: list[SetupResult] = []
    async with aiohttp.ClientSession() as session:
        nova = Nova(session, endpoint)
        server_ids: list[str] = []
        try:
            for i in range(args.servers):
                server_ids.append(await nova.boot(f"freshness-{i}"))
            for server_id in server_ids:
                await nova.wait_active(server_id)
            # Each server goes on with its cycle of actions from one set-up to the next.
            servers = {server_id: itertools.cycle(ACTIONS) for server_id in server_ids}
            for name, settings in setups:
                results.append(await run_setup(name, settings, session, nova, servers, args.tasks))
        finally:
            try:
                await delete_queue(args.rabbitmq, queue)
            finally:
                if left := await nova.forget(server_ids):
                    print(f"(not deleted within a minute: servers {', '.join(left)})")
    return results


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def print_table(results: list[SetupResult], poll_interval: float) -> None:
    print(f"\n{'set-up':<22} {'tasks':>5} {'median':>7} {'p95':>7} {'max':>7}  (seconds)")
    for result in results:
        values = [s.freshness for s in result.samples]
        if not values:
            print(f"{result.name:<22} {0:>5} {'-':>7} {'-':>7} {'-':>7}")
            continue
        print(
            f"{result.name:<22} {len(values):>5} {statistics.median(values):>7.3f} {p95(values):>7.3f}"
            f" {max(values):>7.3f}"
        )
    for result in results:
        if result.failed:
            print(f"{result.name}: {len(result.failed)} task(s) not COMPLETED: {'; '.join(result.failed)}")
    targets = {"with notifications": NOTIFIED_TARGET, "without notifications": poll_interval}
    print()
    for result in results:
        target = targets[result.name]
        if not result.samples:
            print(f"target {result.name}: median <= {target:g} s: not measured")
            continue
        median = statistics.median(s.freshness for s in result.samples)
        print(f"target {result.name}: median <= {target:g} s: {'met' if median <= target else 'NOT met'}")


def print_breakdown(results: list[SetupResult]) -> None:
    """Per action: freshness, and how long after Nova's end the end event reached the proxy."""
    print(f"\n{'set-up':<22} {'action':<10} {'tasks':>5} {'median':>7} {'max':>7} {'event at':>9}")
    for result in results:
        for action in ACTIONS:
            samples = [s for s in result.samples if s.action == action]
            if not samples:
                continue
            values = [s.freshness for s in samples]
            notified = [s.notified for s in samples if s.notified is not None]
            event = f"{statistics.median(notified):>9.3f}" if notified else f"{'-':>9}"
            print(
                f"{result.name:<22} {action:<10} {len(values):>5} {statistics.median(values):>7.3f}"
                f" {max(values):>7.3f} {event}"
            )
    print("(event at: median time the end event reached the proxy, from the end of Nova's instance action)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=30, help="tasks per set-up (default 30)")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="the proxy's poll interval, s (default 2)")
    parser.add_argument("--servers", type=int, default=3, help="servers the tasks are spread over (default 3)")
    parser.add_argument("--rabbitmq", default=RABBITMQ, help="amqp:// URL of the RabbitMQ Nova publishes to")
    parser.add_argument("--breakdown", action="store_true", help="also show each action's figures")
    args = parser.parse_args()
    log = ROOT / "var" / "bench-devcloud.log"
    print(f"Starting devcloud (about a minute; log in {log.relative_to(ROOT)}) ...", flush=True)
    # devcloud's fast mode, its token table: what is measured is the proxy, not Keystone's validations.
    cloud = DevCloudProcess(
        port=0, log_path=log, notifications=args.rabbitmq.replace("amqp://", "rabbit://", 1), keystone=False
    )
    cloud.start()
    try:
        assert cloud.endpoint is not None
        with tempfile.TemporaryDirectory() as store_dir:
            results = asyncio.run(bench(cloud.endpoint, args, Path(store_dir)))
    finally:
        cloud.stop()
    print_table(results, args.poll_interval)
    if args.breakdown:
        print_breakdown(results)


if __name__ == "__main__":
    main()
