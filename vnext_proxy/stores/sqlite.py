"""The embedded store: SQLite through aiosqlite (no blocking in the loop).

The schema is ``migrations.MIGRATIONS`` in SQLite's SQL, applied at start-up
under one write lock (several workers may open the file together); PRAGMA
user_version counts the migrations a file has had.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from vnext_proxy.server_groups import ServerGroup
from vnext_proxy.stores import KeptAnswer, migrations
from vnext_proxy.tasks.model import RUNNING, Task, TaskItem

#: The migrations in SQLite's SQL; PRAGMA user_version counts those applied.
SCRIPTS = migrations.render(migrations.SQLITE)

_TASK_COLUMNS = [f.name for f in fields(Task)]
_GROUP_COLUMNS = [f.name for f in fields(ServerGroup)]
_JSON = {"params", "defaults", "tags"}
_ITEM_COLUMNS = [f.name for f in fields(TaskItem)]
_TIMES = {"created_at", "deadline_at", "updated_at", "ended_at", "started_at"}


def _to_row(record: Task | TaskItem | ServerGroup) -> dict[str, Any]:
    row = asdict(record)
    for key, value in row.items():
        if isinstance(value, datetime):
            row[key] = value.isoformat()
        elif key in _JSON:
            row[key] = json.dumps(value, sort_keys=True)
    return row


def _from_row(row: aiosqlite.Row, columns: list[str]) -> dict[str, Any]:
    values = dict(zip(columns, row, strict=True))
    for key in _TIMES & values.keys():
        if values[key] is not None:
            values[key] = datetime.fromisoformat(values[key])
    for key in _JSON & values.keys():
        values[key] = json.loads(values[key])
    return values


async def migrate(db: aiosqlite.Connection, scripts: Sequence[str] = SCRIPTS) -> None:
    """Apply the ``scripts`` the file has not had yet, in one transaction.
    (Fewer than all only to make files of an older version, for tests.)"""
    # One writer at a time (several workers may open the file together).
    await db.execute("BEGIN IMMEDIATE")
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = row[0] if row else 0
    for version, script in enumerate(scripts, start=1):
        if version > current:
            for statement in filter(str.strip, script.split(";")):
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {version}")
    await db.commit()


class SqliteStore:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: str) -> SqliteStore:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        await db.execute("PRAGMA journal_mode=WAL")
        # Several workers may share the file: wait for a lock, do not fail.
        await db.execute("PRAGMA busy_timeout=5000")
        await migrate(db)
        return cls(db)

    async def _insert(
        self, table: str, columns: list[str], record: Task | TaskItem | ServerGroup, on_conflict: str
    ) -> int:
        names = ", ".join(columns)
        marks = ", ".join(f":{c}" for c in columns)
        cursor = await self._db.execute(
            f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT (id) {on_conflict}", _to_row(record)
        )
        await self._db.commit()
        return cursor.rowcount

    async def add_task(self, task: Task) -> bool:
        return await self._insert("tasks", _TASK_COLUMNS, task, "DO NOTHING") == 1

    async def save_task(self, task: Task) -> Task | None:
        saved = replace(task, version=task.version + 1)
        updates = ", ".join(f"{c} = :{c}" for c in _TASK_COLUMNS if c != "id")
        cursor = await self._db.execute(
            f"UPDATE tasks SET {updates} WHERE id = :id AND version = :read_version AND state = :running",
            {**_to_row(saved), "read_version": task.version, "running": RUNNING},
        )
        await self._db.commit()
        return saved if cursor.rowcount == 1 else None

    async def remove_task(self, task: Task) -> bool:
        await self._db.execute("DELETE FROM task_items WHERE task_id = ?", (task.id,))
        cursor = await self._db.execute("DELETE FROM tasks WHERE id = ?", (task.id,))
        await self._db.commit()
        return cursor.rowcount == 1

    async def _tasks(self, where: str, args: tuple[Any, ...], order: str = "created_at DESC") -> list[Task]:
        sql = f"SELECT {', '.join(_TASK_COLUMNS)} FROM tasks WHERE {where} ORDER BY {order}, id"
        async with self._db.execute(sql, args) as cursor:
            return [Task(**_from_row(row, _TASK_COLUMNS)) async for row in cursor]

    async def get_task(self, task_id: str) -> Task | None:
        found = await self._tasks("id = ?", (task_id,))
        return found[0] if found else None

    async def tasks_for_server(
        self, server_id: str, *, since: datetime | None = None, states: tuple[str, ...] = ()
    ) -> list[Task]:
        where, args = "server_id = ?", [server_id]
        if since is not None:
            where += " AND created_at >= ?"
            args.append(since.isoformat())
        if states:
            where += f" AND state IN ({', '.join('?' * len(states))})"
            args.extend(states)
        return await self._tasks(where, tuple(args))

    async def running_tasks(self) -> list[Task]:
        return await self._tasks("state = ?", (RUNNING,), order="created_at")

    async def save_item(self, item: TaskItem) -> None:
        updates = ", ".join(f"{c} = excluded.{c}" for c in _ITEM_COLUMNS if c != "id")
        # An ended item stays ended, whoever writes late.
        await self._insert(
            "task_items", _ITEM_COLUMNS, item,
            f"DO UPDATE SET {updates} WHERE task_items.ended_at IS NULL OR excluded.ended_at IS NOT NULL",
        )  # fmt: skip

    async def items_for_task(self, task_id: str) -> list[TaskItem]:
        sql = f"SELECT {', '.join(_ITEM_COLUMNS)} FROM task_items WHERE task_id = ? ORDER BY created_at, id"
        async with self._db.execute(sql, (task_id,)) as cursor:
            return [TaskItem(**_from_row(row, _ITEM_COLUMNS)) async for row in cursor]

    async def add_group(self, group: ServerGroup) -> None:
        updates = ", ".join(f"{c} = excluded.{c}" for c in _GROUP_COLUMNS if c != "id")
        await self._insert("server_groups", _GROUP_COLUMNS, group, f"DO UPDATE SET {updates}")

    async def _groups(self, where: str, args: tuple[Any, ...]) -> list[ServerGroup]:
        sql = f"SELECT {', '.join(_GROUP_COLUMNS)} FROM server_groups WHERE {where} ORDER BY created_at, id"
        async with self._db.execute(sql, args) as cursor:
            return [ServerGroup(**_from_row(row, _GROUP_COLUMNS)) async for row in cursor]

    async def get_group(self, group_id: str) -> ServerGroup | None:
        found = await self._groups("id = ?", (group_id,))
        return found[0] if found else None

    async def groups_for_project(self, project_id: str) -> list[ServerGroup]:
        return await self._groups("project_id = ?", (project_id,))

    async def claim_key(self, scope: str, body_sha256: str, ttl: float) -> KeptAnswer | None:
        now = time.time()
        # A key older than ttl is free again: the claim takes it over.
        cursor = await self._db.execute(
            "INSERT INTO idempotency_keys (scope, body_sha256, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (scope) DO UPDATE SET body_sha256 = excluded.body_sha256, created_at = excluded.created_at, "
            "status = NULL, body = NULL, headers = NULL WHERE idempotency_keys.created_at < ?",
            (scope, body_sha256, now, now - ttl),
        )
        await self._db.commit()
        if cursor.rowcount == 1:
            return None
        sql = "SELECT body_sha256, status, body, headers FROM idempotency_keys WHERE scope = ?"
        async with self._db.execute(sql, (scope,)) as found:
            row = await found.fetchone()
        if row is None:  # released in between: the next retry claims it
            return KeptAnswer(body_sha256)
        return KeptAnswer(row[0], row[1], row[2] or b"", json.loads(row[3] or "{}"))

    async def keep_answer(self, scope: str, status: int, body: bytes, headers: dict[str, str]) -> None:
        await self._db.execute(
            "UPDATE idempotency_keys SET status = ?, body = ?, headers = ? WHERE scope = ?",
            (status, body, json.dumps(headers), scope),
        )
        await self._db.commit()

    async def release_key(self, scope: str) -> None:
        await self._db.execute("DELETE FROM idempotency_keys WHERE scope = ? AND status IS NULL", (scope,))
        await self._db.commit()

    async def take_lease(self, name: str, holder: str, ttl: float) -> bool:
        """As PostgresStore.take_lease (processes sharing one file)."""
        now = time.time()
        await self._db.execute(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
            "WHERE leases.holder = excluded.holder OR leases.expires_at < ?",
            (name, holder, now + ttl, now),
        )
        await self._db.commit()
        async with self._db.execute("SELECT holder FROM leases WHERE name = ?", (name,)) as cursor:
            row = await cursor.fetchone()
        return row is not None and row[0] == holder

    async def close(self) -> None:
        await self._db.close()
