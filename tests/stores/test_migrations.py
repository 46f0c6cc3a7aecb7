"""A store made by an older release is migrated at start-up and keeps what it
held; and the one list of migrations gives each dialect the schema that
shipped in it (the column types of each step must never change: stores out
there were made by them)."""

from __future__ import annotations

import json
import shutil
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import pytest
from helpers import postgres_schema
from make_sqlite_v2 import AT, FILE, GROUP, ITEM, LEASE, REBOOT, RESIZE, RESIZE_SAVED, VERSION, make

from vnext_proxy.server_groups import ServerGroup
from vnext_proxy.stores import KeptAnswer, Store, migrations, open_store
from vnext_proxy.stores.postgres import SCRIPTS as POSTGRES_SCRIPTS
from vnext_proxy.stores.postgres import PostgresStore
from vnext_proxy.stores.postgres import migrate as migrate_postgres
from vnext_proxy.stores.sqlite import SCRIPTS as SQLITE_SCRIPTS
from vnext_proxy.stores.sqlite import migrate as migrate_sqlite
from vnext_proxy.tasks.model import RUNNING, Task, TaskItem

LATEST = len(migrations.MIGRATIONS)
NOW = datetime(2026, 11, 27, 8, 0, 0, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def assert_same(got: Task | TaskItem | ServerGroup | None, want: Task | TaskItem | ServerGroup) -> None:
    """Equal, and exactly so: each time with its microseconds and UTC offset,
    each JSON field with its types (== alone takes True for 1, 1.0 for 1)."""
    assert got == want
    for f in fields(want):
        mine, theirs = getattr(got, f.name), getattr(want, f.name)
        if isinstance(theirs, datetime):
            assert mine.isoformat() == theirs.isoformat(), f.name
        elif isinstance(theirs, dict | list):
            assert json.dumps(mine, sort_keys=True) == json.dumps(theirs, sort_keys=True), f.name


async def assert_reads_v2_records(store: Store) -> None:
    """Every record make_sqlite_v2 wrote at version 2, read back by today's store."""
    assert_same(await store.get_task(RESIZE.id), RESIZE_SAVED)
    assert_same(await store.get_task(REBOOT.id), REBOOT)
    assert await store.tasks_for_server("srv-1") == [RESIZE_SAVED, REBOOT]  # newest first
    assert await store.running_tasks() == [RESIZE_SAVED]
    items = await store.items_for_task(RESIZE.id)
    assert len(items) == 1
    assert_same(items[0], ITEM)
    assert_same(await store.get_group(GROUP.id), GROUP)
    assert await store.groups_for_project(GROUP.project_id) == [GROUP]
    # Still a version the compare-and-set save accepts.
    assert await store.save_task(RESIZE_SAVED) is not None


async def assert_keeps_answers(store: Store) -> None:
    """Idempotency keys: what the last migration brought."""
    assert await store.claim_key("scope-1", "body-a", ttl=60) is None
    await store.keep_answer("scope-1", 202, b'{"id": "t1"}', {"Location": "/server_tasks/t1"})
    assert await store.claim_key("scope-1", "body-a", ttl=60) == KeptAnswer(
        "body-a", 202, b'{"id": "t1"}', {"Location": "/server_tasks/t1"}
    )


async def sqlite_schema(path: Path) -> list[tuple[str, str, str, str | None]]:
    async with aiosqlite.connect(path) as db, db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master") as rows:
        return sorted([(r[0], r[1], r[2], r[3]) async for r in rows])


async def user_version(path: Path) -> int:
    async with aiosqlite.connect(path) as db, db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    version: int = row[0]
    return version


@pytest.fixture
def v2_file(tmp_path: Path) -> Path:
    """A copy of the committed file: opening it changes it."""
    return Path(shutil.copy(FILE, tmp_path / "store.sqlite3"))


async def test_a_sqlite_file_at_version_2_is_migrated_and_read_back(v2_file: Path, tmp_path: Path) -> None:
    assert await user_version(v2_file) == VERSION
    store = await open_store(f"sqlite:///{v2_file}")
    try:
        await assert_reads_v2_records(store)
        # The lease taken at AT expired 30 s later: another replica takes it.
        assert await store.take_lease("task-poller", "replica-b", ttl=30)
        await assert_keeps_answers(store)
    finally:
        await store.close()
    assert await user_version(v2_file) == LATEST
    # The same schema as a file made today (the committed file's first two
    # steps came from the code of that time: this is where they must agree).
    fresh = tmp_path / "fresh.sqlite3"
    await (await open_store(f"sqlite:///{fresh}")).close()
    assert await sqlite_schema(v2_file) == await sqlite_schema(fresh)


async def test_the_committed_sqlite_file_holds_what_its_script_writes(v2_file: Path) -> None:
    """Rows exactly as stored (the lease's expiry too, which no store method
    reads); and the script, run today, makes the same schema and rows."""

    async def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
        found: dict[str, list[tuple[Any, ...]]] = {}
        async with aiosqlite.connect(path) as db:
            for table in ("tasks", "task_items", "server_groups", "leases"):
                async with db.execute(f"SELECT * FROM {table} ORDER BY 1") as cursor:
                    found[table] = [tuple(r) async for r in cursor]
        return found

    committed = await rows(v2_file)
    assert committed["leases"] == [(LEASE[0], LEASE[1], AT.timestamp() + LEASE[2])]
    today = v2_file.with_name("today.sqlite3")
    await make(today)
    assert await user_version(today) == VERSION
    assert await sqlite_schema(today) == await sqlite_schema(v2_file)
    assert await rows(today) == committed


async def connect_to_schema(url: str) -> tuple[asyncpg.Connection, str]:
    """A connection to the store's database, and the store's schema."""
    dsn, _, schema = url.partition("?schema=")
    return await asyncpg.connect(dsn), schema


async def schema_versions(url: str) -> list[int]:
    conn, schema = await connect_to_schema(url)
    try:
        return [r[0] for r in await conn.fetch(f'SELECT version FROM "{schema}".schema_version ORDER BY version')]
    finally:
        await conn.close()


async def test_a_postgres_schema_at_version_2_is_migrated_and_read_back(postgres: str) -> None:
    """What the proxy left in PostgreSQL before idempotency keys: the same
    records as in the SQLite file, written by the store at version 2."""
    async with postgres_schema("vnext_v2") as schema:
        url = f"{postgres}?schema={schema}"
        setup = await asyncpg.connect(postgres)
        try:
            await setup.execute(f'CREATE SCHEMA "{schema}"')
        finally:
            await setup.close()
        pool = await asyncpg.create_pool(postgres, min_size=1, max_size=2, server_settings={"search_path": schema})
        old = PostgresStore(pool)  # not open(): that would migrate on
        try:
            async with pool.acquire() as conn:
                await migrate_postgres(conn, POSTGRES_SCRIPTS[:VERSION])
            assert await old.add_task(RESIZE)
            assert await old.save_task(replace(RESIZE_SAVED, version=0)) == RESIZE_SAVED
            assert await old.add_task(REBOOT)
            await old.save_item(ITEM)
            await old.add_group(GROUP)
            assert await old.take_lease(*LEASE)
        finally:
            await old.close()
        assert await schema_versions(url) == list(range(1, VERSION + 1))

        store = await open_store(url)
        try:
            await assert_reads_v2_records(store)
            # Taken a moment ago, for 30 s: still replica-a's.
            assert not await store.take_lease("task-poller", "replica-b", ttl=30)
            assert await store.take_lease("task-poller", "replica-a", ttl=30)
            await assert_keeps_answers(store)
        finally:
            await store.close()
        assert await schema_versions(url) == list(range(1, LATEST + 1))


async def make_at_version(url: str, version: int) -> None:
    """A store with the first ``version`` migrations, and one task written
    with the columns the first one made."""
    insert = (
        "INSERT INTO tasks (id, server_id, action, state, created_at, deadline_at, params, phase) "
        "VALUES ('t1', 'srv', 'REBOOT', 'RUNNING', {0}, {1}, '{{\"a\": [1, true]}}', 'nova')"
    )
    if url.startswith("sqlite:///"):
        async with aiosqlite.connect(url.removeprefix("sqlite:///")) as db:
            await db.execute("PRAGMA journal_mode=WAL")
            await migrate_sqlite(db, SQLITE_SCRIPTS[:version])
            await db.execute(insert.format("?", "?"), (NOW.isoformat(), (NOW + HOUR).isoformat()))
            await db.commit()
        return
    conn, schema = await connect_to_schema(url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET search_path = "{schema}"')
        await migrate_postgres(conn, POSTGRES_SCRIPTS[:version])
        await conn.execute(insert.format("$1", "$2"), NOW, NOW + HOUR)
    finally:
        await conn.close()


async def store_version(url: str) -> int:
    if url.startswith("sqlite:///"):
        return await user_version(Path(url.removeprefix("sqlite:///")))
    return max(await schema_versions(url))


@pytest.mark.parametrize("version", range(1, LATEST))
async def test_every_older_version_is_migrated(store_url: str, version: int) -> None:
    await make_at_version(store_url, version)
    store = await open_store(store_url)
    try:
        assert_same(
            await store.get_task("t1"),
            Task("t1", "srv", None, "REBOOT", RUNNING, NOW, None, NOW + HOUR, params={"a": [1, True]}),
        )
        await assert_keeps_answers(store)
    finally:
        await store.close()
    assert await store_version(store_url) == LATEST


#: Every column's type as it shipped, by dialect: those not text.
SHIPPED_TYPES = {
    "sqlite": {
        "tasks.version": "INTEGER",
        "leases.expires_at": "REAL",
        "idempotency_keys.created_at": "REAL",
        "idempotency_keys.status": "INTEGER",
        "idempotency_keys.body": "BLOB",
    },
    "postgresql": {
        **dict.fromkeys(
            [
                "tasks.created_at", "tasks.deadline_at", "tasks.updated_at", "tasks.ended_at",
                "task_items.created_at", "task_items.started_at", "task_items.ended_at",
                "server_groups.created_at", "leases.expires_at", "idempotency_keys.created_at",
            ],
            "timestamp with time zone",
        ),
        **dict.fromkeys(
            ["tasks.params", "server_groups.defaults", "server_groups.tags", "idempotency_keys.headers"], "jsonb"
        ),
        "tasks.version": "integer",
        "idempotency_keys.status": "integer",
        "idempotency_keys.body": "bytea",
    },
}  # fmt: skip
SHIPPED_COLUMNS = {
    "tasks": [f.name for f in fields(Task)],
    "task_items": [f.name for f in fields(TaskItem)],
    "server_groups": [f.name for f in fields(ServerGroup)],
    "leases": ["name", "holder", "expires_at"],
    "idempotency_keys": ["scope", "body_sha256", "created_at", "status", "body", "headers"],
}
SHIPPED_INDEXES = {
    "sqlite": {"tasks_by_server", "tasks_by_state", "items_by_task"},
    "postgresql": {"tasks_by_server", "tasks_running", "items_by_task"},
}


async def test_each_dialect_has_the_schema_that_shipped(store_url: str) -> None:
    await (await open_store(store_url)).close()
    columns: dict[str, str] = {}
    if store_url.startswith("sqlite:///"):
        dialect, text = "sqlite", "TEXT"
        async with aiosqlite.connect(store_url.removeprefix("sqlite:///")) as db:
            for table in SHIPPED_COLUMNS:
                async with db.execute(f"PRAGMA table_info({table})") as rows:
                    columns |= {f"{table}.{r[1]}": r[2] async for r in rows}
            sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            async with db.execute(sql) as rows:
                indexes = {r[0]: r[1] async for r in rows}
    else:
        dialect, text = "postgresql", "text"
        conn, schema = await connect_to_schema(store_url)
        try:
            for r in await conn.fetch(
                "SELECT table_name, column_name, format_type(a.atttypid, a.atttypmod) FROM information_schema.columns "
                "JOIN pg_attribute a ON a.attrelid = format('%I.%I', table_schema, table_name)::regclass "
                "AND a.attname = column_name WHERE table_schema = $1 AND table_name <> 'schema_version' "
                "ORDER BY table_name, ordinal_position",
                schema,
            ):
                columns[f"{r[0]}.{r[1]}"] = r[2]
            # Those a migration created, not those behind a key or UNIQUE.
            rows = await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 "
                "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE connamespace = $1::regnamespace)",
                schema,
            )
            indexes = {r[0]: r[1] for r in rows}
        finally:
            await conn.close()
    assert sorted(columns) == sorted(f"{t}.{c}" for t, names in SHIPPED_COLUMNS.items() for c in names)
    assert columns == {name: SHIPPED_TYPES[dialect].get(name, text) for name in columns}
    assert set(indexes) == SHIPPED_INDEXES[dialect]
    if dialect == "postgresql":
        assert indexes["tasks_running"].endswith("WHERE (state = 'RUNNING'::text)")
