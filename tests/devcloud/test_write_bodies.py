"""Write bodies: a top-level key neither spec revision knows is a 400 naming
it (never ignored), the spec's own `_links` is accepted, and a key the URL
gives (`project`) must agree with the URL. Nothing reaches Nova when refused."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient
from users import auth

from vnext_proxy.devcloud.identities import PROJECT_A, PROJECT_B

IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
MV = {"OpenStack-API-Version": "compute 2.100"}
MEMBER = auth("alice")


def nova_state(nova_as) -> tuple[set[str], set[str]]:  # type: ignore[no-untyped-def]
    nova = nova_as("alice").compute
    servers = {s["id"] for s in nova.get("/servers", headers=MV).json()["servers"]}
    groups = {g["id"] for g in nova.get("/os-server-groups", headers=MV).json()["server_groups"]}
    return servers, groups


async def refused(proxy: TestClient, path: str, body: Any) -> dict[str, Any]:
    resp = await proxy.post(path, json=body, headers=MEMBER)
    assert resp.status == 400, await resp.text()
    error: dict[str, Any] = (await resp.json())["error"]
    return error


async def test_launch_bodies(proxy: TestClient, nova_as) -> None:  # type: ignore[no-untyped-def]
    before = nova_state(nova_as)
    path = f"/projects/{PROJECT_A}/servers"
    tiny = (await (await proxy.get("/server_types/m1.tiny", headers=MEMBER)).json())["id"]
    server = {"hostname": "bodies-1", "type_id": tiny, "template_id": IMAGE, "keypair_id": str(uuid.uuid4())}
    assert (await refused(proxy, path, {"servers": [server], "flavor": "x"}))["field"] == "flavor"
    assert (await refused(proxy, path, {"servers": [server], "project": PROJECT_B}))["field"] == "project"
    # The spec's project (the URL's) and _links pass the shape check: what is
    # refused next is the keypair, which shows the body was read as a launch.
    spec_form = {"project": PROJECT_A, "servers": [server], "_links": {"self": {"href": path}}}
    error = await refused(proxy, path, spec_form)
    assert "problems" in error, error
    assert [p["field"] for p in error["problems"]] == ["servers[0].keypair_id"]
    assert nova_state(nova_as) == before


async def test_server_group_bodies(proxy: TestClient, nova_as) -> None:  # type: ignore[no-untyped-def]
    before = nova_state(nova_as)
    path = f"/projects/{PROJECT_A}/server_groups"
    assert (await refused(proxy, path, {"name": "bodies", "colour": "red"}))["field"] == "colour"
    assert (await refused(proxy, path, {"name": "bodies", "project": PROJECT_B}))["field"] == "project"
    assert nova_state(nova_as) == before
    name = f"bodies-{uuid.uuid4().hex[:8]}"
    made = await proxy.post(path, json={"name": name, "project": PROJECT_A, "_links": {}}, headers=MEMBER)
    assert made.status == 201, await made.text()
    group = await made.json()
    try:
        assert group["name"] == name
        assert group["id"] in nova_state(nova_as)[1]
    finally:
        nova_as("alice").compute.delete(f"/os-server-groups/{group['id']}", headers=MV)
