"""How tasks end: failure, deadline, restart, history and items, against devcloud."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from task_items_checks import checked_items
from users import auth

from vnext_proxy.config import Settings
from vnext_proxy.devcloud.identities import PROJECT_A
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.timeutil import parse_time, show_time
from vnext_proxy.web.app import create_app
from vnext_proxy.web.keys import POLLER

IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
MV = {"OpenStack-API-Version": "compute 2.100"}
MEMBER = auth("alice")
READER = auth("rita")


@pytest.fixture(scope="module")
def server_id(boot_server, forget_servers) -> Iterator[str]:  # type: ignore[no-untyped-def]
    booted = boot_server("engine-tests")
    try:
        yield booted
    finally:
        forget_servers([booted])


async def start(
    proxy: TestClient, server_id: str, body: dict[str, Any], headers: dict[str, str] = MEMBER
) -> dict[str, Any]:
    resp = await proxy.post(f"/servers/{server_id}/tasks", json=body, headers=headers)
    assert resp.status == 202, await resp.text()
    task: dict[str, Any] = await resp.json()
    assert resp.headers["Location"] == f"/server_tasks/{task['id']}"
    # Every Nova call made for it shows, the action's own among them.
    assert task["nova_request_id"] in resp.headers["X-VNext-Backend-Request-Ids"].split(",")
    return task


async def wait_final(
    proxy: TestClient, task_id: str, headers: dict[str, str] = MEMBER, wait: float = 90
) -> dict[str, Any]:
    for _ in range(int(wait / 0.5)):
        resp = await proxy.get(f"/server_tasks/{task_id}", headers=headers)
        assert resp.status == 200, await resp.text()
        task: dict[str, Any] = await resp.json()
        if task["state"] != "RUNNING":
            return task
        await asyncio.sleep(0.5)
    raise AssertionError(f"task {task_id} still RUNNING after {wait}s")


def vm_state(nova_as, server_id: str) -> str:  # type: ignore[no-untyped-def]
    body = nova_as("alice").compute.get(f"/servers/{server_id}", headers=MV).json()
    return str(body["server"]["OS-EXT-STS:vm_state"])


def nova_action(nova_as, server_id: str, request_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Nova's instance action for a task's call, as its owner reads it."""
    resp = nova_as("alice").compute.get(f"/servers/{server_id}/os-instance-actions/{request_id}", headers=MV)
    assert resp.status_code == 200, resp.text
    action: dict[str, Any] = resp.json()["instanceAction"]
    return action


def shown(nova_time: str) -> str:
    """A time of Nova's as vNext shows it (to the second)."""
    return str(show_time(parse_time(nova_time)))


async def test_a_failure_only_novas_action_shows_aborts_the_task(proxy: TestClient, server_id: str, nova_as) -> None:  # type: ignore[no-untyped-def]
    # m1.xlarge (16 GB) fits no devcloud host: Nova accepts, then the
    # scheduler fails and the server goes straight back to ACTIVE, no fault.
    task = await start(proxy, server_id, {"action": "RESIZE", "type_id": "m1.xlarge"})
    final = await wait_final(proxy, task["id"])
    assert final["state"] == "ABORTED"
    # A member sees which step failed; Nova shows why to admins only.
    assert final["reason"].startswith("Nova's cold_migrate step failed")
    assert vm_state(nova_as, server_id) == "active"
    items = await checked_items(proxy, final, MEMBER)
    assert "ABORTED" in {i["state"] for i in items}
    # The failed step is Nova's: its scheduling event, which ended in error.
    failed = {e["event"] for e in nova_action(nova_as, server_id, task["nova_request_id"])["events"]}
    assert "conductor_migrate_server" in failed
    assert {"action": "SCHEDULING", "state": "ABORTED"} in [{k: i[k] for k in ("action", "state")} for i in items]


async def test_short_deadline_times_out(
    aiohttp_client, proxy_settings: Settings, mappings: MappingSet, server_id: str, nova_as
) -> None:  # type: ignore[no-untyped-def]
    hasty = dataclasses.replace(proxy_settings, tasks=dataclasses.replace(proxy_settings.tasks, default_deadline=0.1))
    proxy = await aiohttp_client(create_app(hasty, mappings))
    task = await start(proxy, server_id, {"action": "REBOOT"})
    final = await wait_final(proxy, task["id"])
    assert final["state"] == "TIMED_OUT"
    assert "deadline" in final["reason"]
    # Nova has its action, so the task shows the step, as far as it went by the deadline.
    items = await checked_items(proxy, final, MEMBER)
    assert [i["action"] for i in items] == ["REBOOTING"]
    assert {i["state"] for i in items} <= {"TIMED_OUT", "COMPLETED"}
    reboot = nova_action(nova_as, server_id, task["nova_request_id"])
    finished = [e["finish_time"] for e in reboot["events"]]
    if not finished or None in finished or shown(max(finished)) > final["ended_at"]:
        # Nova was still rebooting when the task timed out.
        assert items[0]["state"] == "TIMED_OUT", (items, reboot)
    for _ in range(60):  # let the reboot finish, for the tests after this one
        if vm_state(nova_as, server_id) == "active" and None not in [
            e["finish_time"] for e in nova_action(nova_as, server_id, task["nova_request_id"])["events"]
        ]:
            break
        await asyncio.sleep(0.5)


