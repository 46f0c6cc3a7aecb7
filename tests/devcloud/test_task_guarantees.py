"""What operators trust tasks with: each ends, and ends once, whatever
happens to the tokens, the readers and the proxy. Against devcloud."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from users import auth, revoke, service_credentials, sign_in, token

from vnext_proxy.config import Settings
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.tasks.engine import TaskEngine
from vnext_proxy.tasks.model import RUNNING, Task
from vnext_proxy.tasks.poller import TaskPoller
from vnext_proxy.timeutil import parse_time, show_time
from vnext_proxy.web.app import create_app
from vnext_proxy.web.keys import STORE, TASKS

MEMBER = auth("alice")
ADMIN = auth("admin")


@pytest.fixture(scope="module")
def two_servers(boot_server, forget_servers) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    booted = (boot_server("guarantees-1"), boot_server("guarantees-2"))
    try:
        yield booted
    finally:
        forget_servers(list(booted))


@pytest.fixture
def idle_settings(proxy_settings: Settings) -> Settings:
    """The proxy's settings with its own poller asleep: the test runs the cycles."""
    return dataclasses.replace(proxy_settings, tasks=dataclasses.replace(proxy_settings.tasks, poll_interval=3600))


@pytest.fixture
async def idle_poller_proxy(aiohttp_client, idle_settings: Settings, mappings: MappingSet) -> TestClient:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(create_app(idle_settings, mappings))
    return client


async def start(proxy: TestClient, server_id: str, token: str, action: str = "REBOOT", **params: str) -> str:
    """Start a task with ``token`` (a token, not a user: see users.token)."""
    body = {"action": action, **params}
    resp = await proxy.post(f"/servers/{server_id}/tasks", json=body, headers={"X-Auth-Token": token})
    assert resp.status == 202, await resp.text()
    task_id: str = (await resp.json())["id"]
    return task_id


async def until_ended(engine: TaskEngine, task_id: str, poller: TaskPoller | None = None) -> Task:
    """The task as stored once it has ended: advanced by ``poller``'s cycles,
    run here, or else by the proxy's own poller."""
    for _ in range(120):
        if poller is not None:
            await poller.poll_once()
        stored = await engine.store.get_task(task_id)
        assert stored is not None
        if stored.state != RUNNING:
            return stored
        await asyncio.sleep(0.5)
    raise AssertionError(f"task {task_id} still RUNNING after 60s")


