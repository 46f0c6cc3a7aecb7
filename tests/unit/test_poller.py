"""The poller backs off while Nova (or the store) fails, and recovers by itself."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from vnext_proxy.errors import NovaUnavailable
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
