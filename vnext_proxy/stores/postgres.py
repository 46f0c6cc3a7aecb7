"""The shared store for several replicas: PostgreSQL through asyncpg.

The schema (``migrations.MIGRATIONS`` in PostgreSQL's SQL) is created and
migrated by the proxy at start-up, idempotently (a version table and an
advisory lock, so replicas starting together do not race). ``?schema=name``
in the URL keeps the tables in their own schema.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, fields, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from vnext_proxy.server_groups import ServerGroup
from vnext_proxy.stores import KeptAnswer, migrations
from vnext_proxy.tasks.model import RUNNING, Task, TaskItem

#: The migrations in PostgreSQL's SQL; schema_version lists those applied.
SCRIPTS = migrations.render(migrations.POSTGRES)
_MIGRATION_LOCK = 0x76_6E_65_78_74  # "vnext": one advisory lock id for schema changes

_TASK_COLUMNS = [f.name for f in fields(Task)]
_ITEM_COLUMNS = [f.name for f in fields(TaskItem)]
_GROUP_COLUMNS = [f.name for f in fields(ServerGroup)]
_JSON = {"params", "defaults", "tags"}


def _split_url(url: str) -> tuple[str, str | None]:
    """The DSN for asyncpg, and the schema asked for with ?schema=."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    schema = query.pop("schema", None)
    return urlunsplit(parts._replace(query=urlencode(query))), schema


def _row(record: Task | TaskItem | ServerGroup) -> dict[str, Any]:
    row = asdict(record)
    for key in _JSON & row.keys():
        row[key] = json.dumps(row[key], sort_keys=True)
    return row


def _record(row: asyncpg.Record) -> dict[str, Any]:
    values = dict(row)
    for key in _JSON & values.keys():
        values[key] = json.loads(values[key])
    return values


async def migrate(conn: asyncpg.Connection, scripts: Sequence[str] = SCRIPTS) -> None:
    """Apply the ``scripts`` the schema has not had yet, in one transaction.
    (Fewer than all only to make schemas of an older version, for tests.)"""
    async with conn.transaction():
        # Replicas starting together: one migrates, the others then find nothing to do.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        current = await conn.fetchval("SELECT max(version) FROM schema_version") or 0
        for version, script in enumerate(scripts, start=1):
            if version > current:
                await conn.execute(script)
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)


class PostgresStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        dsn, schema = _split_url(url)
        settings = {"search_path": schema} if schema else {}
        if schema:
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            finally:
                await conn.close()
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=10, server_settings=settings)
        async with pool.acquire() as conn:
            await migrate(conn)
        return cls(pool)

    async def _insert(
        self, table: str, columns: list[str], record: Task | TaskItem | ServerGroup, on_conflict: str
    ) -> str:
        row = _row(record)
        names = ", ".join(columns)
        marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT (id) {on_conflict}"
        status: str = await self._pool.execute(sql, *(row[c] for c in columns))
        return status

    async def add_task(self, task: Task) -> bool:
        return await self._insert("tasks", _TASK_COLUMNS, task, "DO NOTHING") == "INSERT 0 1"

    async def save_task(self, task: Task) -> Task | None:
        saved = replace(task, version=task.version + 1)
        row = _row(saved)
        columns = [c for c in _TASK_COLUMNS if c != "id"]
        updates = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=4))
        status = await self._pool.execute(
            f"UPDATE tasks SET {updates} WHERE id = $1 AND version = $2 AND state = $3",
            task.id, task.version, RUNNING, *(row[c] for c in columns),
        )  # fmt: skip
        return saved if status == "UPDATE 1" else None

    async def remove_task(self, task: Task) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM task_items WHERE task_id = $1", task.id)
            status = await conn.execute("DELETE FROM tasks WHERE id = $1", task.id)
        return bool(status == "DELETE 1")

    async def _tasks(self, where: str, *args: Any, order: str = "created_at DESC") -> list[Task]:
        rows = await self._pool.fetch(
            f"SELECT {', '.join(_TASK_COLUMNS)} FROM tasks WHERE {where} ORDER BY {order}, id", *args
        )
        return [Task(**_record(r)) for r in rows]

    async def get_task(self, task_id: str) -> Task | None:
        found = await self._tasks("id = $1", task_id)
        return found[0] if found else None

    async def tasks_for_server(
        self, server_id: str, *, since: datetime | None = None, states: tuple[str, ...] = ()
    ) -> list[Task]:
        return await self._tasks(
            "server_id = $1 AND ($2::timestamptz IS NULL OR created_at >= $2) AND "
            "(cardinality($3::text[]) = 0 OR state = ANY($3))",
            server_id,
            since,
            list(states),
        )

    async def running_tasks(self) -> list[Task]:
        return await self._tasks("state = $1", RUNNING, order="created_at")

    async def save_item(self, item: TaskItem) -> None:
        updates = ", ".join(f"{c} = excluded.{c}" for c in _ITEM_COLUMNS if c != "id")
        # An ended item stays ended, whoever writes late.
        await self._insert(
            "task_items", _ITEM_COLUMNS, item,
            f"DO UPDATE SET {updates} WHERE task_items.ended_at IS NULL OR excluded.ended_at IS NOT NULL",
        )  # fmt: skip

    async def items_for_task(self, task_id: str) -> list[TaskItem]:
        rows = await self._pool.fetch(
            f"SELECT {', '.join(_ITEM_COLUMNS)} FROM task_items WHERE task_id = $1 ORDER BY created_at, id", task_id
        )
        return [TaskItem(**_record(r)) for r in rows]

    async def add_group(self, group: ServerGroup) -> None:
        updates = ", ".join(f"{c} = excluded.{c}" for c in _GROUP_COLUMNS if c != "id")
        await self._insert("server_groups", _GROUP_COLUMNS, group, f"DO UPDATE SET {updates}")

    async def get_group(self, group_id: str) -> ServerGroup | None:
        rows = await self._pool.fetch(f"SELECT {', '.join(_GROUP_COLUMNS)} FROM server_groups WHERE id = $1", group_id)
        return ServerGroup(**_record(rows[0])) if rows else None

    async def groups_for_project(self, project_id: str) -> list[ServerGroup]:
        rows = await self._pool.fetch(
            f"SELECT {', '.join(_GROUP_COLUMNS)} FROM server_groups WHERE project_id = $1 ORDER BY created_at, id",
            project_id,
        )
        return [ServerGroup(**_record(r)) for r in rows]

    async def claim_key(self, scope: str, body_sha256: str, ttl: float) -> KeptAnswer | None:
        claimed = await self._pool.fetchval(
            """
            INSERT INTO idempotency_keys (scope, body_sha256, created_at) VALUES ($1, $2, now())
            ON CONFLICT (scope) DO UPDATE SET body_sha256 = excluded.body_sha256, created_at = excluded.created_at,
                status = NULL, body = NULL, headers = NULL
            WHERE idempotency_keys.created_at < now() - make_interval(secs => $3)
            RETURNING scope
            """,
            scope,
            body_sha256,
            ttl,
        )
        if claimed is not None:
            return None
        row = await self._pool.fetchrow(
            "SELECT body_sha256, status, body, headers FROM idempotency_keys WHERE scope = $1", scope
        )
        if row is None:  # released in between: the next retry claims it
            return KeptAnswer(body_sha256)
        return KeptAnswer(row[0], row[1], bytes(row[2] or b""), json.loads(row[3] or "{}"))

    async def keep_answer(self, scope: str, status: int, body: bytes, headers: dict[str, str]) -> None:
        await self._pool.execute(
            "UPDATE idempotency_keys SET status = $2, body = $3, headers = $4 WHERE scope = $1",
            scope,
            status,
            body,
            json.dumps(headers),
        )

    async def release_key(self, scope: str) -> None:
        await self._pool.execute("DELETE FROM idempotency_keys WHERE scope = $1 AND status IS NULL", scope)

    async def take_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew the lease; True while this holder has it. A holder
        that stops renewing loses it once ``ttl`` seconds have passed."""
        # The database's clock, not the replicas': they need not agree.
        got = await self._pool.fetchval(
            """
            INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
            ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
            WHERE leases.holder = excluded.holder OR leases.expires_at < now()
            RETURNING holder
            """,
            name,
            holder,
            ttl,
        )
        return bool(got == holder)

    async def close(self) -> None:
        await self._pool.close()
