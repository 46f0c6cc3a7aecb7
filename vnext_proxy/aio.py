"""The one place background tasks are started: named, and kept referenced
(asyncio keeps only weak references; a task nobody holds can vanish); and
gathering with a bound on how many run at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_RUNNING: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
    task = asyncio.create_task(coro, name=name)  # noqa: TID251 (this is the wrapper)
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return task


async def gather_bounded(limit: int, *awaitables: Awaitable[T]) -> list[T]:
    """``asyncio.gather``, with at most ``limit`` of them running at a time:
    what one request asks of Nova at once stays bounded."""
    gate = asyncio.Semaphore(limit)

    async def one(awaitable: Awaitable[T]) -> T:
        async with gate:
            return await awaitable

    return list(await asyncio.gather(*(one(a) for a in awaitables)))
