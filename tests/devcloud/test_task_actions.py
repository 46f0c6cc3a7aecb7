"""Every task action, through the proxy, against devcloud: each task must end COMPLETED, show its steps as items
(at least one, each within the task), and Nova itself (read directly with openstacksdk at 2.100) must show the
action's effect.

One server (project A, m1.tiny, networks auto) is launched for the whole module and walked through every
action in order, a few actions per test; the tests share it and must run in file order. Each test gets a
fresh proxy app, but all share one task store, so REVERT_RESIZE finds the RESIZE of the test before it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from task_items_checks import checked_items
from users import token

from vnext_proxy.config import Settings

MV = {"OpenStack-API-Version": "compute 2.100"}
IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"  # the only image to boot from or rebuild with
VOLUME = "6ca404f3-d844-4169-bb96-bc792f37de98"
PORT = "ce531f90-199f-48c0-816c-13e38010b442"  # project A's port in Nova's fake Neutron

MEMBER_A = "alice"
MANAGER_A = "mary"
ADMIN = "admin"
MEMBER_B = "bob"

POLL = 0.5
FINAL = {"COMPLETED", "ABORTED", "TIMED_OUT"}


def auth(user: str) -> dict[str, str]:
    return {"X-Auth-Token": token(user)}


# --- the proxy side ---------------------------------------------------------------------------------------------------


async def post_task(proxy: TestClient, server_id: str, body: Any, user: str = MEMBER_A) -> tuple[int, dict[str, Any]]:
    resp = await proxy.post(f"/servers/{server_id}/tasks", json=body, headers=auth(user))
    answer: dict[str, Any] = await resp.json()
    return resp.status, answer


async def run_task(
    proxy: TestClient,
    server_id: str,
    body: dict[str, Any],
    user: str,
    timeout: float = 90,  # noqa: ASYNC109 - a polling budget, not a cancellation
) -> dict[str, Any]:
    """Start a task; poll GET /server_tasks/{id} every 0.5 s until it is no longer RUNNING; the final task."""
    resp = await proxy.post(f"/servers/{server_id}/tasks", json=body, headers=auth(user))
    task: dict[str, Any] = await resp.json()
    assert resp.status == 202, (body, resp.status, task)
    assert resp.headers["Location"] == f"/server_tasks/{task['id']}"
    assert task["action"] == body["action"]
    assert task["server_id"] == server_id
    return await wait_task(proxy, task, user, within=timeout)


async def wait_task(proxy: TestClient, task: dict[str, Any], user: str, within: float = 90) -> dict[str, Any]:
    assert task["state"] in {"RUNNING", "COMPLETED"}, task
    assert task["nova_request_id"].startswith("req-"), task
    deadline = time.monotonic() + within
    while task["state"] == "RUNNING":
        if time.monotonic() > deadline:
            raise AssertionError(f"{task['action']} still RUNNING after {within:g}s: {task}")
        await asyncio.sleep(POLL)
        resp = await proxy.get(f"/server_tasks/{task['id']}", headers=auth(user))
        assert resp.status == 200, await resp.text()
        task = await resp.json()
    assert task["state"] in FINAL, task
    # Every task of the walk, whichever way it ended, shows its steps.
    await checked_items(proxy, task, auth(user))
    return task


async def completed(proxy: TestClient, server_id: str, body: dict[str, Any], user: str = MEMBER_A) -> dict[str, Any]:
    task = await run_task(proxy, server_id, body, user)
    assert task["state"] == "COMPLETED", task
    assert task["reason"] is None, task
    assert task["ended_at"] is not None, task
    return task


# --- the Nova side ----------------------------------------------------------------------------------------------------


class Nova:
    """Nova, read directly (openstacksdk at 2.100), off the event loop so the proxy's poller keeps running."""

    def __init__(self, nova_as: Any, server_id: str) -> None:
        self.member = nova_as(MEMBER_A)
        self.admin = nova_as(ADMIN)
        self.server_id = server_id

    async def get(self, path: str, user: str = MEMBER_A, headers: dict[str, str] = MV) -> Any:
        conn = self.admin if user == ADMIN else self.member
        return await asyncio.to_thread(conn.compute.get, path, headers=headers)

    async def server(self) -> dict[str, Any]:
        """As the admin sees it (with OS-EXT-SRV-ATTR:host)."""
        resp = await self.get(f"/servers/{self.server_id}", user=ADMIN)
        assert resp.status_code == 200, resp.text
        server: dict[str, Any] = resp.json()["server"]
        return server

    async def assert_state(self, vm_state: str, status: str) -> dict[str, Any]:
        server = await self.server()
        seen = (server["OS-EXT-STS:vm_state"], server["status"], server["OS-EXT-STS:task_state"])
        assert seen == (vm_state, status, None), seen
        return server

    async def wait_state(self, vm_state: str, within: float = 90) -> dict[str, Any]:
        """Until Nova shows ``vm_state`` with no task (after a test that was expected to fail)."""
        deadline = time.monotonic() + within
        while True:
            server = await self.server()
            if server["OS-EXT-STS:vm_state"] == vm_state and server["OS-EXT-STS:task_state"] is None:
                return server
            assert time.monotonic() < deadline, f"Nova never showed {vm_state}: {server['status']}"
            await asyncio.sleep(POLL)

    async def post_action(self, body: dict[str, Any]) -> Any:
        return await asyncio.to_thread(
            self.member.compute.post, f"/servers/{self.server_id}/action", json=body, headers=MV
        )

    async def confirm_if_resized(self) -> None:
        """Leave the server ACTIVE for the next test if the proxy left it in VERIFY_RESIZE."""
        deadline = time.monotonic() + 60
        server = await self.server()
        while server["OS-EXT-STS:task_state"] is not None and time.monotonic() < deadline:
            await asyncio.sleep(POLL)
            server = await self.server()
        if server["OS-EXT-STS:vm_state"] == "resized":
            resp = await self.post_action({"confirmResize": None})
            assert resp.status_code == 204, resp.text
        await self.wait_state("active")

    async def actions(self) -> list[dict[str, Any]]:
        resp = await self.get(f"/servers/{self.server_id}/os-instance-actions")
        assert resp.status_code == 200, resp.text
        actions: list[dict[str, Any]] = resp.json()["instanceActions"]
        return actions

    async def action(self, request_id: str) -> dict[str, Any]:
        resp = await self.get(f"/servers/{self.server_id}/os-instance-actions/{request_id}")
        assert resp.status_code == 200, resp.text
        action: dict[str, Any] = resp.json()["instanceAction"]
        return action

    async def assert_action(self, task: dict[str, Any], nova_action: str) -> dict[str, Any]:
        """The task's Nova call started instance action ``nova_action``, and every event of it succeeded."""
        action = await self.action(task["nova_request_id"])
        assert action["action"] == nova_action, action
        assert action["request_id"] == task["nova_request_id"]
        assert action["events"], action
        for event in action["events"]:
            assert event["finish_time"] is not None, action
            assert event["result"] == "Success", action
        return action

    async def listing(self, what: str) -> list[dict[str, Any]]:
        resp = await self.get(f"/servers/{self.server_id}/{what}")
        assert resp.status_code == 200, resp.text
        items: list[dict[str, Any]] = next(iter(resp.json().values()))
        return items