async def test_restarted_proxy_still_completes_the_task(
    aiohttp_client, proxy_settings: Settings, mappings: MappingSet, server_id: str, nova_as
) -> None:  # type: ignore[no-untyped-def]
    first = await aiohttp_client(create_app(proxy_settings, mappings))
    task = await start(first, server_id, {"action": "PAUSE"})
    await first.close()  # gone before its poller ever ran; the token with it
    second = await aiohttp_client(create_app(proxy_settings, mappings))  # same store
    # No token survived, so the task waits for a reader; any reader allowed
    # to see the server advances it with their own token.
    final = await wait_final(second, task["id"], headers=READER)
    assert final["state"] == "COMPLETED"
    assert vm_state(nova_as, server_id) == "paused"
    # Ended by a read (which never writes to Nova), it still shows its step,
    # from Nova's instance action: no poll of the second proxy watched it.
    [item] = await checked_items(second, final, READER)
    assert item["action"] == "PAUSING"
    paused = nova_action(nova_as, server_id, task["nova_request_id"])
    assert item["started_at"] == max(shown(paused["start_time"]), final["created_at"])
    assert item["ended_at"] == final["ended_at"] == shown(max(e["finish_time"] for e in paused["events"]))
    # Read again, and by its creator: the same item, once.
    assert await checked_items(second, final, MEMBER) == [item]
    resumed = await wait_final(second, (await start(second, server_id, {"action": "UNPAUSE"}))["id"])
    assert resumed["state"] == "COMPLETED"
    await checked_items(second, resumed, MEMBER)


async def test_history_has_novas_own_actions_once(proxy: TestClient, server_id: str, nova_as) -> None:  # type: ignore[no-untyped-def]
    ours = await wait_final(proxy, (await start(proxy, server_id, {"action": "POWER_OFF"}))["id"])
    direct = nova_as("alice").compute.post(f"/servers/{server_id}/action", json={"os-start": None}, headers=MV)
    assert direct.status_code == 202
    direct_id = direct.headers["x-openstack-request-id"]
    for _ in range(60):
        if vm_state(nova_as, server_id) == "active":
            break
        await asyncio.sleep(0.5)
    resp = await proxy.get(f"/servers/{server_id}/tasks?limit=100", headers=MEMBER)
    tasks = (await resp.json())["tasks"]
    by_request = {t["nova_request_id"]: t for t in tasks}
    assert len(by_request) == len(tasks), "a Nova action appears twice"
    assert by_request[direct_id]["action"] == "POWER_ON"
    assert by_request[direct_id]["created_by"] == "a1000000000040008000000000000a01"
    assert by_request[ours["nova_request_id"]]["id"] == ours["id"]
    create = [t for t in tasks if t["action"] == "CREATE"]
    assert len(create) == 1
    assert create[0]["state"] == "COMPLETED"
    # A task rebuilt from Nova's history, once listed, is found by its id,
    # listed once again, and hidden from another project.
    rebuilt = await proxy.get(f"/server_tasks/{by_request[direct_id]['id']}", headers=MEMBER)
    assert rebuilt.status == 200
    assert await rebuilt.json() == by_request[direct_id]
    relisted = (await (await proxy.get(f"/servers/{server_id}/tasks?limit=100", headers=MEMBER)).json())["tasks"]
    assert relisted == tasks
    hidden = await proxy.get(f"/server_tasks/{by_request[direct_id]['id']}", headers=auth("bob"))
    assert hidden.status == 404
    items = await checked_items(proxy, ours, MEMBER)
    assert [i["action"] for i in items] == ["POWERING_OFF"]
    assert items[0]["state"] == "COMPLETED"
    # The rebuilt task's items come from Nova's instance action, once.
    rebuilt_items = await checked_items(proxy, by_request[direct_id], MEMBER)
    assert [i["action"] for i in rebuilt_items] == ["POWERING_ON"]
    assert await checked_items(proxy, by_request[direct_id], MEMBER) == rebuilt_items
    # Filters and paging.
    only = await (await proxy.get(f"/servers/{server_id}/tasks?state=ABORTED", headers=MEMBER)).json()
    assert all(t["state"] == "ABORTED" for t in only["tasks"])
    page = await (await proxy.get(f"/servers/{server_id}/tasks?limit=1", headers=MEMBER)).json()
    assert len(page["tasks"]) == 1
    assert "next" in page["_links"]
    bad = await proxy.get(f"/servers/{server_id}/tasks?since=yesterday", headers=MEMBER)
    assert bad.status == 400
    assert (await bad.json())["error"]["field"] == "since"