async def test_a_revoked_token_stalls_no_other_task(
    idle_poller_proxy: TestClient, two_servers: tuple[str, str], keystone: str, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = idle_poller_proxy
    engine = proxy.app[TASKS]
    short_lived = await asyncio.to_thread(sign_in, keystone, "alice")
    first = await start(proxy, two_servers[0], short_lived)
    await asyncio.to_thread(revoke, keystone, short_lived)
    second = await start(proxy, two_servers[1], token("alice"))
    poller = TaskPoller(engine, interval=0.5)
    with caplog.at_level(logging.INFO, logger="vnext_proxy"):
        stored = await until_ended(engine, second, poller)
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


READER = auth("rita")


def nova_get(nova_as, path: str) -> Any:  # type: ignore[no-untyped-def]
    resp = nova_as("alice").compute.get(path, headers={"OpenStack-API-Version": "compute 2.100"})
    assert resp.status_code == 200, resp.text
    return resp.json()


async def wait_in_nova(nova_as, server_id: str, vm_state: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Until Nova shows the server idle in ``vm_state`` (read off the event loop, gently)."""
    for _ in range(120):
        server: dict[str, Any] = (await asyncio.to_thread(nova_get, nova_as, f"/servers/{server_id}"))["server"]
        if server["OS-EXT-STS:vm_state"] == vm_state and server["OS-EXT-STS:task_state"] is None:
            return server
        await asyncio.sleep(0.5)
    raise AssertionError(f"server {server_id} never reached {vm_state}")


async def confirms(nova_as, server_id: str) -> int:  # type: ignore[no-untyped-def]
    actions = await asyncio.to_thread(nova_get, nova_as, f"/servers/{server_id}/os-instance-actions")
    return sum(1 for a in actions["instanceActions"] if a["action"] == "confirmResize")


async def test_reads_never_write_and_the_creator_has_no_confirm_step(
    aiohttp_client, idle_settings: Settings, mappings: MappingSet, two_servers: tuple[str, str], nova_as
) -> None:  # type: ignore[no-untyped-def]
    server_id = two_servers[1]
    first = await aiohttp_client(create_app(idle_settings, mappings))
    confirmed_before = await confirms(nova_as, server_id)
    task_id = await start(first, server_id, token("alice"), "RESIZE", type_id="m1.small")
    await first.close()  # a restart: the creator's token, held in memory only, is gone
    second = await aiohttp_client(create_app(idle_settings, mappings))
    await wait_in_nova(nova_as, server_id, "resized")
    # A reader of the project reads the task, its items and the history: 200,
    # the task as it stands, and Nova is only read.
    for path in (f"/server_tasks/{task_id}", f"/servers/{server_id}/tasks", f"/server_tasks/{task_id}/items"):
        read = await second.get(path, headers=READER)
        assert read.status == 200, (path, await read.text())
    task = await (await second.get(f"/server_tasks/{task_id}", headers=READER)).json()
    assert task["state"] == "RUNNING"
    items = (await (await second.get(f"/server_tasks/{task_id}/items", headers=READER)).json())["items"]
    assert {"action": "FINALIZING", "state": "WAITING"} in [{k: i[k] for k in ("action", "state")} for i in items]
    server = await wait_in_nova(nova_as, server_id, "resized")
    assert await confirms(nova_as, server_id) == confirmed_before, "a read confirmed the resize"
    # The creator reading it is another matter: vNext has no confirm step for them.
    assert (await second.get(f"/server_tasks/{task_id}", headers=MEMBER)).status == 200
    engine = second.app[TASKS]
    assert engine.token_for(task_id) == MEMBER["X-Auth-Token"]
    assert await confirms(nova_as, server_id) == confirmed_before, "the read itself wrote"
    stored = await until_ended(engine, task_id, TaskPoller(engine, interval=0.5))
    assert stored.state == "COMPLETED"
    server = await wait_in_nova(nova_as, server_id, "active")
    assert server["flavor"]["original_name"] == "m1.small"
    assert await confirms(nova_as, server_id) == confirmed_before + 1


async def test_a_task_read_after_a_restart_ends_when_nova_finished(
    aiohttp_client, idle_settings: Settings, mappings: MappingSet, two_servers: tuple[str, str], nova_as
) -> None:  # type: ignore[no-untyped-def]
    server_id = two_servers[0]
    first = await aiohttp_client(create_app(idle_settings, mappings))
    started = await start(first, server_id, token("alice"))
    request_id = (await (await first.get(f"/server_tasks/{started}", headers=MEMBER)).json())["nova_request_id"]
    await first.close()
    await wait_in_nova(nova_as, server_id, "active")
    for _ in range(60):
        action = await asyncio.to_thread(nova_get, nova_as, f"/servers/{server_id}/os-instance-actions/{request_id}")
        events = action["instanceAction"]["events"]
        if events and all(e["finish_time"] for e in events):
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)  # the read comes well after Nova finished
    second = await aiohttp_client(create_app(idle_settings, mappings))
    task = await (await second.get(f"/server_tasks/{started}", headers=READER)).json()
    assert task["state"] == "COMPLETED"
    finished = max(e["finish_time"] for e in events)
    assert task["ended_at"] == show_time(parse_time(finished))


async def test_no_task_recorded_means_no_action_sent(proxy: TestClient, two_servers: tuple[str, str], nova_as) -> None:  # type: ignore[no-untyped-def]
    server_id = two_servers[0]
    before = (await asyncio.to_thread(nova_get, nova_as, f"/servers/{server_id}/os-instance-actions"))[
        "instanceActions"
    ]
    await proxy.app[STORE].close()  # the store goes away (a full disk, a lost database)
    resp = await proxy.post(f"/servers/{server_id}/tasks", json={"action": "REBOOT"}, headers=MEMBER)
    assert resp.status == 503
    assert int(resp.headers["Retry-After"]) > 0
    assert "nothing was sent to Nova" in (await resp.json())["error"]["message"]
    after = (await asyncio.to_thread(nova_get, nova_as, f"/servers/{server_id}/os-instance-actions"))["instanceActions"]
    assert [a["request_id"] for a in after] == [a["request_id"] for a in before], "Nova was asked"


SECRET = "S3cret-Probe-123"


async def test_a_password_is_kept_nowhere(
    aiohttp_client, proxy_settings: Settings, mappings: MappingSet, two_servers: tuple[str, str], tmp_path, caplog
) -> None:  # type: ignore[no-untyped-def]
    proxy = await aiohttp_client(create_app(dataclasses.replace(proxy_settings, explain=True), mappings))
    with caplog.at_level(logging.DEBUG):
        resp = await proxy.post(
            f"/servers/{two_servers[0]}/tasks",
            json={"action": "UPDATE_PASSWORD", "password": SECRET},
            headers={**MEMBER, "X-VNext-Explain": "1"},
        )
        answer = await resp.text()
        assert resp.status == 202, answer
        task_id = (await resp.json())["id"]
        read = await (await proxy.get(f"/server_tasks/{task_id}", headers={**MEMBER, "X-VNext-Explain": "1"})).text()
        history = await (await proxy.get(f"/servers/{two_servers[0]}/tasks", headers=MEMBER)).text()
    assert (await proxy.app[STORE].get_task(task_id)).params.get("password") is None
    await proxy.close()  # the store's files are complete once it closes
    for shown in (answer, read, history, caplog.text):
        assert SECRET not in shown
    for stored in tmp_path.glob("tasks.sqlite3*"):
        assert SECRET.encode() not in stored.read_bytes(), stored.name


async def test_admin_only_details_stay_admin_only(
    aiohttp_client, proxy_settings: Settings, mappings: MappingSet, two_servers: tuple[str, str], keystone: str
) -> None:  # type: ignore[no-untyped-def]
    """With service credentials the poller reads Nova as an admin; a member
    still sees only the failed step, an admin also Nova's details."""
    service = service_credentials(keystone)
    tasks = dataclasses.replace(proxy_settings.tasks, service_credentials=service)
    proxy = await aiohttp_client(create_app(dataclasses.replace(proxy_settings, tasks=tasks), mappings))
    # m1.xlarge fits no devcloud host: the scheduler fails it, and the details say so.
    resp = await proxy.post(
        f"/servers/{two_servers[1]}/tasks", json={"action": "RESIZE", "type_id": "m1.xlarge"}, headers=MEMBER
    )
    assert resp.status == 202, await resp.text()
    task_id = (await resp.json())["id"]
    stored = await until_ended(proxy.app[TASKS], task_id)
    assert stored.state == "ABORTED"
    assert stored.admin_reason, "the poller read the details as an admin"
    seen_by_member = (await (await proxy.get(f"/server_tasks/{task_id}", headers=MEMBER)).json())["reason"]
    seen_by_admin = (await (await proxy.get(f"/server_tasks/{task_id}", headers=ADMIN)).json())["reason"]
    assert seen_by_member == stored.reason
    assert stored.admin_reason not in seen_by_member
    assert seen_by_admin == f"{stored.reason} ({stored.admin_reason})"
    history = (await (await proxy.get(f"/servers/{two_servers[1]}/tasks", headers=MEMBER)).json())["tasks"]
    assert all(stored.admin_reason not in (t["reason"] or "") for t in history)


async def test_a_retried_task_with_an_idempotency_key_acts_once(
    proxy: TestClient, two_servers: tuple[str, str], nova_as
) -> None:  # type: ignore[no-untyped-def]
    server_id = two_servers[0]
    path = f"/servers/{server_id}/tasks"
    keyed = {**MEMBER, "Idempotency-Key": "reboot-7f3a"}
    first = await proxy.post(path, json={"action": "REBOOT"}, headers=keyed)
    assert first.status == 202, await first.text()
    task = await first.json()
    actions = (await asyncio.to_thread(nova_get, nova_as, f"/servers/{server_id}/os-instance-actions"))[
        "instanceActions"
    ]
    again = await proxy.post(path, json={"action": "REBOOT"}, headers=keyed)
    assert (again.status, await again.json()) == (202, task)
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    # The same key with another body is refused; another user's key is theirs.
    changed = await proxy.post(path, json={"action": "POWER_OFF"}, headers=keyed)
    assert changed.status == 422
    assert (await changed.json())["error"]["field"] == "Idempotency-Key"
    bad = await proxy.post(path, json={"action": "REBOOT"}, headers={**MEMBER, "Idempotency-Key": "é" * 3})
    assert bad.status == 400
    later = (await asyncio.to_thread(nova_get, nova_as, f"/servers/{server_id}/os-instance-actions"))["instanceActions"]
    assert [a["request_id"] for a in later] == [a["request_id"] for a in actions], "Nova was asked again"
    await wait_in_nova(nova_as, server_id, "active")
    by_manager = await proxy.post(
        path,
        json={"action": "REBOOT"},
        headers=auth("mary", {"Idempotency-Key": "reboot-7f3a"}),
    )
    assert by_manager.status == 202
    assert (await by_manager.json())["id"] != task["id"]
    await wait_in_nova(nova_as, server_id, "active")


async def test_a_retry_with_a_token_issued_since_is_still_the_same_caller(
    aiohttp_client, proxy_settings: Settings, mappings: MappingSet, two_servers: tuple[str, str], keystone: str, nova_as
) -> None:  # type: ignore[no-untyped-def]
    """With Keystone in the config, an Idempotency-Key belongs to the user, not
    to one token: a client that signed in again in between is recognised."""
    service = service_credentials(keystone)
    settings = dataclasses.replace(
        proxy_settings, tasks=dataclasses.replace(proxy_settings.tasks, service_credentials=service)
    )
    proxy = await aiohttp_client(create_app(settings, mappings))
    server_id = two_servers[1]
    await wait_in_nova(nova_as, server_id, "active")
    path = f"/servers/{server_id}/tasks"
    first_token, second_token = (
        await asyncio.to_thread(sign_in, keystone, "alice"),
        await asyncio.to_thread(sign_in, keystone, "alice"),
    )
    first = await proxy.post(
        path, json={"action": "REBOOT"}, headers={"X-Auth-Token": first_token, "Idempotency-Key": "k-9"}
    )
    assert first.status == 202, await first.text()
    again = await proxy.post(
        path, json={"action": "REBOOT"}, headers={"X-Auth-Token": second_token, "Idempotency-Key": "k-9"}
    )
    assert again.status == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["id"] == (await first.json())["id"]
    await wait_in_nova(nova_as, server_id, "active")