@pytest.fixture(scope="module")
def server_id(nova_as) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The one server every test walks, launched through Nova; force-deleted at the end."""
    member = nova_as(MEMBER_A)
    server = member.compute.create_server(
        name=f"vnext-tasks-{uuid.uuid4().hex[:8]}", image_id=IMAGE, flavor_id="1", networks="auto"
    )
    try:
        member.compute.wait_for_server(server, interval=POLL, wait=120)
        yield server.id
    finally:
        path = f"/servers/{server.id}/action"
        try:
            resp = member.compute.post(path, json={"forceDelete": None}, headers=MV)
            if resp.status_code >= 400:  # the walk stopped early: not soft-deleted yet
                member.compute.post(path, json={"unlock": None}, headers=MV)
                member.compute.delete(f"/servers/{server.id}", headers=MV)
                deadline = time.monotonic() + 60
                while member.compute.post(path, json={"forceDelete": None}, headers=MV).status_code == 409:
                    if time.monotonic() > deadline:  # still soft-deleting
                        break
                    time.sleep(POLL)
        except Exception:
            pass


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('task-actions')}/tasks.sqlite3"


@pytest.fixture
def proxy_settings(proxy_settings: Settings, store_url: str) -> Settings:
    """One task store for the whole module, as one deployment of the proxy would have: REVERT_RESIZE finds the
    RESIZE an earlier test ran. (Each test still gets its own app, poller and tokens.)"""
    return dataclasses.replace(proxy_settings, store_url=store_url)


@pytest.fixture
def nova(nova_as, server_id: str) -> Nova:  # type: ignore[no-untyped-def]
    return Nova(nova_as, server_id)


# --- requests that start no task --------------------------------------------------------------------------------------


async def test_a_request_nova_refuses_creates_no_task(proxy: TestClient, server_id: str, nova: Nova) -> None:
    await nova.assert_state("active", "ACTIVE")
    status, body = await post_task(proxy, server_id, {"action": "UNPAUSE"})
    assert status == 409, body
    assert body["error"]["code"] == 409
    assert "vm_state active" in body["error"]["message"]
    resp = await proxy.get(f"/servers/{server_id}/tasks", headers=auth(MEMBER_A))
    assert resp.status == 200
    tasks = (await resp.json())["tasks"]
    assert [t["action"] for t in tasks] == ["CREATE"]  # Nova's own create, nothing from the proxy
    assert [a["action"] for a in await nova.actions()] == ["create"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "CREATE"}, "action"),
        ({"action": "NAP"}, "action"),
        ({"type_id": "m1.small"}, "action"),
        (["REBOOT"], "action"),
        ({"action": "RESIZE"}, "type_id"),
        ({"action": "RESIZE", "type_id": "m9.galactic"}, "type_id"),
        ({"action": "SNAPSHOT"}, "name"),
    ],
    ids=[
        "CREATE",
        "unknown-action",
        "no-action",
        "not-an-object",
        "RESIZE-without-type",
        "RESIZE-unknown-type",
        "SNAPSHOT-without-name",
    ],
)
async def test_invalid_tasks_are_400(proxy: TestClient, server_id: str, body: Any, field: str) -> None:
    status, answer = await post_task(proxy, server_id, body)
    assert status == 400, answer
    assert answer["error"]["code"] == 400
    assert answer["error"]["field"] == field, answer


async def test_bad_bodies_and_strangers(proxy: TestClient, server_id: str, nova: Nova) -> None:
    path = f"/servers/{server_id}/tasks"
    resp = await proxy.post(path, data=b"{not json", headers={**auth(MEMBER_A), "Content-Type": "application/json"})
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == 400
    resp = await proxy.post(path, data=b"REBOOT", headers={**auth(MEMBER_A), "Content-Type": "text/plain"})
    assert resp.status == 415
    assert (await resp.json())["error"]["code"] == 415
    # Another project's server does not exist for the caller.
    status, answer = await post_task(proxy, server_id, {"action": "REBOOT"}, user=MEMBER_B)
    assert status == 404, answer
    assert answer["error"]["code"] == 404
    resp = await proxy.get(f"/servers/{server_id}/tasks", headers=auth(MEMBER_B))
    assert resp.status == 404
    # None of it reached Nova as an action.
    assert [a["action"] for a in await nova.actions()] == ["create"]
    await nova.assert_state("active", "ACTIVE")


# --- the walk ---------------------------------------------------------------------------------------------------------


async def test_power_off_on_and_reboots(proxy: TestClient, server_id: str, nova: Nova) -> None:
    task = await completed(proxy, server_id, {"action": "POWER_OFF"})
    await nova.assert_state("stopped", "SHUTOFF")
    await nova.assert_action(task, "stop")

    task = await completed(proxy, server_id, {"action": "POWER_ON"})
    await nova.assert_state("active", "ACTIVE")
    await nova.assert_action(task, "start")

    soft = await completed(proxy, server_id, {"action": "REBOOT"})
    await nova.assert_state("active", "ACTIVE")
    hard = await completed(proxy, server_id, {"action": "HARD_REBOOT"})
    await nova.assert_state("active", "ACTIVE")
    reboots = {a["request_id"] for a in await nova.actions() if a["action"] == "reboot"}
    assert reboots == {soft["nova_request_id"], hard["nova_request_id"]}
    for task in (soft, hard):
        await nova.assert_action(task, "reboot")


async def test_pause_suspend_rescue(proxy: TestClient, server_id: str, nova: Nova) -> None:
    for action, nova_action, vm_state, status in [
        ("PAUSE", "pause", "paused", "PAUSED"),
        ("UNPAUSE", "unpause", "active", "ACTIVE"),
        ("SUSPEND", "suspend", "suspended", "SUSPENDED"),
        ("RESUME", "resume", "active", "ACTIVE"),
        ("RESCUE", "rescue", "rescued", "RESCUE"),
        ("UNRESCUE", "unrescue", "active", "ACTIVE"),
    ]:
        task = await completed(proxy, server_id, {"action": action})
        await nova.assert_state(vm_state, status)
        await nova.assert_action(task, nova_action)


async def test_lock_unlock_and_password(proxy: TestClient, server_id: str, nova: Nova) -> None:
    task = await run_task(proxy, server_id, {"action": "LOCK"}, MEMBER_A)
    assert task["state"] == "COMPLETED", task  # on the reply
    server = await nova.assert_state("active", "ACTIVE")
    assert server["locked"] is True
    await nova.assert_action(task, "lock")
    # Nova refuses a locked server's reboot at once: no task.
    status, body = await post_task(proxy, server_id, {"action": "REBOOT"})
    assert status == 409, body
    assert "locked" in body["error"]["message"]

    task = await run_task(proxy, server_id, {"action": "UNLOCK"}, MEMBER_A)
    assert task["state"] == "COMPLETED", task
    server = await nova.assert_state("active", "ACTIVE")
    assert server["locked"] is False
    await nova.assert_action(task, "unlock")

    task = await run_task(proxy, server_id, {"action": "UPDATE_PASSWORD", "password": "s3cret-Passw0rd"}, MEMBER_A)
    assert task["state"] == "COMPLETED", task  # Nova answers after the compute changed it
    await nova.assert_state("active", "ACTIVE")
    await nova.assert_action(task, "changePassword")


async def test_snapshot_and_backup(proxy: TestClient, server_id: str, nova: Nova) -> None:
    name = f"vnext-snap-{uuid.uuid4().hex[:8]}"
    task = await completed(proxy, server_id, {"action": "SNAPSHOT", "name": name})
    await nova.assert_state("active", "ACTIVE")
    await nova.assert_action(task, "createImage")
    # Nova's image proxy (gone at 2.36) still lists the fake Glance's images.
    resp = await nova.get("/images", headers={"OpenStack-API-Version": "compute 2.35"})
    assert resp.status_code == 200, resp.text
    assert name in {i["name"] for i in resp.json()["images"]}

    # rotation >= 1 only: the fake Glance's rotation ignores filters and would delete arbitrary images; a rotation
    # larger than the number of images deletes none, which keeps the shared devcloud intact.
    backup = f"vnext-backup-{uuid.uuid4().hex[:8]}"
    body = {"action": "BACKUP", "name": backup, "backup_type": "daily", "rotation": 100}
    task = await completed(proxy, server_id, body)
    await nova.assert_state("active", "ACTIVE")
    await nova.assert_action(task, "createBackup")
    resp = await nova.get("/images", headers={"OpenStack-API-Version": "compute 2.35"})
    assert {name, backup} <= {i["name"] for i in resp.json()["images"]}
    assert IMAGE in {i["id"] for i in resp.json()["images"]}


async def test_resize(proxy: TestClient, server_id: str, nova: Nova) -> None:
    before = await nova.assert_state("active", "ACTIVE")
    assert before["flavor"]["original_name"] == "m1.tiny"
    task = await completed(proxy, server_id, {"action": "RESIZE", "type_id": "m1.small"})
    # vNext has no confirm step: the proxy confirmed, so Nova is not left in VERIFY_RESIZE.
    server = await nova.assert_state("active", "ACTIVE")
    assert server["flavor"]["original_name"] == "m1.small"
    await nova.assert_action(task, "resize")
    assert "confirmResize" in {a["action"] for a in await nova.actions()}


async def test_revert_resize(proxy: TestClient, server_id: str, nova: Nova) -> None:
    # The RESIZE of test_resize is in the module's task store. The proxy recorded the type before it by name
    # (Nova shows flavors by name since 2.47); Nova's flavorRef needs the flavor's id.
    task = await completed(proxy, server_id, {"action": "REVERT_RESIZE"})
    server = await nova.assert_state("active", "ACTIVE")
    assert server["flavor"]["original_name"] == "m1.tiny"
    await nova.assert_action(task, "resize")

    status, body = await post_task(proxy, server_id, {"action": "REVERT_RESIZE"})
    assert status == 409, body  # nothing left to revert
    assert body["error"]["code"] == 409
    await nova.assert_state("active", "ACTIVE")


async def test_cold_move(proxy: TestClient, server_id: str, nova: Nova) -> None:
    before = (await nova.assert_state("active", "ACTIVE"))["OS-EXT-SRV-ATTR:host"]
    task = await completed(proxy, server_id, {"action": "MOVE"}, user=MANAGER_A)
    server = await nova.assert_state("active", "ACTIVE")  # confirmed by the proxy
    assert server["OS-EXT-SRV-ATTR:host"] not in (None, before)
    await nova.assert_action(task, "migrate")


async def test_live_move(proxy: TestClient, server_id: str, nova: Nova) -> None:
    before = (await nova.assert_state("active", "ACTIVE"))["OS-EXT-SRV-ATTR:host"]
    task = await completed(proxy, server_id, {"action": "MOVE", "live": True}, user=MANAGER_A)
    server = await nova.assert_state("active", "ACTIVE")
    assert server["OS-EXT-SRV-ATTR:host"] not in (None, before)
    await nova.assert_action(task, "live-migration")


async def test_cold_move_by_an_admin(proxy: TestClient, server_id: str, nova: Nova) -> None:
    """An admin's token does not list project A's servers in GET /servers/detail (not without all_tenants): the
    proxy must still follow the task to its end, and confirm it, rather than judge it on the server as first seen."""
    before = (await nova.assert_state("active", "ACTIVE"))["OS-EXT-SRV-ATTR:host"]
    try:
        task = await run_task(proxy, server_id, {"action": "MOVE"}, ADMIN, timeout=30)
        assert task["state"] == "COMPLETED", task
        server = await nova.assert_state("active", "ACTIVE")
        assert server["OS-EXT-SRV-ATTR:host"] not in (None, before)
        await nova.assert_action(task, "migrate")
    finally:
        await nova.confirm_if_resized()


async def test_rebuild(proxy: TestClient, server_id: str, nova: Nova) -> None:
    task = await completed(proxy, server_id, {"action": "REBUILD", "template_id": IMAGE})
    server = await nova.assert_state("active", "ACTIVE")
    assert server["image"]["id"] == IMAGE
    await nova.assert_action(task, "rebuild")


async def test_block_device(proxy: TestClient, server_id: str, nova: Nova) -> None:
    volume = VOLUME
    status, task = await post_task(proxy, server_id, {"action": "ATTACH_BLOCK_DEVICE", "volume_id": volume})
    if status == 400:  # an earlier module of the session still holds it; the fake Cinder takes any id
        volume = str(uuid.uuid4())
        status, task = await post_task(proxy, server_id, {"action": "ATTACH_BLOCK_DEVICE", "volume_id": volume})
    assert status == 202, task
    task = await wait_task(proxy, task, MEMBER_A)
    assert task["state"] == "COMPLETED", task
    await nova.assert_action(task, "attach_volume")
    assert volume in {a["volumeId"] for a in await nova.listing("os-volume_attachments")}
    await nova.assert_state("active", "ACTIVE")

    task = await completed(proxy, server_id, {"action": "DETACH_BLOCK_DEVICE", "volume_id": volume})
    await nova.assert_action(task, "detach_volume")
    assert volume not in {a["volumeId"] for a in await nova.listing("os-volume_attachments")}
    await nova.assert_state("active", "ACTIVE")


async def test_network_interface(proxy: TestClient, server_id: str, nova: Nova) -> None:
    task = await run_task(proxy, server_id, {"action": "ATTACH_NETWORK_INTERFACE", "port_id": PORT}, MEMBER_A)
    assert task["state"] == "COMPLETED", task  # on the reply
    assert PORT in {i["port_id"] for i in await nova.listing("os-interface")}
    await nova.assert_action(task, "attach_interface")

    task = await completed(proxy, server_id, {"action": "DETACH_NETWORK_INTERFACE", "port_id": PORT})
    await nova.assert_action(task, "detach_interface")
    assert PORT not in {i["port_id"] for i in await nova.listing("os-interface")}
    await nova.assert_state("active", "ACTIVE")


async def test_shelve(proxy: TestClient, server_id: str, nova: Nova) -> None:
    task = await completed(proxy, server_id, {"action": "SHELVE"})
    await nova.assert_state("shelved", "SHELVED")  # devcloud never offloads by itself
    await nova.assert_action(task, "shelve")


async def test_shelve_offload(proxy: TestClient, server_id: str, nova: Nova) -> None:
    await nova.wait_state("shelved")
    task = await completed(proxy, server_id, {"action": "SHELVE_OFFLOAD"}, user=ADMIN)
    server = await nova.assert_state("shelved_offloaded", "SHELVED_OFFLOADED")
    assert server["OS-EXT-SRV-ATTR:host"] is None
    await nova.assert_action(task, "shelveOffload")


async def test_unshelve(proxy: TestClient, server_id: str, nova: Nova) -> None:
    await nova.wait_state("shelved_offloaded")
    task = await completed(proxy, server_id, {"action": "UNSHELVE"})
    server = await nova.assert_state("active", "ACTIVE")
    assert server["OS-EXT-SRV-ATTR:host"] is not None
    await nova.assert_action(task, "unshelve")


async def test_terminate_restore_terminate(proxy: TestClient, server_id: str, nova: Nova) -> None:
    task = await completed(proxy, server_id, {"action": "TERMINATE"})
    await nova.assert_state("soft-delete", "SOFT_DELETED")
    await nova.assert_action(task, "delete")

    task = await completed(proxy, server_id, {"action": "RESTORE"})
    await nova.assert_state("active", "ACTIVE")
    await nova.assert_action(task, "restore")

    task = await completed(proxy, server_id, {"action": "TERMINATE"})
    await nova.assert_state("soft-delete", "SOFT_DELETED")
    await nova.assert_action(task, "delete")


async def test_the_task_list_shows_every_nova_action_once(proxy: TestClient, server_id: str, nova: Nova) -> None:
    """The proxy's tasks and Nova's own actions (its create), merged: one task per Nova action; a RESIZE's or
    MOVE's confirmResize belongs to that task."""
    resp = await proxy.get(f"/servers/{server_id}/tasks?limit=1000", headers=auth(MEMBER_A))
    assert resp.status == 200
    tasks = (await resp.json())["tasks"]
    listed = [t["nova_request_id"] for t in tasks]
    assert len(listed) == len(set(listed)), listed
    actions = await nova.actions()
    assert set(listed) == {a["request_id"] for a in actions if a["action"] != "confirmResize"}
    assert tasks[-1]["action"] == "CREATE"
    assert tasks[0]["action"] == "TERMINATE"
