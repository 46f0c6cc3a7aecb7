"""Where the proxy keeps what Nova does not: tasks, task items, what server
groups add to Nova's, leases (which replica polls) and the answers kept for
idempotency keys. ``Store`` is the interface; ``open_store`` picks the
implementation from the store URL in config. Both implementations take their
schema from ``migrations``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from vnext_proxy.server_groups import ServerGroup
from vnext_proxy.tasks.model import Task, TaskItem


@dataclass(frozen=True)
class KeptAnswer:
    """The first answer to a request sent with an Idempotency-Key."""

    body_sha256: str
    #: None while the first request is still being served.
    status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Store(Protocol):
    async def add_task(self, task: Task) -> bool:
        """Record a new task; False if one with its id is there already."""
        ...

    async def save_task(self, task: Task) -> Task | None:
        """Compare and set: save ``task`` (with its version raised by one)
        only if the stored copy still has ``task.version`` and is RUNNING.
        None when another writer got there first; a final task never changes."""
        ...

    async def remove_task(self, task: Task) -> bool:
        """Take back a task, with its items: Nova refused its action."""
        ...

    async def get_task(self, task_id: str) -> Task | None: ...

    async def tasks_for_server(
        self, server_id: str, *, since: datetime | None = None, states: tuple[str, ...] = ()
    ) -> list[Task]:
        """Newest first."""
        ...

    async def running_tasks(self) -> list[Task]: ...

    async def save_item(self, item: TaskItem) -> None:
        """Insert or update; an item that has ended is never reopened."""
        ...

    async def items_for_task(self, task_id: str) -> list[TaskItem]:
        """Oldest first."""
        ...

    async def add_group(self, group: ServerGroup) -> None: ...

    async def get_group(self, group_id: str) -> ServerGroup | None: ...

    async def groups_for_project(self, project_id: str) -> list[ServerGroup]:
        """Oldest first."""
        ...

    async def claim_key(self, scope: str, body_sha256: str, ttl: float) -> KeptAnswer | None:
        """Claim an idempotency key (``scope`` names the caller, the route and
        the key): None when this request is the first within ``ttl`` seconds,
        else what the first one left (its answer, or that it is in progress)."""
        ...

    async def keep_answer(self, scope: str, status: int, body: bytes, headers: dict[str, str]) -> None: ...

    async def release_key(self, scope: str) -> None:
        """The first request failed: a retry may try again."""
        ...

    async def take_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew a named lease for ``ttl`` seconds; True while held."""
        ...

    async def close(self) -> None: ...


async def open_store(url: str) -> Store:
    if url.startswith("sqlite:///"):
        from vnext_proxy.stores.sqlite import SqliteStore

        # As SQLAlchemy reads it: sqlite:///relative/path, sqlite:////absolute/path.
        return await SqliteStore.open(url.removeprefix("sqlite:///"))
    if url.startswith("postgresql://"):
        from vnext_proxy.stores.postgres import PostgresStore

        return await PostgresStore.open(url)
    raise ValueError(f"no store for {url!r} (sqlite:///path or postgresql://...)")
