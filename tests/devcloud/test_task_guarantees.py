"""What operators trust tasks with: each ends, and ends once, whatever
happens to the tokens, the readers and the proxy. Against devcloud."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from vnext_proxy.config import Settings
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.tasks.model import RUNNING
from vnext_proxy.tasks.poller import TaskPoller
from vnext_proxy.web.app import create_app
from vnext_proxy.web.keys import TASKS

MEMBER = {"X-Auth-Token": "devcloud-member-a"}


@pytest.fixture(scope="module")
def two_servers(boot_server, forget_servers) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    booted = (boot_server("guarantees-1"), boot_server("guarantees-2"))
    try:
        yield booted
    finally:
        forget_servers(list(booted))


async def keystone(devcloud: str, method: str, headers: dict[str, str], body: Any = None) -> aiohttp.ClientResponse:
    url = devcloud.rsplit("/v2.1", 1)[0] + "/identity/v3/auth/tokens"
    async with aiohttp.ClientSession() as session, session.request(method, url, json=body, headers=headers) as resp:
        await resp.read()
        return resp


async def sign_in(devcloud: str, token: str) -> str:
    """A fresh token for the same user, as Keystone issues one per sign-in."""
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}}
    resp = await keystone(devcloud, "POST", {}, body)
    assert resp.status == 201
    return resp.headers["X-Subject-Token"]


async def revoke(devcloud: str, token: str) -> None:
    resp = await keystone(devcloud, "DELETE", {"X-Auth-Token": token, "X-Subject-Token": token})
    assert resp.status == 204


@pytest.fixture
async def idle_poller_proxy(aiohttp_client, proxy_settings: Settings, mappings: MappingSet) -> TestClient:  # type: ignore[no-untyped-def]
    """The proxy, with its own poller asleep: the test runs the cycles."""
    settings = dataclasses.replace(proxy_settings, tasks=dataclasses.replace(proxy_settings.tasks, poll_interval=3600))
    client: TestClient = await aiohttp_client(create_app(settings, mappings))
    return client


async def start(proxy: TestClient, server_id: str, token: str, action: str = "REBOOT") -> str:
    resp = await proxy.post(f"/servers/{server_id}/tasks", json={"action": action}, headers={"X-Auth-Token": token})
    assert resp.status == 202, await resp.text()
    task_id: str = (await resp.json())["id"]
    return task_id


async def test_a_revoked_token_stalls_no_other_task(
    idle_poller_proxy: TestClient, two_servers: tuple[str, str], devcloud: str, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = idle_poller_proxy
    engine = proxy.app[TASKS]
    short_lived = await sign_in(devcloud, "devcloud-member-a")
    first = await start(proxy, two_servers[0], short_lived)
    await revoke(devcloud, short_lived)
    second = await start(proxy, two_servers[1], "devcloud-member-a")
    poller = TaskPoller(engine, interval=0.5)
    with caplog.at_level(logging.INFO, logger="vnext_proxy"):
        for _ in range(60):
            await poller.poll_once()
            stored = await engine.store.get_task(second)
            assert stored is not None
            if stored.state != RUNNING:
                break
            await asyncio.sleep(0.5)
    # The refused token's tasks were polled first, and held up nothing.
    assert stored.state == "COMPLETED"
    refused = [r for r in caplog.records if "Nova refused a token" in r.getMessage()]
    assert len(refused) == 1, "logged once"
    assert short_lived not in caplog.text
    assert engine.token_for(first) is None
    waiting = await engine.store.get_task(first)
    assert waiting is not None
    assert waiting.state == RUNNING
    # It now advances when someone allowed to see it reads it.
    read = await (await proxy.get(f"/server_tasks/{first}", headers=MEMBER)).json()
    assert read["state"] == "COMPLETED"
