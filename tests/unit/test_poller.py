"""The poller backs off while Nova (or the store) fails, and recovers by itself."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from vnext_proxy.config import NovaSettings, Settings
from vnext_proxy.errors import NovaUnavailable
from vnext_proxy.execution.flavors import FlavorIds
from vnext_proxy.tasks.poller import TaskPoller


class FlakyStore:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def take_lease(self, name: str, holder: str, ttl: float) -> bool:
        return True

    async def running_tasks(self) -> list[Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise NovaUnavailable("Nova is unreachable")
        return []


class Engine:
    settings = Settings(nova=NovaSettings(endpoint="http://127.0.0.1:9/v2.1"))

    def __init__(self, store: FlakyStore) -> None:
        self.store = store

    def clock(self) -> Any:
        from datetime import UTC, datetime

        return datetime.now(UTC)


async def test_backs_off_then_recovers() -> None:
    store = FlakyStore(failures=4)
    poller = TaskPoller(Engine(store), interval=2.0, max_backoff=10.0)  # type: ignore[arg-type]
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)
        if len(delays) == 7:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await poller.run(sleep=sleep)
    assert delays == [4.0, 8.0, 10.0, 10.0, 2.0, 2.0, 2.0]
    assert poller.cycles == 3


async def test_deadlines_hold_while_nova_cannot_be_read(tmp_path, mappings) -> None:  # type: ignore[no-untyped-def]
    """A running task past its deadline is TIMED_OUT in the next cycle,
    whether its token is held (and Nova is down) or not held at all."""
    from datetime import UTC, datetime, timedelta

    from helpers import refused_port

    from vnext_proxy.nova.client import NovaClient
    from vnext_proxy.nova.endpoint import EndpointResolver
    from vnext_proxy.stores import open_store
    from vnext_proxy.tasks.engine import TaskEngine
    from vnext_proxy.tasks.model import RUNNING, TIMED_OUT, Task

    long_ago = datetime.now(UTC) - timedelta(hours=1)

    def overdue(n: int) -> Task:
        return Task(
            id=f"00000000-0000-4000-8000-00000000000{n}", server_id=f"server-{n}", project_id="p", action="REBOOT",
            state=RUNNING, created_at=long_ago, created_by=None, deadline_at=long_ago + timedelta(minutes=1),
        )  # fmt: skip

    with refused_port() as port:
        settings = Settings(nova=NovaSettings(endpoint=f"http://127.0.0.1:{port}/v2.1"))
        store = await open_store(f"sqlite:///{tmp_path}/t.sqlite3")
        try:
            async with NovaClient(settings.nova, EndpointResolver(settings.nova, None)) as nova:
                engine = TaskEngine(mappings, settings, store, nova, flavors=FlavorIds(settings.id_namespace).resolve)
                held, unheld = overdue(1), overdue(2)
                for task in (held, unheld):
                    await store.add_task(task)
                engine._tokens[held.id] = "a-token"  # as start() keeps it
                await TaskPoller(engine, interval=1.0).poll_once()
                for task in (held, unheld):
                    ended = await store.get_task(task.id)
                    assert ended is not None
                    assert ended.state == TIMED_OUT
                    assert ended.reason is not None
                    assert "deadline" in ended.reason
        finally:
            await store.close()


async def test_what_the_poller_keeps_per_token_is_pruned(tmp_path, mappings) -> None:  # type: ignore[no-untyped-def]
    """Tokens come and go (one per sign-in): the poller remembers only those
    still watching a task, so its memory does not grow with them."""
    from datetime import UTC, datetime, timedelta

    from helpers import refused_port

    from vnext_proxy.nova.client import NovaClient
    from vnext_proxy.nova.endpoint import EndpointResolver
    from vnext_proxy.stores import open_store
    from vnext_proxy.tasks.engine import TaskEngine

    with refused_port() as port:
        settings = Settings(nova=NovaSettings(endpoint=f"http://127.0.0.1:{port}/v2.1"))
        store = await open_store(f"sqlite:///{tmp_path}/t.sqlite3")
        try:
            async with NovaClient(settings.nova, EndpointResolver(settings.nova, None)) as nova:
                poller = TaskPoller(
                    TaskEngine(mappings, settings, store, nova, flavors=FlavorIds(settings.id_namespace).resolve),
                    interval=1.0,
                )
                gone = datetime.now(UTC) - timedelta(minutes=1)
                poller._last_ok.update({f"token-{n}": gone for n in range(1000)})
                await poller.poll_once()  # no running task: no token watches anything
                assert poller._last_ok == {}
        finally:
            await store.close()
