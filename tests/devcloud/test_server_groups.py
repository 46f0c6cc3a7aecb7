"""Server groups against devcloud: Nova server groups plus the proxy's record,
and servers launched into them with the group's defaults."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from users import auth, identity

from vnext_proxy.config import DEFAULT_ID_NAMESPACE
from vnext_proxy.devcloud.identities import PROJECT_A, PROJECT_B
from vnext_proxy.mapping.ids import keypair_id

IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
MV = {"OpenStack-API-Version": "compute 2.100"}
MEMBER = auth("alice")
OTHER = auth("bob")
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmqrTPzc3bR1D1hvPhTVRWLexGkg1Ez/3y4fW6xK4Mm group-test"


async def server_type_id(proxy: TestClient, name: str) -> str:
    found: str = (await (await proxy.get(f"/server_types/{name}", headers=MEMBER)).json())["id"]
    return found


async def test_groups_and_launching_into_one(proxy: TestClient, nova_as, forget_servers) -> None:  # type: ignore[no-untyped-def]
    nova = nova_as("alice")
    small = await server_type_id(proxy, "m1.small")
    body: dict[str, Any] = {
        "name": "Web App servers",
        "description": "the web tier",
        "defaults": {"template_id": IMAGE, "type_id": small, "hostname_pattern": "web-%(rand_num)3d"},
        "tags": ["web"],
    }
    resp = await proxy.post(f"/projects/{PROJECT_A}/server_groups", json=body, headers=MEMBER)
    assert resp.status == 201, await resp.text()
    group = await resp.json()
    server_ids: list[str] = []
    try:
        assert group["slug"] == "web-app-servers"
        assert group["project_id"] == PROJECT_A
        assert group["created_by"] == identity("alice").user_id
        nova_group = nova.compute.get(f"/os-server-groups/{group['id']}", headers=MV).json()["server_group"]
        assert nova_group["name"] == "Web App servers"
        assert nova_group["members"] == []

        by_id = await (await proxy.get(f"/server_groups/{group['id']}", headers=MEMBER)).json()
        by_slug = await (await proxy.get(f"/projects/{PROJECT_A}/server_groups/web-app-servers", headers=MEMBER)).json()
        assert by_id == by_slug == group
        listed = await (await proxy.get(f"/projects/{PROJECT_A}/server_groups?tag=web", headers=MEMBER)).json()
        assert [g["id"] for g in listed["server_groups"]] == [group["id"]]
        none = await (await proxy.get(f"/projects/{PROJECT_A}/server_groups?tag=db", headers=MEMBER)).json()
        assert none["server_groups"] == []
        again = await proxy.post(f"/projects/{PROJECT_A}/server_groups", json=body, headers=MEMBER)
        assert again.status == 400
        assert (await again.json())["error"]["field"] == "name"
        # Another project sees nothing of it.
        assert (await proxy.get(f"/server_groups/{group['id']}", headers=OTHER)).status == 404
        assert (await proxy.get(f"/projects/{PROJECT_A}/server_groups", headers=OTHER)).status == 404
        assert (await proxy.post(f"/projects/{PROJECT_B}/server_groups", json=body, headers=MEMBER)).status == 404

        # Launch into the group: its defaults (type, template, hostname pattern) apply.
        key = nova.compute.post(
            "/os-keypairs", json={"keypair": {"name": "group-key", "public_key": PUBLIC_KEY}}, headers=MV
        )
        assert key.status_code == 201
        kp = keypair_id(DEFAULT_ID_NAMESPACE, identity("alice").user_id, "group-key")
        launch = {"defaults": {"keypair_id": kp, "group_id": group["id"]}, "servers": [{}]}
        launched = await proxy.post(f"/projects/{PROJECT_A}/servers", json=launch, headers=MEMBER)
        assert launched.status == 202, await launched.text()
        server_ids = [s["id"] for s in await launched.json()]
        for _ in range(120):
            server = nova.compute.get(f"/servers/{server_ids[0]}", headers=MV).json()["server"]
            if server["status"] != "BUILD":
                break
            await asyncio.sleep(0.5)
        assert server["status"] == "ACTIVE"
        assert server["flavor"]["original_name"] == "m1.small"
        assert server["OS-EXT-SRV-ATTR:hostname"].startswith("web-")
        assert server["server_groups"] == [group["id"]]
        view = await (await proxy.get(f"/servers/{server_ids[0]}", headers=MEMBER)).json()
        assert view["group_id"] == group["id"]
        members = nova.compute.get(f"/os-server-groups/{group['id']}", headers=MV).json()["server_group"]["members"]
        assert members == server_ids

        unknown = {"defaults": {"keypair_id": kp, "group_id": "00000000-0000-4000-8000-000000000009"}, "servers": [{}]}
        refused = await proxy.post(f"/projects/{PROJECT_A}/servers", json=unknown, headers=MEMBER)
        assert refused.status == 400
        assert "servers[0].group_id" in {p["field"] for p in (await refused.json())["error"]["problems"]}
    finally:
        forget_servers(server_ids)
        nova.compute.delete("/os-keypairs/group-key", headers=MV)
        nova.compute.delete(f"/os-server-groups/{group['id']}", headers=MV)
