"""Server type writes against devcloud: flavors, tags in extra specs, shares as
flavor access (the later `shares` or the seed's `share`), and PATCH of name,
spec and visibility, which makes the flavor again under the same id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from users import auth, identity

from vnext_proxy.config import DEFAULT_ID_NAMESPACE
from vnext_proxy.devcloud.identities import PROJECT_A, PROJECT_B
from vnext_proxy.mapping.ids import keypair_id

MV = {"OpenStack-API-Version": "compute 2.100"}
ADMIN = auth("admin")
MEMBER_A = auth("alice")
MEMBER_B = auth("bob")
IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmqrTPzc3bR1D1hvPhTVRWLexGkg1Ez/3y4fW6xK4Mm types-test"


def new_type(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "spec": {"memory_mb": 1024, "root_disk_gb": 8, "cpu_units": 2, "swap_mb": 512}, **extra}


def nova_flavors(nova_as) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    body = nova_as("admin").compute.get("/flavors/detail?is_public=None", headers=MV).json()
    return {f["name"]: f for f in body["flavors"]}


def nova_flavor(nova_as, flavor_id: str) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """The flavor as Nova has it, whole: its view (extra specs included) and access list."""
    nova = nova_as("admin").compute
    resp = nova.get(f"/flavors/{flavor_id}", headers=MV)
    if resp.status_code == 404:
        return None
    flavor: dict[str, Any] = resp.json()["flavor"]
    flavor.pop("links")
    if not flavor["os-flavor-access:is_public"]:
        access = nova.get(f"/flavors/{flavor_id}/os-flavor-access", headers=MV).json()["flavor_access"]
        flavor["access"] = sorted(a["tenant_id"] for a in access)
    return flavor


async def create(proxy: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    resp = await proxy.post("/server_types", json=body, headers=ADMIN)
    assert resp.status == 201, await resp.text()
    created: dict[str, Any] = await resp.json()
    return created


async def sees(proxy: TestClient, type_id: str, token: dict[str, str]) -> bool:
    """Whether the caller sees the type, by id and in its list."""
    by_id = (await proxy.get(f"/server_types/{type_id}", headers=token)).status
    listed = (await (await proxy.get("/server_types?limit=1000", headers=token)).json())["server_types"]
    assert (by_id == 200) == (type_id in {t["id"] for t in listed})
    return by_id == 200


@pytest.fixture
async def cleanup(proxy: TestClient, nova_as) -> AsyncIterator[list[str]]:  # type: ignore[no-untyped-def]
    """Flavors a test made: deleted afterwards, whatever happened."""
    made: list[str] = []
    yield made
    for flavor_id in made:
        nova_as("admin").compute.delete(f"/flavors/{flavor_id}", headers=MV)


@pytest.fixture(scope="module")
def keypair(nova_as) -> Iterator[str]:  # type: ignore[no-untyped-def]
    nova = nova_as("alice")
    resp = nova.compute.post(
        "/os-keypairs", json={"keypair": {"name": "types-key", "public_key": PUBLIC_KEY}}, headers=MV
    )
    assert resp.status_code == 201, resp.text
    try:
        yield keypair_id(DEFAULT_ID_NAMESPACE, identity("alice").user_id, "types-key")
    finally:
        nova.compute.delete("/os-keypairs/types-key", headers=MV)


async def launch(proxy: TestClient, type_id: str, key: str, hostname: str) -> str:
    """One server in project A through the proxy; its id once its CREATE task completed."""
    body = {
        "defaults": {"keypair_id": key, "type_id": type_id, "template_id": IMAGE},
        "servers": [{"hostname": hostname}],
    }
    resp = await proxy.post(f"/projects/{PROJECT_A}/servers", json=body, headers=MEMBER_A)
    assert resp.status == 202, await resp.text()
    (launched,) = await resp.json()
    for _ in range(120):
        task = await (await proxy.get(launched["_links"]["rel/server_task"]["href"], headers=MEMBER_A)).json()
        if task["state"] != "RUNNING":
            break
        await asyncio.sleep(0.5)
    assert task["state"] == "COMPLETED", task
    server_id: str = launched["id"]
    return server_id


async def test_create_share_change_and_delete(proxy: TestClient, nova_as) -> None:  # type: ignore[no-untyped-def]
    body = new_type("vt.shared", description="for B", tags=["gpu"], visibility="PRIVATE",
                    shares={"projects": [PROJECT_B]})  # fmt: skip
    resp = await proxy.post("/server_types", json=body, headers=ADMIN)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    type_id = created["id"]
    assert resp.headers["Location"] == f"/server_types/{type_id}"
    try:
        # The later revision's example: the type, its tags and shares collections, its schema.
        assert created["_links"] == {
            "self": {"href": f"/server_types/{type_id}"},
            "describedby": {"href": "/schemas/server_type"},
            "tags": {"href": f"/server_types/{type_id}/tags"},
            "shares": {"href": f"/server_types/{type_id}/shares"},
        }
        assert (await (await proxy.get(f"/server_types/{type_id}", headers=ADMIN)).json())["_links"] == created[
            "_links"
        ]
        flavor = nova_flavors(nova_as)["vt.shared"]
        assert (flavor["ram"], flavor["vcpus"], flavor["disk"], flavor["swap"]) == (1024, 2, 8, 512)
        assert flavor["os-flavor-access:is_public"] is False
        assert flavor["extra_specs"] == {"vnext:tags": "gpu"}
        assert created["tags"] == ["gpu"]
        assert created["shares"] == {"users": [], "projects": [PROJECT_B]}
        # Shared with B: B sees it, A does not.
        assert await sees(proxy, type_id, MEMBER_B)
        assert not await sees(proxy, type_id, MEMBER_A)

        change = {"description": "for nobody", "tags": ["gpu", "hpc"], "shares": {"projects": []}}
        patched = await proxy.patch(f"/server_types/{type_id}", json=change, headers=ADMIN)
        assert patched.status == 204, await patched.text()
        assert await patched.read() == b""
        flavor = nova_flavors(nova_as)["vt.shared"]
        assert flavor["description"] == "for nobody"
        assert flavor["extra_specs"]["vnext:tags"] == "gpu,hpc"
        assert flavor["id"] == type_id
        assert not await sees(proxy, type_id, MEMBER_B)

        tags_url = f"/server_types/{type_id}/tags"
        assert (await proxy.put(f"{tags_url}/fast", headers=ADMIN)).status == 204
        assert await (await proxy.get(tags_url, headers=ADMIN)).json() == ["gpu", "hpc", "fast"]
        assert (await proxy.delete(f"{tags_url}/gpu", headers=ADMIN)).status == 204
        assert (await proxy.delete(f"{tags_url}/gpu", headers=ADMIN)).status == 404
        assert (await proxy.put(tags_url, json=["x"], headers=ADMIN)).status == 204
        assert nova_flavors(nova_as)["vt.shared"]["extra_specs"]["vnext:tags"] == "x"
        assert (await proxy.delete(tags_url, headers=ADMIN)).status == 204
        assert "vnext:tags" not in nova_flavors(nova_as)["vt.shared"]["extra_specs"]

        shares_url = f"/server_types/{type_id}/shares"
        assert (await proxy.put(f"{shares_url}/projects/{PROJECT_B}", headers=ADMIN)).status == 204
        assert (await (await proxy.get(shares_url, headers=ADMIN)).json())["projects"] == [PROJECT_B]
        assert (await proxy.delete(f"{shares_url}/projects/{PROJECT_B}", headers=ADMIN)).status == 204
        user = await proxy.put(f"{shares_url}/users/someone", headers=ADMIN)
        assert user.status == 501
        assert "projects only" in (await user.json())["error"]["message"]
    finally:
        deleted = await proxy.delete(f"/server_types/{type_id}", headers=ADMIN)
    assert deleted.status == 204
    assert "vt.shared" not in nova_flavors(nova_as)


async def test_the_seeds_share_is_flavor_access(proxy: TestClient, nova_as, cleanup: list[str]) -> None:  # type: ignore[no-untyped-def]
    created = await create(proxy, new_type("vt.seed", share={"user_id": [], "project_id": [PROJECT_B]}))
    cleanup.append(created["id"])
    assert created["shares"] == {"users": [], "projects": [PROJECT_B]}
    assert nova_flavor(nova_as, created["id"])["access"] == [PROJECT_B]  # type: ignore[index]
    assert await sees(proxy, created["id"], MEMBER_B)
    assert not await sees(proxy, created["id"], MEMBER_A)
    # Both forms, agreeing, are one request.
    both = new_type("vt.both", share={"project_id": [PROJECT_A]}, shares={"users": [], "projects": [PROJECT_A]})
    created = await create(proxy, both)
    cleanup.append(created["id"])
    assert nova_flavor(nova_as, created["id"])["access"] == [PROJECT_A]  # type: ignore[index]


async def test_refused_creates_leave_nothing(proxy: TestClient, nova_as) -> None:  # type: ignore[no-untyped-def]
    before = set(nova_flavors(nova_as))
    member = await proxy.post("/server_types", json=new_type("vt.member"), headers=MEMBER_A)
    assert member.status == 403  # Nova's policy: admins make flavors
    public = await proxy.post("/server_types", json=new_type("vt.member", visibility="PUBLIC"), headers=MEMBER_A)
    assert public.status == 403
    missing = await proxy.post("/server_types", json={"name": "vt.bad", "spec": {"memory_mb": 1}}, headers=ADMIN)
    assert missing.status == 400
    assert (await missing.json())["error"]["field"] == "spec.root_disk_gb"
    refused = {
        "shares.users": (new_type("vt.user", shares={"users": ["u"]}), 501),
        "share.user_id": (new_type("vt.user", share={"user_id": ["u"], "project_id": [PROJECT_B]}), 501),
        "share": (new_type("vt.user", share={"project_id": [PROJECT_A]}, shares={"projects": [PROJECT_B]}), 400),
        "flavor_id": (new_type("vt.unknown", flavor_id="x"), 400),
        "spec.ephemeral_gb": (new_type("vt.unknown", spec={**new_type("x")["spec"], "ephemeral_gb": 1}), 400),
    }
    for field, (body, status) in refused.items():
        resp = await proxy.post("/server_types", json=body, headers=ADMIN)
        assert resp.status == status, (field, await resp.text())
        error = (await resp.json())["error"]
        assert error["field"] == field
        assert field in error["message"]
    # A view sent back (its _links) is taken; the spec's objects have them.
    sent_back = await proxy.post("/server_types", json=new_type("vt.linked", _links={"self": {"href": "/x"}}),
                                 headers=ADMIN)  # fmt: skip
    assert sent_back.status == 201
    assert (await proxy.delete(f"/server_types/{(await sent_back.json())['id']}", headers=ADMIN)).status == 204
    # Nova refuses the share (no such project) after the flavor is made: it is undone.
    unknown = await proxy.post(
        "/server_types", json=new_type("vt.unknown", shares={"projects": ["00000000000040008000000000000000"]}),
        headers=ADMIN,
    )  # fmt: skip
    assert unknown.status == 400
    assert set(nova_flavors(nova_as)) == before


async def test_a_spec_patch_keeps_servers_as_launched_and_the_type_as_shared(  # type: ignore[no-untyped-def]
    proxy: TestClient, nova_as, forget_servers, keypair: str, cleanup: list[str]
) -> None:
    body = new_type("vt.resized", description="grows", tags=["gpu"], shares={"projects": [PROJECT_A]})
    created = await create(proxy, body)
    type_id = created["id"]
    cleanup.append(type_id)
    servers: list[str] = []
    try:
        servers.append(await launch(proxy, type_id, keypair, "types-old"))
        change = {"name": "vt.resized2", "spec": {"memory_mb": 2048, "root_disk_gb": 8, "cpu_units": 2}}
        patched = await proxy.patch(f"/server_types/{type_id}", json=change, headers=ADMIN)
        assert patched.status == 204, await patched.text()
        assert await patched.read() == b""

        # The same flavor id, the new fields, and everything else as it was.
        flavor = nova_flavor(nova_as, type_id)
        assert flavor is not None
        assert (flavor["name"], flavor["ram"], flavor["vcpus"], flavor["disk"], flavor["swap"]) == (
            "vt.resized2", 2048, 2, 8, 512,
        )  # fmt: skip
        assert flavor["description"] == "grows"
        assert flavor["extra_specs"] == {"vnext:tags": "gpu"}
        assert flavor["access"] == [PROJECT_A]
        view = await (await proxy.get(f"/server_types/{type_id}", headers=MEMBER_A)).json()
        assert (view["name"], view["spec"]["memory_mb"], view["tags"]) == ("vt.resized2", 2048, ["gpu"])
        assert await sees(proxy, type_id, MEMBER_A)
        assert not await sees(proxy, type_id, MEMBER_B)

        # The server launched before keeps the spec it was launched with.
        old = (await (await proxy.get(f"/servers/{servers[0]}", headers=MEMBER_A)).json())["spec"]
        assert old["memory_mb"] == 1024
        in_nova = nova_as("alice").compute.get(f"/servers/{servers[0]}", headers=MV).json()["server"]
        assert (in_nova["flavor"]["ram"], in_nova["flavor"]["original_name"]) == (1024, "vt.resized")
        # A new launch gets the new spec.
        servers.append(await launch(proxy, type_id, keypair, "types-new"))
        new = (await (await proxy.get(f"/servers/{servers[1]}", headers=MEMBER_A)).json())["spec"]
        assert new["memory_mb"] == 2048
        in_nova = nova_as("alice").compute.get(f"/servers/{servers[1]}", headers=MV).json()["server"]
        assert (in_nova["flavor"]["ram"], in_nova["flavor"]["original_name"]) == (2048, "vt.resized2")
    finally:
        forget_servers(servers)


async def test_visibility_private_to_public_and_back(proxy: TestClient, nova_as, cleanup: list[str]) -> None:  # type: ignore[no-untyped-def]
    created = await create(proxy, new_type("vt.visible", tags=["t"], shares={"projects": [PROJECT_B]}))
    type_id = created["id"]
    cleanup.append(type_id)
    url = f"/server_types/{type_id}"

    # A public type cannot be shared: refused before anything changes.
    both = await proxy.patch(url, json={"visibility": "PUBLIC", "shares": {"projects": [PROJECT_B]}}, headers=ADMIN)
    assert both.status == 400
    assert (await both.json())["error"]["field"] == "shares"
    assert nova_flavor(nova_as, type_id)["access"] == [PROJECT_B]  # type: ignore[index]

    assert (await proxy.patch(url, json={"visibility": "PUBLIC"}, headers=ADMIN)).status == 204
    flavor = nova_flavor(nova_as, type_id)
    assert flavor is not None
    assert flavor["os-flavor-access:is_public"] is True
    assert flavor["extra_specs"] == {"vnext:tags": "t"}
    assert await sees(proxy, type_id, MEMBER_A)
    assert await sees(proxy, type_id, MEMBER_B)
    assert (await (await proxy.get(f"{url}/shares", headers=ADMIN)).json()) == {"users": [], "projects": []}

    back = {"visibility": "PRIVATE", "share": {"user_id": [], "project_id": [PROJECT_A]}}
    assert (await proxy.patch(url, json=back, headers=ADMIN)).status == 204
    flavor = nova_flavor(nova_as, type_id)
    assert flavor is not None
    assert (flavor["os-flavor-access:is_public"], flavor["access"]) == (False, [PROJECT_A])
    assert flavor["extra_specs"] == {"vnext:tags": "t"}
    assert await sees(proxy, type_id, MEMBER_A)
    assert not await sees(proxy, type_id, MEMBER_B)


async def test_a_members_patch_is_refused_and_changes_nothing(proxy: TestClient, nova_as, cleanup: list[str]) -> None:  # type: ignore[no-untyped-def]
    public = await create(proxy, new_type("vt.public", visibility="PUBLIC", tags=["p"]))
    shared = await create(proxy, new_type("vt.sharedwith.a", tags=["s"], shares={"projects": [PROJECT_A]}))
    cleanup.extend([public["id"], shared["id"]])
    before = {t["id"]: nova_flavor(nova_as, t["id"]) for t in (public, shared)}
    attempts = [
        (public["id"], {"visibility": "PRIVATE"}),
        (public["id"], {"spec": {"memory_mb": 4096, "root_disk_gb": 8, "cpu_units": 2}}),
        (public["id"], {"description": "mine now"}),
        # The later spec's note: a regular user making a type public gets 403.
        (shared["id"], {"visibility": "PUBLIC"}),
        (shared["id"], {"name": "vt.renamed"}),
    ]
    for type_id, change in attempts:
        resp = await proxy.patch(f"/server_types/{type_id}", json=change, headers=MEMBER_A)
        assert resp.status == 403, (change, await resp.text())
    # Unchanged; had the proxy deleted one, a member could not have made it again.
    assert {type_id: nova_flavor(nova_as, type_id) for type_id in before} == before


async def test_a_failed_re_create_restores_the_old_flavor(proxy: TestClient, nova_as, cleanup: list[str]) -> None:  # type: ignore[no-untyped-def]
    created = await create(proxy, new_type("vt.restored", description="as it was", tags=["keep"],
                                           shares={"projects": [PROJECT_B]}))  # fmt: skip
    type_id = created["id"]
    cleanup.append(type_id)
    # An extra spec the proxy does not know of is put back too.
    specs = {"extra_specs": {"hw:numa_nodes": "1"}}
    assert nova_as("admin").compute.post(f"/flavors/{type_id}/os-extra_specs", json=specs, headers=MV).ok
    before = nova_flavor(nova_as, type_id)
    assert before is not None
    assert before["extra_specs"] == {"vnext:tags": "keep", "hw:numa_nodes": "1"}

    # Flavor names are unique in Nova: the re-create, after the delete, is refused.
    change = {"name": "m1.tiny", "spec": {"memory_mb": 2048, "root_disk_gb": 8, "cpu_units": 2}}
    resp = await proxy.patch(f"/server_types/{type_id}", json=change, headers=ADMIN)
    assert resp.status == 409, await resp.text()
    assert "m1.tiny already exists" in (await resp.json())["error"]["message"]

    assert nova_flavor(nova_as, type_id) == before
    view = await (await proxy.get(f"/server_types/{type_id}", headers=MEMBER_B)).json()
    assert (view["id"], view["name"], view["spec"]["memory_mb"], view["tags"]) == (
        type_id,
        "vt.restored",
        1024,
        ["keep"],
    )
    assert not await sees(proxy, type_id, MEMBER_A)
    assert nova_flavors(nova_as)["m1.tiny"]["id"] == "1"