async def test_another_project_sees_no_tasks(proxy: TestClient, server_id: str, nova_as) -> None:  # type: ignore[no-untyped-def]
    task = await start(proxy, server_id, {"action": "LOCK"})
    assert task["state"] == "COMPLETED"  # LOCK takes effect on Nova's reply
    # No poll ever sees it: the step is Nova's API event, read on the reply.
    [item] = await checked_items(proxy, task, MEMBER)
    assert (item["action"], item["state"]) == ("LOCKING", "COMPLETED")
    locked = nova_action(nova_as, server_id, task["nova_request_id"])
    assert [e["event"] for e in locked["events"]] == ["api_lock"]
    assert item["started_at"] == max(shown(locked["start_time"]), task["created_at"])
    await wait_final(proxy, (await start(proxy, server_id, {"action": "UNLOCK"}))["id"])
    other = auth("bob")
    for path in (f"/server_tasks/{task['id']}", f"/servers/{server_id}/tasks", f"/server_tasks/{task['id']}/items"):
        resp = await proxy.get(path, headers=other)
        assert resp.status == 404, path
    resp = await proxy.post(f"/servers/{server_id}/tasks", json={"action": "REBOOT"}, headers=other)
    assert resp.status == 404


#: The fast-build test's poll interval: the poller runs its first cycle at
#: start-up and no other on its own; the test runs the next one by hand.
NEVER = 3600.0


async def test_a_build_faster_than_a_poll_shows_one_item_spanning_novas_action(
    aiohttp_client: Any, proxy_settings: Settings, mappings: MappingSet, nova_as: Any, forget_servers: Any
) -> None:
    idle = dataclasses.replace(proxy_settings, tasks=dataclasses.replace(proxy_settings.tasks, poll_interval=NEVER))
    proxy = await aiohttp_client(create_app(idle, mappings))
    async with asyncio.timeout(60):
        while proxy.app[POLLER].cycles < 1:  # noqa: ASYNC110 (the start-up cycle, over before the launch)
            await asyncio.sleep(0.05)
    types = (await (await proxy.get("/server_types?limit=1000", headers=MEMBER)).json())["server_types"]
    tiny = next(t["id"] for t in types if t["name"] == "m1.tiny")
    body = {"servers": [{"hostname": f"fast-{uuid.uuid4().hex[:6]}", "type_id": tiny, "template_id": IMAGE}]}
    resp = await proxy.post(f"/projects/{PROJECT_A}/servers", json=body, headers=MEMBER)
    assert resp.status == 202, await resp.text()
    [launched] = await resp.json()
    try:
        task_id = launched["_links"]["rel/server_task"]["href"].rsplit("/", 1)[1]
        for _ in range(240):
            if vm_state(nova_as, launched["id"]) != "building":
                break
            await asyncio.sleep(0.5)
        # Built with no poll in between: no poll saw a step. The next cycle sees it built.
        assert vm_state(nova_as, launched["id"]) == "active"
        await proxy.app[POLLER].poll_once()
        final = await wait_final(proxy, task_id)
        assert (final["action"], final["state"]) == ("CREATE", "COMPLETED"), final
        [item] = await checked_items(proxy, final, MEMBER)
        create = nova_action(nova_as, launched["id"], final["nova_request_id"])
        assert create["action"] == "create"
        last = max(create["events"], key=lambda e: e["finish_time"])
        # Nova's build event names the step; the item spans the whole instance action.
        assert item["id"] == str(uuid.uuid5(uuid.UUID(task_id), "compute__do_build_and_run_instance"))
        assert (item["action"], item["state"]) == ("SPAWNING", "COMPLETED")
        assert item["started_at"] == max(shown(create["start_time"]), final["created_at"])
        assert item["ended_at"] == shown(last["finish_time"]) == final["ended_at"]
    finally:
        forget_servers([launched["id"]])
