"""The one place background tasks are started: named, and kept referenced
(asyncio keeps only weak references; a task nobody holds can vanish)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

_RUNNING: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
    task = asyncio.create_task(coro, name=name)  # noqa: TID251 (this is the wrapper)
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return task
