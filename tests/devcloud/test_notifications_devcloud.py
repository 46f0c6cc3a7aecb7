"""Nova's notifications through the machine's RabbitMQ wake the poller.

devcloud's Nova publishes its versioned notifications (tests/conftest.py).
Here the proxy polls once, at start-up, and then not for an hour: a task
that completes did so because Nova's end event woke the poller."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aio_pika
import pytest
from aiohttp.test_utils import TestClient

from vnext_proxy.config import NotificationSettings, Settings
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.app import create_app
from vnext_proxy.web.keys import POLLER

MEMBER = {"X-Auth-Token": "devcloud-member-a"}
#: No poll cycle but the one at start-up.
NEVER = 3600.0


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
    aiohttp_client: Any, proxy_settings: Settings, mappings: MappingSet, rabbitmq: str, queue: str
) -> TestClient:
    settings = dataclasses.replace(
        proxy_settings,
        tasks=dataclasses.replace(proxy_settings.tasks, poll_interval=NEVER),
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
    aiohttp_client, proxy_settings: Settings, mappings: MappingSet, rabbitmq: str, queue: str, server_id: str, nova_as
) -> None:  # type: ignore[no-untyped-def]
    proxy = await notified_proxy(aiohttp_client, proxy_settings, mappings, rabbitmq, queue)
    for action, vm_state in (("POWER_OFF", "stopped"), ("POWER_ON", "active")):
        resp = await proxy.post(f"/servers/{server_id}/tasks", json={"action": action}, headers=MEMBER)
        assert resp.status == 202, await resp.text()
        task = await wait_ended(proxy, (await resp.json())["id"])
        assert (task["action"], task["state"]) == (action, "COMPLETED")
        server = nova_as("devcloud-member-a").compute.get(f"/servers/{server_id}").json()["server"]
        assert server["OS-EXT-STS:vm_state"] == vm_state
    assert proxy.app[POLLER].cycles == 1  # no cycle but the first: the events did it
    notifications = (await health(proxy))["notifications"]
    assert notifications["events"] >= 2
    assert notifications["bus"] == "amqp://127.0.0.1:5672/"
