"""Two proxy processes behind no load balancer at all: one PostgreSQL store
(the machine's real server), service credentials through devcloud's Keystone,
and one poller at a time."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from helpers import POSTGRES, free_port, postgres_schema, start_proxy, stop
from users import auth

IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
MV = {"OpenStack-API-Version": "compute 2.100"}
MEMBER = auth("alice")


@dataclass
class Replica:
    port: int
    proc: asyncio.subprocess.Process

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def schema(postgres: str) -> AsyncIterator[str]:
    async with postgres_schema("vnext_replicas") as name:
        yield name


@pytest.fixture
async def replicas(keystone: str, schema: str, tmp_path: Path) -> AsyncIterator[list[Replica]]:
    started: list[Replica] = []
    for name in ("a", "b"):
        port = free_port()
        config = tmp_path / f"{name}.yaml"
        config.write_text(
            f"nova:\n  keystone: {{auth_url: '{keystone}', region_name: RegionOne}}\n"
            # The poller's lease lasts one call's timeout plus 5 s: a short
            # timeout lets the survivor take over sooner.
            "  timeouts: {request: 10}\n"
            f"listen: {{port: {port}}}\n"
            f"store: {{url: '{POSTGRES}?schema={schema}'}}\n"
            "tasks:\n  poll_interval: 0.5\n"
            "  service_credentials: {username: vnext-service, password: devcloud, project_name: service}\n"
        )
        started.append(Replica(port, await start_proxy(config, port)))
    try:
        yield started
    finally:
        for replica in started:
            await stop(replica.proc)


@pytest.fixture
def server_id(boot_server, forget_servers) -> Iterator[str]:  # type: ignore[no-untyped-def]
    booted = boot_server("replicas")
    try:
        yield booted
    finally:
        forget_servers([booted])


async def lease_holder(schema: str) -> str | None:
    conn = await asyncpg.connect(POSTGRES, server_settings={"search_path": schema})
    try:
        holder: str | None = await conn.fetchval("SELECT holder FROM leases WHERE name = 'task-poller'")
        return holder
    finally:
        await conn.close()


async def task_state(schema: str, task_id: str) -> str:
    conn = await asyncpg.connect(POSTGRES, server_settings={"search_path": schema})
    try:
        state: str = await conn.fetchval("SELECT state FROM tasks WHERE id = $1", task_id)
        return state
    finally:
        await conn.close()


async def start_task(replica: Replica, server_id: str, body: dict[str, Any]) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession(headers=MEMBER) as session,
        session.post(f"{replica.url}/servers/{server_id}/tasks", json=body) as resp,
    ):
        assert resp.status == 202, await resp.text()
        task: dict[str, Any] = await resp.json()
        return task


async def test_a_task_started_on_one_replica_is_read_completed_on_the_other(
    replicas: list[Replica], server_id: str, schema: str
) -> None:
    a, b = replicas
    task = await start_task(a, server_id, {"action": "POWER_OFF"})
    async with aiohttp.ClientSession(headers=MEMBER) as session:
        for _ in range(120):
            async with session.get(f"{b.url}/server_tasks/{task['id']}") as resp:
                seen = await resp.json()
            if seen["state"] != "RUNNING":
                break
            await asyncio.sleep(0.5)
    assert seen["state"] == "COMPLETED"
    holder = await lease_holder(schema)
    assert holder is not None
    assert holder.split(":")[1] in {str(a.proc.pid), str(b.proc.pid)}


async def test_the_lease_holder_dies_and_the_other_finishes_its_work(
    replicas: list[Replica], server_id: str, schema: str, nova_as
) -> None:  # type: ignore[no-untyped-def]
    for _ in range(50):
        holder = await lease_holder(schema)
        if holder:
            break
        await asyncio.sleep(0.2)
    assert holder is not None
    pid = int(holder.split(":")[1])
    holding = next(r for r in replicas if r.proc.pid == pid)
    surviving = next(r for r in replicas if r.proc.pid != pid)
    task = await start_task(holding, server_id, {"action": "RESIZE", "type_id": "m1.small"})
    os.kill(pid, signal.SIGKILL)
    await holding.proc.wait()
    # Nobody reads it through the API: the survivor's poller must take the
    # lease (after it lapses) and finish the work, confirm included.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if await task_state(schema, task["id"]) != "RUNNING":
            break
        await asyncio.sleep(0.5)
    assert await task_state(schema, task["id"]) == "COMPLETED"
    new_holder = await lease_holder(schema)
    assert new_holder is not None
    assert int(new_holder.split(":")[1]) == surviving.proc.pid
    nova = nova_as("alice")
    server = nova.compute.get(f"/servers/{server_id}", headers=MV).json()["server"]
    assert (server["status"], server["flavor"]["original_name"]) == ("ACTIVE", "m1.small")
    actions = nova.compute.get(f"/servers/{server_id}/os-instance-actions", headers=MV).json()["instanceActions"]
    assert [a["action"] for a in actions].count("confirmResize") == 1  # confirmed once, not twice
