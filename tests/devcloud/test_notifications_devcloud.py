"""Nova's notifications through the machine's RabbitMQ wake the poller.

The shared devcloud's Nova publishes its versioned notifications to the
bus. Here the proxy polls once, at start-up, and then not for an hour: a
task that completes did so because Nova's end event woke the poller."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aiohttp.test_utils import TestClient
from test_operations import run_check
from users import auth

from vnext_proxy.config import NotificationSettings, NovaSettings, Settings, TaskSettings
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.app import create_app
from vnext_proxy.web.keys import POLLER

MEMBER = auth("alice")
MV = {"OpenStack-API-Version": "compute 2.100"}
#: No poll cycle but the one at start-up.
NEVER = 3600.0


@pytest.fixture(scope="module")
def notified(devcloud: str, rabbitmq: str) -> str:
    """The shared devcloud, whose Nova publishes to the bus (skipped without one): its endpoint."""
    return devcloud


@pytest.fixture(scope="module")
def server_id(boot_server, forget_servers) -> Iterator[str]:  # type: ignore[no-untyped-def]
    booted: str = boot_server("notified")
    yield booted
    forget_servers([booted])


@pytest.fixture
async def queue(rabbitmq: str) -> AsyncIterator[str]:
    """The proxy's queue for this test, deleted afterwards."""
    name = f"vnext-proxy-test-{uuid.uuid4().hex[:8]}"
    yield name
    connection = await aio_pika.connect(rabbitmq)
    async with connection:
        await (await connection.channel()).queue_delete(name)


async def notified_proxy(
    aiohttp_client: Any, endpoint: str, mappings: MappingSet, rabbitmq: str, queue: str, tmp_path: Path
) -> TestClient:
    settings = Settings(
        nova=NovaSettings(endpoint=endpoint),
        store_url=f"sqlite:///{tmp_path}/tasks.sqlite3",
        tasks=TaskSettings(poll_interval=NEVER),
        notifications=NotificationSettings(rabbitmq, queue=queue),
    )
    proxy: TestClient = await aiohttp_client(create_app(settings, mappings))
    async with asyncio.timeout(60):
        # The start-up cycle is over, and the queue is bound: nothing is missed.
        while proxy.app[POLLER].cycles < 1 or (await health(proxy))["notifications"]["state"] != "consuming":  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    return proxy


async def health(proxy: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = await (await proxy.get("/healthcheck")).json()
    return body


async def wait_ended(proxy: TestClient, task_id: str, within: float = 60) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            task: dict[str, Any] = await (await proxy.get(f"/server_tasks/{task_id}", headers=MEMBER)).json()
            if task["state"] != "RUNNING":
                return task
            await asyncio.sleep(0.5)


async def test_novas_end_event_completes_a_task_with_no_poll_cycle(
    aiohttp_client,
    notified: str,
    mappings: MappingSet,
    rabbitmq: str,
    queue: str,
    server_id: str,
    tmp_path: Path,
    nova_as,
) -> None:  # type: ignore[no-untyped-def]
    proxy = await notified_proxy(aiohttp_client, notified, mappings, rabbitmq, queue, tmp_path)
    for action, vm_state in (("POWER_OFF", "stopped"), ("POWER_ON", "active")):
        resp = await proxy.post(f"/servers/{server_id}/tasks", json={"action": action}, headers=MEMBER)
        assert resp.status == 202, await resp.text()
        task = await wait_ended(proxy, (await resp.json())["id"])
        assert (task["action"], task["state"]) == (action, "COMPLETED")
        server = nova_as("alice").compute.get(f"/servers/{server_id}", headers=MV).json()["server"]
        assert server["OS-EXT-STS:vm_state"] == vm_state
    assert proxy.app[POLLER].cycles == 1  # no cycle but the first: the events did it
    notifications = (await health(proxy))["notifications"]
    assert notifications["events"] >= 2
    assert notifications["bus"] == "amqp://127.0.0.1:5672/"


def test_check_finds_novas_notifications_on_the_bus(notified: str, rabbitmq: str, tmp_path: Path) -> None:
    config = tmp_path / "notified.yaml"
    config.write_text(f"nova:\n  endpoint: {notified}\nnotifications: {{url: '{rabbitmq}'}}\n")
    result = run_check(config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: Nova's notifications: exchange 'nova' is on amqp://127.0.0.1:5672/" in result.stdout
    assert "guest" not in result.stdout
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text(f"nova:\n  endpoint: {notified}\nnotifications: {{url: '{rabbitmq}', exchange: nobody}}\n")
    result = run_check(elsewhere)
    assert result.returncode == 1
    assert "PROBLEM: Nova's notifications: no exchange 'nobody' on amqp://127.0.0.1:5672/ yet" in result.stdout
