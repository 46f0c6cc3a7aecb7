"""Tags, console log, consoles, diagnostics and placements against devcloud."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from aiohttp.test_utils import TestClient
from users import auth

from vnext_proxy.config import DEFAULT_ID_NAMESPACE
from vnext_proxy.mapping.ids import vnext_id

IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
MV = {"OpenStack-API-Version": "compute 2.100"}
MEMBER = auth("alice")
ADMIN = auth("admin")
OTHER = auth("bob")


@pytest.fixture(scope="module")
def server_id(boot_server, forget_servers) -> Iterator[str]:  # type: ignore[no-untyped-def]
    booted = boot_server("extras")
    try:
        yield booted
    finally:
        forget_servers([booted])


def nova_tags(nova_as, server_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    tags: list[str] = nova_as("alice").compute.get(f"/servers/{server_id}/tags", headers=MV).json()["tags"]
    return tags


async def test_server_tags(proxy: TestClient, server_id: str, nova_as) -> None:  # type: ignore[no-untyped-def]
    base = f"/servers/{server_id}/tags"
    assert await (await proxy.get(base, headers=MEMBER)).json() == []
    put = await proxy.put(base, json=["web", "linux", "web"], headers=MEMBER)
    assert put.status == 204
    assert sorted(nova_tags(nova_as, server_id)) == ["linux", "web"]
    assert sorted(await (await proxy.get(base, headers=MEMBER)).json()) == ["linux", "web"]
    assert (await proxy.put(f"{base}/blue", headers=MEMBER)).status == 204
    assert "blue" in nova_tags(nova_as, server_id)
    assert (await proxy.delete(f"{base}/web", headers=MEMBER)).status == 204
    assert sorted(nova_tags(nova_as, server_id)) == ["blue", "linux"]
    missing = await proxy.delete(f"{base}/web", headers=MEMBER)
    assert missing.status == 404
    # The tag list is checked before Nova is asked: nothing changes.
    bad = await proxy.put(base, json=["a,b"], headers=MEMBER)
    assert bad.status == 400
    assert (await bad.json())["error"]["field"] == "[0]"
    not_a_list = await proxy.put(base, json={"tags": []}, headers=MEMBER)
    assert not_a_list.status == 400
    assert sorted(nova_tags(nova_as, server_id)) == ["blue", "linux"]
    assert (await proxy.put(base, json=["x"], headers=OTHER)).status == 404
    assert (await proxy.delete(base, headers=MEMBER)).status == 204
    assert nova_tags(nova_as, server_id) == []


async def test_console_log_is_text(proxy: TestClient, server_id: str, nova_as) -> None:  # type: ignore[no-untyped-def]
    resp = await proxy.get(f"/servers/{server_id}/console_log?lines=2", headers=MEMBER)
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    body = {"os-getConsoleOutput": {"length": 2}}
    nova = nova_as("alice").compute.post(f"/servers/{server_id}/action", json=body, headers=MV)
    assert await resp.text() == nova.json()["output"]
    assert len((await resp.text()).splitlines()) == 2
    full = await proxy.get(f"/servers/{server_id}/console_log", headers=MEMBER)
    assert len((await full.text()).splitlines()) > 2


async def test_consoles(proxy: TestClient, server_id: str) -> None:
    novnc = await proxy.get(f"/servers/{server_id}/consoles/novnc", headers=MEMBER)
    assert novnc.status == 200
    assert (await novnc.json())["uri"].startswith("http")
    # devcloud offers only VNC consoles: Nova lacks the facility, 501.
    spice = await proxy.get(f"/servers/{server_id}/consoles/spice", headers=MEMBER)
    assert spice.status == 501
    unknown = await proxy.get(f"/servers/{server_id}/consoles/telnet", headers=MEMBER)
    assert unknown.status == 400
    assert (await unknown.json())["error"]["field"] == "type"
    assert (await proxy.get(f"/servers/{server_id}/consoles/novnc", headers=OTHER)).status == 404


async def test_diagnostics_follow_novas_policy(proxy: TestClient, server_id: str) -> None:
    assert (await proxy.get(f"/servers/{server_id}/diagnostics", headers=MEMBER)).status == 403
    admin = await proxy.get(f"/servers/{server_id}/diagnostics", headers=ADMIN)
    assert admin.status == 200
    assert (await admin.json())["num_cpus"] == 1


async def test_placements_are_availability_zones(proxy: TestClient, nova_as) -> None:  # type: ignore[no-untyped-def]
    zones = nova_as("alice").compute.get("/os-availability-zone", headers=MV).json()
    names = {z["zoneName"] for z in zones["availabilityZoneInfo"]}
    body = await (await proxy.get("/placements", headers=MEMBER)).json()
    assert {p["name"] for p in body["placements"]} == names
    nova = next(p for p in body["placements"] if p["name"] == "nova")
    assert nova["id"] == vnext_id(DEFAULT_ID_NAMESPACE, "availability_zone", "nova")
    assert nova["description"] == "available"
    by_id = await (await proxy.get(f"/placements/{nova['id']}", headers=MEMBER)).json()
    assert by_id == nova
    # The later example's children link, as a query that works: Nova's zones
    # have no children, so it lists none.
    children = nova["_links"]["children"]["href"]
    assert children == f"/placements?parent_placement={nova['id']}"
    listed = await proxy.get(children, headers=MEMBER)
    assert (listed.status, (await listed.json())["placements"]) == (200, [])
    assert (await proxy.get("/placements/nowhere", headers=MEMBER)).status == 404
    assert (await (await proxy.get("/placements?tag=x", headers=MEMBER)).json())["placements"] == []


async def test_patch_a_server(proxy: TestClient, server_id: str, nova_as) -> None:  # type: ignore[no-untyped-def]
    change = {"hostname": "patched-1", "properties": {"role": "db", "tier": "2"}, "tags": ["pg"]}
    resp = await proxy.patch(f"/servers/{server_id}", json=change, headers=MEMBER)
    assert (resp.status, await resp.read()) == (204, b""), await resp.text()  # the later revision's answer
    server = await (await proxy.get(f"/servers/{server_id}", headers=MEMBER)).json()
    assert (server["hostname"], server["properties"], server["tags"]) == ("patched-1", change["properties"], ["pg"])
    nova = nova_as("alice").compute.get(f"/servers/{server_id}", headers=MV).json()["server"]
    assert nova["name"] == nova["OS-EXT-SRV-ATTR:hostname"] == "patched-1"
    assert nova["metadata"] == change["properties"]
    assert nova["tags"] == ["pg"]
    # Only what is sent changes; an empty list clears. The later revision's
    # body names the server's own id, and may carry _links.
    same = {"id": server_id, "tags": [], "_links": {"self": {"href": f"/servers/{server_id}"}}}
    assert (await proxy.patch(f"/servers/{server_id}", json=same, headers=MEMBER)).status == 204
    only_tags = await (await proxy.get(f"/servers/{server_id}", headers=MEMBER)).json()
    assert (only_tags["hostname"], only_tags["tags"], only_tags["properties"]) == (
        "patched-1",
        [],
        change["properties"],
    )
    # A transfer to another project: Nova has no such operation. Nothing of
    # the request is applied, not even its hostname.
    moved = await proxy.patch(
        f"/servers/{server_id}", json={"project_id": "a7728150a34f11e3a5e20800200c9a66", "hostname": "moved"},
        headers=MEMBER,
    )  # fmt: skip
    assert moved.status == 501
    error = (await moved.json())["error"]
    assert error["field"] == "project_id"
    assert "snapshot" in error["message"]
    wrong_id = await proxy.patch(
        f"/servers/{server_id}", json={"id": str(uuid.uuid4()), "hostname": "x"}, headers=MEMBER
    )
    assert (wrong_id.status, (await wrong_id.json())["error"]["field"]) == (400, "id")
    for bad, field in (({"hostname": "no_underscore"}, "hostname"), ({"flavor": "x"}, "flavor"), ({}, "body"),
                       ({"id": server_id}, "body"),
                       ({"properties": {"k": 1}}, "properties.k")):  # fmt: skip
        refused = await proxy.patch(f"/servers/{server_id}", json=bad, headers=MEMBER)
        assert refused.status == 400, bad
        assert (await refused.json())["error"]["field"] == field
    assert nova_as("alice").compute.get(f"/servers/{server_id}", headers=MV).json()["server"]["name"] == ("patched-1")
    assert (await proxy.patch(f"/servers/{server_id}", json={"tags": []}, headers=OTHER)).status == 404
