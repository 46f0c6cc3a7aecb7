"""A member of project B can neither read, list, act on, nor discover anything
of project A: every answer is 404 (as the spec says), and no body leaks A."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest
from aiohttp.test_utils import TestClient
from users import auth

from vnext_proxy.config import Settings
from vnext_proxy.devcloud.identities import PROJECT_A
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.app import create_app

IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
A = auth("alice")
B = auth("bob", {"X-VNext-Explain": "1"})


@pytest.fixture(scope="module")
def server_a(nova_as, forget_servers) -> Iterator[dict[str, str]]:  # type: ignore[no-untyped-def]
    nova = nova_as("alice")
    server = nova.compute.create_server(name="isolated-a", image_id=IMAGE, flavor_id="1", networks="none")
    try:
        server = nova.compute.wait_for_server(server, interval=0.5, wait=120)
        yield {"id": server.id, "hostname": "isolated-a"}
    finally:
        forget_servers([server.id])


async def test_project_b_sees_nothing_of_project_a(
    aiohttp_client, nova_as, proxy_settings: Settings, mappings: MappingSet, server_a: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    proxy: TestClient = await aiohttp_client(create_app(dataclasses.replace(proxy_settings, explain=True), mappings))
    sid = server_a["id"]
    task = await (await proxy.post(f"/servers/{sid}/tasks", json={"action": "LOCK"}, headers=A)).json()
    await proxy.post(f"/servers/{sid}/tasks", json={"action": "UNLOCK"}, headers=A)
    group_resp = await proxy.post(f"/projects/{PROJECT_A}/server_groups", json={"name": "Isolated"}, headers=A)
    group = await group_resp.json()
    try:
        reads = [
            ("GET", f"/servers/{sid}"), ("HEAD", f"/servers/{sid}"), ("GET", f"/projects/{PROJECT_A}"),
            ("GET", f"/projects/{PROJECT_A}/servers"), ("GET", f"/projects/{PROJECT_A}/servers/{server_a['hostname']}"),
            ("GET", f"/servers/{sid}/tasks"), ("GET", f"/server_tasks/{task['id']}"),
            ("GET", f"/server_tasks/{task['id']}/items"), ("GET", f"/servers_tasks/{task['id']}/items"),
            ("GET", f"/server_groups/{group['id']}"), ("GET", f"/projects/{PROJECT_A}/server_groups"),
            ("GET", f"/projects/{PROJECT_A}/server_groups/isolated"), ("GET", f"/servers/{sid}/tags"),
            ("GET", f"/servers/{sid}/console_log"), ("GET", f"/servers/{sid}/consoles/novnc"),
        ]  # fmt: skip
        writes = [
            ("POST", f"/servers/{sid}/tasks", {"action": "POWER_OFF"}), ("PATCH", f"/servers/{sid}", {"tags": []}),
            ("PUT", f"/servers/{sid}/tags", ["b"]), ("PUT", f"/servers/{sid}/tags/b", None),
            ("POST", f"/projects/{PROJECT_A}/server_groups", {"name": "Intruders"}),
            ("POST", f"/projects/{PROJECT_A}/servers", {"servers": [{}]}),
        ]  # fmt: skip
        for method, path in reads:
            resp = await proxy.request(method, path, headers=B)
            assert resp.status == 404, (method, path, resp.status)
            text = await resp.text()
            # No explain record of A's Nova calls, and nothing of A's, in any answer.
            assert "_explain" not in text, (method, path)
            assert "isolated-a" not in text, (method, path)
        for method, path, body in writes:
            resp = await proxy.request(method, path, json=body, headers=B)
            assert resp.status == 404, (method, path, resp.status)
        listed = await (await proxy.get("/servers?limit=200", headers=B)).json()
        assert sid not in {s["id"] for s in listed["servers"]}
        filtered = await proxy.get(f"/servers?project={PROJECT_A}", headers=B)
        assert filtered.status == 400
        assert "isolated-a" not in await filtered.text()
        # Nothing B asked for changed A's server.
        await asyncio.sleep(1)
        mine = await (await proxy.get(f"/servers/{sid}", headers=A)).json()
        assert (mine["virt_state"], mine["tags"]) == ("ACTIVE", [])
    finally:
        nova_as("alice").compute.delete(
            f"/os-server-groups/{group['id']}", headers={"OpenStack-API-Version": "compute 2.100"}
        )
