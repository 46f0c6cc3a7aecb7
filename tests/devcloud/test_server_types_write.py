"""Server type writes against devcloud: flavors, tags in extra specs, shares as flavor access."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from vnext_proxy.devcloud.identities import PROJECT_B

MV = {"OpenStack-API-Version": "compute 2.100"}
ADMIN = {"X-Auth-Token": "devcloud-admin"}
MEMBER_A = {"X-Auth-Token": "devcloud-member-a"}
MEMBER_B = {"X-Auth-Token": "devcloud-member-b"}


def new_type(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "spec": {"memory_mb": 1024, "root_disk_gb": 8, "cpu_units": 2, "swap_mb": 512}, **extra}


def nova_flavors(nova_as) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    body = nova_as("devcloud-admin").compute.get("/flavors/detail?is_public=None", headers=MV).json()
    return {f["name"]: f for f in body["flavors"]}


async def test_create_share_change_and_delete(proxy: TestClient, nova_as) -> None:  # type: ignore[no-untyped-def]
    body = new_type("vt.shared", description="for B", tags=["gpu"], visibility="PRIVATE",
                    shares={"projects": [PROJECT_B]})  # fmt: skip
    resp = await proxy.post("/server_types", json=body, headers=ADMIN)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert resp.headers["Location"] == f"/server_types/{created['id']}"
    try:
        flavor = nova_flavors(nova_as)["vt.shared"]
        assert (flavor["ram"], flavor["vcpus"], flavor["disk"], flavor["swap"]) == (1024, 2, 8, 512)
        assert flavor["os-flavor-access:is_public"] is False
        assert flavor["extra_specs"] == {"vnext:tags": "gpu"}
        assert created["tags"] == ["gpu"]
        assert created["shares"] == {"users": [], "projects": [PROJECT_B]}
        # Shared with B: B sees it, A does not.
        assert (await proxy.get(f"/server_types/{created['id']}", headers=MEMBER_B)).status == 200
        assert (await proxy.get(f"/server_types/{created['id']}", headers=MEMBER_A)).status == 404

        immutable = await proxy.patch(f"/server_types/{created['id']}", json={"spec": {"memory_mb": 1}}, headers=ADMIN)
        assert immutable.status == 400
        assert (await immutable.json())["error"]["field"] == "spec"
        change = {"description": "for nobody", "tags": ["gpu", "hpc"], "shares": {"projects": []}}
        patched = await proxy.patch(f"/server_types/{created['id']}", json=change, headers=ADMIN)
        assert patched.status == 200, await patched.text()
        flavor = nova_flavors(nova_as)["vt.shared"]
        assert flavor["description"] == "for nobody"
        assert flavor["extra_specs"]["vnext:tags"] == "gpu,hpc"
        assert (await proxy.get(f"/server_types/{created['id']}", headers=MEMBER_B)).status == 404

        tags_url = f"/server_types/{created['id']}/tags"
        assert (await proxy.put(f"{tags_url}/fast", headers=ADMIN)).status == 204
        assert await (await proxy.get(tags_url, headers=ADMIN)).json() == ["gpu", "hpc", "fast"]
        assert (await proxy.delete(f"{tags_url}/gpu", headers=ADMIN)).status == 204
        assert (await proxy.delete(f"{tags_url}/gpu", headers=ADMIN)).status == 404
        assert (await proxy.put(tags_url, json=["x"], headers=ADMIN)).status == 204
        assert nova_flavors(nova_as)["vt.shared"]["extra_specs"]["vnext:tags"] == "x"
        assert (await proxy.delete(tags_url, headers=ADMIN)).status == 204
        assert "vnext:tags" not in nova_flavors(nova_as)["vt.shared"]["extra_specs"]

        shares_url = f"/server_types/{created['id']}/shares"
        assert (await proxy.put(f"{shares_url}/projects/{PROJECT_B}", headers=ADMIN)).status == 204
        assert (await (await proxy.get(shares_url, headers=ADMIN)).json())["projects"] == [PROJECT_B]
        assert (await proxy.delete(f"{shares_url}/projects/{PROJECT_B}", headers=ADMIN)).status == 204
        user = await proxy.put(f"{shares_url}/users/someone", headers=ADMIN)
        assert user.status == 501
        assert "projects only" in (await user.json())["error"]["message"]
    finally:
        deleted = await proxy.delete(f"/server_types/{created['id']}", headers=ADMIN)
    assert deleted.status == 204
    assert "vt.shared" not in nova_flavors(nova_as)


async def test_refused_creates_leave_nothing(proxy: TestClient, nova_as) -> None:  # type: ignore[no-untyped-def]
    before = set(nova_flavors(nova_as))
    member = await proxy.post("/server_types", json=new_type("vt.member"), headers=MEMBER_A)
    assert member.status == 403  # Nova's policy: admins make flavors
    missing = await proxy.post("/server_types", json={"name": "vt.bad", "spec": {"memory_mb": 1}}, headers=ADMIN)
    assert missing.status == 400
    assert (await missing.json())["error"]["field"] == "spec.root_disk_gb"
    users = await proxy.post("/server_types", json=new_type("vt.user", shares={"users": ["u"]}), headers=ADMIN)
    assert users.status == 501
    # Nova refuses the share (no such project) after the flavor is made: it is undone.
    unknown = await proxy.post(
        "/server_types", json=new_type("vt.unknown", shares={"projects": ["00000000000040008000000000000000"]}),
        headers=ADMIN,
    )  # fmt: skip
    assert unknown.status == 400
    assert set(nova_flavors(nova_as)) == before
