"""Makes ``data/store-v2.sqlite``: a SQLite store file at schema version 2
(the first two migrations: tasks, task items, server groups and leases, but
no idempotency keys yet), holding the records below, written by the store
itself. ``test_migrations.py`` opens a copy of it and checks that the newest
code migrates it and reads every record back unchanged.

The committed file was made by the code of commit 5ef3a51 (the last with a
``MIGRATIONS`` tuple of its own in ``stores/sqlite.py``), so that it is a file
as the proxy of that time left it. Run today, this script makes the same
schema from the unified list, and the same rows::

    .venv/bin/python tests/stores/make_sqlite_v2.py

Never regenerate the committed file once a newer schema has shipped: it
stands for the files already out there. (Not ``*.sqlite3``: .gitignore keeps
those out of the repository.)
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import patch

import aiosqlite

from vnext_proxy.server_groups import ServerGroup
from vnext_proxy.stores.sqlite import SCRIPTS, SqliteStore, migrate
from vnext_proxy.tasks.model import COMPLETED, RUNNING, Task, TaskItem

FILE = Path(__file__).parent / "data" / "store-v2.sqlite"
VERSION = 2
#: Long past, so that the lease in the file has expired whenever a test runs.
AT = datetime(2025, 6, 1, 9, 30, 15, 250_000, tzinfo=UTC)

#: A RESIZE as the engine starts it ...
RESIZE = Task(
    id="6f1c2a70-0b1e-4c55-9a1e-3c1f0d2e4b01", server_id="srv-1", project_id="proj-1", action="RESIZE",
    state=RUNNING, created_at=AT, created_by="user-1", deadline_at=AT + timedelta(hours=1),
    request_id="req-6f1c2a70",
    params={"type_id": "2", "old_flavor": {"vcpus": 1, "ram": 512, "extra": None}, "names": ["web", "café"], "ratio": 0.25, "confirm": True},
    creator_token_sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
)  # fmt: skip
#: ... and once the engine saw Nova begin it: saved once, so at version 1.
RESIZE_SAVED = replace(
    RESIZE, updated_at=AT + timedelta(seconds=2, microseconds=1), last_task_state="resize_prep", version=1
)
#: A task that has ended, with what only admins may read.
REBOOT = Task(
    id="0b7e9d14-5c3a-4f8e-8d2b-7a6c5e4f3d02", server_id="srv-1", project_id="proj-1", action="REBOOT",
    state=COMPLETED, created_at=AT - timedelta(minutes=5), created_by=None, deadline_at=AT + timedelta(minutes=55),
    ended_at=AT - timedelta(minutes=4), reason="Nova rebooted the server", params={}, phase="nova",
    admin_reason="compute_reboot_instance: Success",
)  # fmt: skip
ITEM = TaskItem(
    id="1d2e3f40-aaaa-4bbb-8ccc-ddddeeeeff03", task_id=RESIZE.id, action="RESIZING", state=COMPLETED,
    created_at=AT + timedelta(seconds=1), started_at=AT + timedelta(seconds=1), ended_at=AT + timedelta(seconds=2),
    nova_event="compute_prep_resize",
)  # fmt: skip
GROUP = ServerGroup(
    id="5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c04", project_id="proj-1", name="Web servers", slug="web-servers",
    created_by="user-1", created_at=AT, description="the web tier",
    defaults={"type_id": "2", "network": {"id": "net-1"}}, tags=["web", "prod"],
)  # fmt: skip
#: (name, holder, ttl): taken at AT, so it expired at AT + ttl.
LEASE = ("task-poller", "replica-a", 30.0)


async def make(path: Path) -> None:
    db = await aiosqlite.connect(path)
    await db.execute("PRAGMA journal_mode=WAL")  # as SqliteStore.open
    await migrate(db, SCRIPTS[:VERSION])
    store = SqliteStore(db)  # not SqliteStore.open: that would migrate on
    try:
        assert await store.add_task(RESIZE)
        assert await store.save_task(replace(RESIZE_SAVED, version=0)) == RESIZE_SAVED
        assert await store.add_task(REBOOT)
        await store.save_item(ITEM)
        await store.add_group(GROUP)
        # The lease's expiry is the store's clock plus ttl: fixed, to be checked exactly.
        with patch("time.time", return_value=AT.timestamp()):
            assert await store.take_lease(*LEASE)
    finally:
        await store.close()


if __name__ == "__main__":
    FILE.parent.mkdir(exist_ok=True)
    FILE.unlink(missing_ok=True)
    asyncio.run(make(FILE))
