"""Every store keeps the same promises: SQLite (embedded) and PostgreSQL (the
machine's real server at 127.0.0.1:5432, database test, in a schema of its own)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vnext_proxy.server_groups import ServerGroup
from vnext_proxy.stores import KeptAnswer, Store, open_store
from vnext_proxy.tasks.model import COMPLETED, RUNNING, Task, TaskItem

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await open_store(store_url)
    yield opened
    await opened.close()


def task(n: int, **changes: object) -> Task:
    base = Task(
        id=str(uuid.UUID(int=n)), server_id="srv", project_id="p", action="REBOOT", state=RUNNING,
        created_at=NOW + timedelta(seconds=n), created_by="u", deadline_at=NOW + timedelta(hours=1),
        request_id=f"req-{n}", params={"type_id": "2", "nested": {"a": [1, 2]}},
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


async def test_tasks_round_trip_and_filter(store: Store) -> None:
    for n in (1, 2, 3):
        await store.add_task(task(n))
    saved = await store.save_task(task(2, state=COMPLETED, ended_at=NOW, reason=None, phase="confirming"))
    assert saved == task(2, state=COMPLETED, ended_at=NOW, phase="confirming", version=1)
    assert await store.get_task(str(uuid.UUID(int=2))) == saved
    assert await store.get_task("nope") is None
    assert [t.id for t in await store.running_tasks()] == [str(uuid.UUID(int=n)) for n in (1, 3)]
    newest_first = await store.tasks_for_server("srv")
    assert [t.created_at for t in newest_first] == sorted((t.created_at for t in newest_first), reverse=True)
    assert len(await store.tasks_for_server("srv", states=(COMPLETED,))) == 1
    assert len(await store.tasks_for_server("srv", since=NOW + timedelta(seconds=2))) == 2
    assert await store.tasks_for_server("other") == []


async def test_saves_are_compare_and_set_and_final_is_final(store: Store) -> None:
    assert await store.add_task(task(1))
    assert not await store.add_task(task(1, action="PAUSE")), "an id is recorded once"
    first = await store.save_task(task(1, last_task_state="rebooting"))
    assert first is not None
    assert first.version == 1
    # A second writer that read version 0 too loses, and changes nothing.
    assert await store.save_task(task(1, state=COMPLETED)) is None
    assert await store.get_task(first.id) == first
    ended = await store.save_task(replace(first, state=COMPLETED, ended_at=NOW))
    assert ended is not None
    # Once final, no writer changes it again, whatever version it names.
    assert await store.save_task(replace(ended, state=RUNNING)) is None
    assert (await store.get_task(first.id)) == ended
    await store.add_task(task(2))
    await store.save_item(TaskItem("i2", task(2).id, "REBOOTING", RUNNING, NOW, NOW))
    assert await store.remove_task(task(2))
    assert await store.get_task(task(2).id) is None
    assert await store.items_for_task(task(2).id) == []


async def test_an_ended_item_is_never_reopened(store: Store) -> None:
    await store.add_task(task(1))
    item = TaskItem("i1", task(1).id, "REBOOTING", RUNNING, NOW, NOW)
    await store.save_item(replace(item, state=COMPLETED, ended_at=NOW))
    await store.save_item(item)  # a late writer that saw it running
    assert await store.items_for_task(task(1).id) == [replace(item, state=COMPLETED, ended_at=NOW)]


async def test_items_and_groups(store: Store) -> None:
    await store.add_task(task(1))
    item = TaskItem("i1", str(uuid.UUID(int=1)), "REBOOTING", RUNNING, NOW, NOW)
    await store.save_item(item)
    await store.save_item(replace(item, state=COMPLETED, ended_at=NOW, nova_event="compute_reboot_instance"))
    assert await store.items_for_task(str(uuid.UUID(int=1))) == [
        replace(item, state=COMPLETED, ended_at=NOW, nova_event="compute_reboot_instance")
    ]
    group = ServerGroup("g1", "p", "Web", "web", "u", NOW, "the web", {"type_id": "x"}, ["a"])
    await store.add_group(group)
    assert await store.get_group("g1") == group
    assert await store.groups_for_project("p") == [group]
    assert await store.groups_for_project("q") == []


async def test_one_lease_holder_at_a_time(store: Store) -> None:
    assert await store.take_lease("poller", "a", ttl=1.0)
    assert not await store.take_lease("poller", "b", ttl=1.0)
    assert await store.take_lease("poller", "a", ttl=1.0)  # renewed
    await asyncio.sleep(1.2)
    assert await store.take_lease("poller", "b", ttl=1.0)  # a stopped renewing
    assert not await store.take_lease("poller", "a", ttl=1.0)


async def test_opening_again_migrates_nothing_and_keeps_data(store_url: str) -> None:
    first = await open_store(store_url)
    await first.add_task(task(1))
    await first.close()
    again = await open_store(store_url)
    try:
        assert await again.get_task(str(uuid.UUID(int=1))) == task(1)
    finally:
        await again.close()


async def test_a_sqlite_file_from_before_migrations_is_migrated(tmp_path: Path) -> None:
    """A file made by the first release (tables only, user_version 0) gains
    the new columns at start-up and keeps its tasks."""
    import aiosqlite

    from vnext_proxy.stores.sqlite import SCRIPTS

    path = tmp_path / "old.sqlite3"
    async with aiosqlite.connect(path) as db:
        await db.executescript(SCRIPTS[0])
        await db.execute(
            "INSERT INTO tasks (id, server_id, action, state, created_at, deadline_at, params, phase) "
            "VALUES ('t1', 'srv', 'REBOOT', 'RUNNING', ?, ?, '{}', 'nova')",
            (NOW.isoformat(), NOW.isoformat()),
        )
        await db.commit()
    store = await open_store(f"sqlite:///{path}")
    try:
        old = await store.get_task("t1")
        assert old is not None
        assert (old.version, old.admin_reason) == (0, None)
        assert await store.save_task(replace(old, state=COMPLETED)) is not None
    finally:
        await store.close()


async def test_idempotency_keys(store: Store) -> None:
    assert await store.claim_key("scope-1", "body-a", ttl=60) is None  # the first request
    assert await store.claim_key("scope-1", "body-a", ttl=60) == KeptAnswer("body-a")  # still being served
    await store.keep_answer("scope-1", 202, b'{"id": "t1"}', {"Location": "/server_tasks/t1"})
    assert await store.claim_key("scope-1", "body-b", ttl=60) == KeptAnswer(
        "body-a", 202, b'{"id": "t1"}', {"Location": "/server_tasks/t1"}
    )
    # A first request that failed leaves the key free; an answered one stays.
    assert await store.claim_key("scope-2", "body-a", ttl=60) is None
    await store.release_key("scope-2")
    assert await store.claim_key("scope-2", "body-a", ttl=60) is None
    await store.release_key("scope-1")
    assert (await store.claim_key("scope-1", "body-a", ttl=60)) is not None
    # Past its time a key is free again.
    await asyncio.sleep(1.1)
    assert await store.claim_key("scope-1", "body-c", ttl=1) is None
