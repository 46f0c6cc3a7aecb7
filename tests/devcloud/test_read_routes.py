"""Every read route of the proxy, against devcloud: the vNext answer, checked
against what Nova itself holds for the same caller.

One small fleet is launched for the whole module (three servers in project A,
one in project B) and removed at the end; each test reads it through the proxy
and through Nova directly (openstacksdk at 2.100) and compares.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient
from jsonschema.validators import validator_for
from users import auth, identity

from vnext_proxy.devcloud.identities import PROJECT_A, PROJECT_B

MV = {"OpenStack-API-Version": "compute 2.100"}
IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
VOLUME = "6ca404f3-d844-4169-bb96-bc792f37de98"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmqrTPzc3bR1D1hvPhTVRWLexGkg1Ez/3y4fW6xK4Mm test"

ADMIN = "admin"
MEMBER_A = "alice"
READER_A = "rita"
MEMBER_B = "bob"
USER_A = identity(MEMBER_A).user_id

NOVA_REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
VNEXT_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
POLL = 0.5


# --- the fleet: launched once, through Nova, for the whole module ---------------------------------------------------


@dataclass(frozen=True)
class Fleet:
    web: str  # project A: keypair, metadata, tags ["linux"], one volume attached
    db: str  # project A: flavor 2, nothing else
    stopped: str  # project A: stopped through Nova (os-stop)
    other: str  # project B
    hostnames: dict[str, str]  # server id -> hostname
    volume: str  # the volume attached to web
    keypair: str


def _wait(what: str, check: Any, timeout: float = 120.0) -> Any:
    """Poll ``check`` gently until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(POLL)
    raise AssertionError(f"timed out waiting for {what}")


def _wait_for_action(conn: Any, server_id: str, request_id: str) -> None:
    """Until every event of the instance action started by ``request_id`` has finished."""

    def finished() -> bool:
        resp = conn.compute.get(f"/servers/{server_id}/os-instance-actions/{request_id}", headers=MV)
        events = resp.json()["instanceAction"]["events"] if resp.status_code == 200 else []
        return bool(events) and all(e["finish_time"] for e in events)

    _wait(f"action {request_id} on {server_id}", finished)


def _attach_volume(conn: Any, server_id: str) -> str:
    """Attach the fixture volume (untagged, so it detaches); if an earlier test of the session still holds it,
    any other UUID does as well: Nova's fake Cinder takes every volume id as existing."""
    for volume in (VOLUME, str(uuid.uuid4())):
        body = {"volumeAttachment": {"volumeId": volume}}
        resp = conn.compute.post(f"/servers/{server_id}/os-volume_attachments", json=body, headers=MV)
        if resp.status_code in (200, 202):
            _wait_for_action(conn, server_id, resp.headers["x-openstack-request-id"])
            return volume
        assert resp.status_code == 400, resp.text
    raise AssertionError("no volume could be attached")


def _remove_server(conn: Any, server_id: str) -> None:
    """Delete (a soft delete here: reclaim_instance_interval > 0), then forceDelete to free the quota."""
    conn.compute.delete_server(server_id, ignore_missing=True)

    def soft_deleted_or_gone() -> bool:
        resp = conn.compute.get(f"/servers/{server_id}", headers=MV)
        if resp.status_code == 404:
            return True
        server = resp.json()["server"]
        return server["status"] == "SOFT_DELETED" and server["OS-EXT-STS:task_state"] is None

    _wait(f"soft delete of {server_id}", soft_deleted_or_gone, timeout=60)
    resp = conn.compute.post(f"/servers/{server_id}/action", json={"forceDelete": None}, headers=MV)
    assert resp.status_code in (202, 404, 409), resp.text
    _wait(f"{server_id} gone", lambda: conn.compute.get(f"/servers/{server_id}", headers=MV).status_code == 404, 60)


@pytest.fixture(scope="module")
def fleet(nova_as) -> Iterator[Fleet]:  # type: ignore[no-untyped-def]
    member, other = nova_as(MEMBER_A), nova_as(MEMBER_B)
    suffix = uuid.uuid4().hex[:8]  # names and hostnames no other test of the session uses
    keypair = f"rr-key-{suffix}"
    resp = member.compute.post(
        "/os-keypairs", json={"keypair": {"name": keypair, "public_key": PUBLIC_KEY}}, headers=MV
    )
    assert resp.status_code == 201, resp.text
    launched: list[tuple[Any, Any]] = []

    def launch(conn: Any, name: str, flavor: str, **extra: Any) -> None:
        server = conn.compute.create_server(
            name=f"rr-{name}-{suffix}",
            hostname=f"rr-{name}-{suffix}",
            image_id=IMAGE,
            flavor_id=flavor,
            networks="auto",
            **extra,
        )
        launched.append((conn, server))

    try:
        launch(member, "web", "1", key_name=keypair, metadata={"role": "web", "tier": "front"}, tags=["linux"])
        launch(member, "db", "2")
        launch(member, "off", "1")
        launch(other, "b", "1")
        active = [conn.compute.wait_for_server(server, interval=POLL, wait=120) for conn, server in launched]
        web, db, stopped, in_b = (server.id for server in active)
        volume = _attach_volume(member, web)
        resp = member.compute.post(f"/servers/{stopped}/action", json={"os-stop": None}, headers=MV)
        assert resp.status_code == 202, resp.text
        member.compute.wait_for_server(active[2], status="SHUTOFF", interval=POLL, wait=120)
        yield Fleet(
            web=web,
            db=db,
            stopped=stopped,
            other=in_b,
            hostnames={server.id: server.hostname for server in active},
            volume=volume,
            keypair=keypair,
        )
    finally:
        problems = []
        for conn, server in launched:
            try:
                _remove_server(conn, server.id)
            except Exception as exc:  # keep removing the others
                problems.append(f"{server.id}: {exc!r}")
        member.compute.delete(f"/os-keypairs/{keypair}", headers=MV)
        assert not problems, problems


# --- helpers --------------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: Any
    body: Any


async def call(
    proxy: TestClient, path: str, user: str | None = MEMBER_A, *, method: str = "GET", status: int = 200
) -> Answer:
    """One proxy call as ``user`` (None: with no token); fails with the body when the status is not the expected one."""
    headers = auth(user) if user else {}
    resp = await proxy.request(method, path, headers=headers)
    text = await resp.text()
    assert resp.status == status, f"{method} {path}: {resp.status} {text}"
    body = await resp.json() if text else None
    return Answer(resp.status, resp.headers, body)


def assert_reached_nova(answer: Answer, calls: int | None = None) -> list[str]:
    """The answer lists the request ids Nova gave the calls made for it."""
    ids = answer.headers["X-VNext-Backend-Request-Ids"].split(",")
    assert all(NOVA_REQUEST_ID.match(i) for i in ids), ids
    assert len(set(ids)) == len(ids), ids
    if calls is not None:
        assert len(ids) == calls, ids
    return ids


def assert_error(answer: Answer, status: int, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = answer.body["error"]
    assert error["code"] == status
    assert error["message"]
    assert error["request_id"] == answer.headers["X-OpenStack-Request-ID"]
    if field is not None:
        assert error["field"] == field
    return error


async def all_pages(
    proxy: TestClient, path: str, key: str, user: str = MEMBER_A, limit: int | None = None
) -> list[Any]:
    """Follow _links.next until it is absent; every page holds at most ``limit`` items."""
    items: list[Any] = []
    href: str | None = path
    for _ in range(100):
        if href is None:
            return items
        page = await call(proxy, href, user)
        assert page.body["_links"]["self"]["href"] == href
        if limit is not None:
            assert len(page.body[key]) <= limit
        items.extend(page.body[key])
        href = page.body["_links"].get("next", {}).get("href")
    raise AssertionError(f"{path}: more than 100 pages")


def ids_of(items: list[dict[str, Any]]) -> list[str]:
    return [str(item["id"]) for item in items]


def nova_server(conn: Any, server_id: str) -> dict[str, Any]:
    resp = conn.compute.get(f"/servers/{server_id}", headers=MV)
    assert resp.status_code == 200, resp.text
    server: dict[str, Any] = resp.json()["server"]
    return server


def nova_servers(conn: Any, **query: str) -> list[dict[str, Any]]:
    resp = conn.compute.get(f"/servers/detail?{urlencode({'limit': '1000', **query})}", headers=MV)
    assert resp.status_code == 200, resp.text
    servers: list[dict[str, Any]] = resp.json()["servers"]
    return servers


def vnext_time(nova_time: str) -> str:
    """Nova's launched_at (microseconds, no zone: UTC) as vNext shows it, to the second."""
    parsed = datetime.fromisoformat(nova_time.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


async def served_schema(proxy: TestClient, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = (await call(proxy, f"/schemas/{name}", None)).body
    validator_for(schema).check_schema(schema)
    return schema


def schema_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    validator = validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


# --- 1. GET /servers/{id} -------------------------------------------------------------------------------------------


async def test_server_has_every_attribute_nova_holds(proxy: TestClient, nova_as, fleet: Fleet) -> None:  # type: ignore[no-untyped-def]
    member = nova_as(MEMBER_A)
    nova = nova_server(member, fleet.web)
    answer = await call(proxy, f"/servers/{fleet.web}")
    # The server itself, then its volume attachments: two Nova calls.
    assert_reached_nova(answer, calls=2)
    server = answer.body

    assert server["id"] == nova["id"] == fleet.web
    assert server["hostname"] == nova["OS-EXT-SRV-ATTR:hostname"] == fleet.hostnames[fleet.web]
    assert server["project_id"] == nova["tenant_id"] == PROJECT_A
    assert server["launched_by"] == nova["user_id"] == USER_A
    assert VNEXT_TIME.match(server["launched_at"])
    assert server["launched_at"] == vnext_time(nova["OS-SRV-USG:launched_at"])
    assert (nova["OS-EXT-STS:power_state"], server["power_state"]) == (1, "RUNNING")
    assert (nova["OS-EXT-STS:vm_state"], server["virt_state"]) == ("active", "ACTIVE")
    assert server["template_id"] == nova["image"]["id"] == IMAGE

    flavor = member.compute.get("/flavors/1", headers=MV).json()["flavor"]
    embedded = nova["flavor"]
    assert server["spec"]["memory_mb"] == embedded["ram"] == flavor["ram"]
    assert server["spec"]["root_disk_gb"] == embedded["disk"] == flavor["disk"]
    assert server["spec"]["cpu_units"] == embedded["vcpus"] == flavor["vcpus"]
    assert server["spec"]["swap_mb"] == embedded["swap"] == flavor["swap"]

    [address] = [a for addresses in nova["addresses"].values() for a in addresses]
    assert address["version"] == 4
    assert server["networking"]["interfaces"] == {
        "eth0": {"ip4": address["addr"], "mac": address["OS-EXT-IPS-MAC:mac_addr"]}
    }
    assert server["networking"]["access"] == {"ip4": [], "ip6": []}

    [attachment] = member.compute.get(f"/servers/{fleet.web}/os-volume_attachments", headers=MV).json()[
        "volumeAttachments"
    ]
    assert attachment["volumeId"] == fleet.volume
    assert {"type": "PERSISTENT", "device": attachment["device"], "volume_id": fleet.volume} in server["block_devices"]

    assert server["properties"] == nova["metadata"] == {"role": "web", "tier": "front"}
    assert server["tags"] == nova["tags"] == ["linux"]
    assert nova["server_groups"] == []
    assert server["group_id"] is None
    assert is_uuid(server["placement_id"])
    assert server["region_id"] == server["placement_id"]
    assert nova["key_name"] == fleet.keypair
    assert is_uuid(server["launch_keypair_id"])
    assert server["_elevated"] == {}
    assert server["_links"] == {
        "self": {"href": f"/servers/{fleet.web}"},
        "describedby": {"href": "/schemas/server"},
        "rel/server_tasks": {"href": f"/servers/{fleet.web}/tasks"},
    }
    assert schema_errors(await served_schema(proxy, "server"), server) == []


async def test_server_without_keypair_volume_or_metadata(proxy: TestClient, nova_as, fleet: Fleet) -> None:  # type: ignore[no-untyped-def]
    nova = nova_server(nova_as(MEMBER_A), fleet.db)
    answer = await call(proxy, f"/servers/{fleet.db}")
    # No volume attached: Nova is asked for the server only.
    assert_reached_nova(answer, calls=1)
    server = answer.body
    assert nova["key_name"] is None
    assert server["launch_keypair_id"] is None
    assert server["properties"] == {}
    assert server["tags"] == []
    assert server["block_devices"] == []
    assert server["spec"]["memory_mb"] == nova["flavor"]["ram"] == 2048
    assert server["spec"]["root_disk_gb"] == nova["flavor"]["disk"] == 20
    # Same Nova availability zone, same vNext placement.
    web = (await call(proxy, f"/servers/{fleet.web}")).body
    assert (
        nova["OS-EXT-AZ:availability_zone"] == nova_server(nova_as(MEMBER_A), fleet.web)["OS-EXT-AZ:availability_zone"]
    )
    assert server["placement_id"] == web["placement_id"]
    assert schema_errors(await served_schema(proxy, "server"), server) == []


async def test_admin_sees_the_compute_node_and_root_disk(proxy: TestClient, nova_as, fleet: Fleet) -> None:  # type: ignore[no-untyped-def]
    nova = nova_server(nova_as(ADMIN), fleet.web)
    answer = await call(proxy, f"/servers/{fleet.web}", ADMIN)
    assert_reached_nova(answer)
    server = answer.body
    assert nova["OS-EXT-SRV-ATTR:host"] in ("compute", "compute2")
    assert server["_elevated"] == {"compute_node_hostname": nova["OS-EXT-SRV-ATTR:host"]}
    assert server["block_devices"][0] == {"type": "EPHEMERAL", "device": nova["OS-EXT-SRV-ATTR:root_device_name"]}
    member_view = (await call(proxy, f"/servers/{fleet.web}")).body
    reader_view = (await call(proxy, f"/servers/{fleet.web}", READER_A)).body
    assert reader_view == member_view
    # Besides what only elevated users see, the admin's view is the member's.
    without = {"_elevated", "block_devices"}
    assert {k: v for k, v in server.items() if k not in without} == {
        k: v for k, v in member_view.items() if k not in without
    }
    assert schema_errors(await served_schema(proxy, "server"), server) == []


async def test_a_server_of_another_project_or_unknown_is_404(proxy: TestClient, nova_as, fleet: Fleet) -> None:  # type: ignore[no-untyped-def]
    assert nova_as(MEMBER_A).compute.get(f"/servers/{fleet.other}", headers=MV).status_code == 404
    answer = await call(proxy, f"/servers/{fleet.other}", status=404)
    assert_error(answer, 404)
    assert_reached_nova(answer, calls=1)
    unknown = str(uuid.uuid4())
    answer = await call(proxy, f"/servers/{unknown}", status=404)
    assert unknown in assert_error(answer, 404)["message"]
    assert_reached_nova(answer, calls=1)
    # Its own project's member reads it; project B's servers have no addresses in devcloud.
    own = (await call(proxy, f"/servers/{fleet.other}", MEMBER_B)).body
    assert own["project_id"] == nova_server(nova_as(MEMBER_B), fleet.other)["tenant_id"] == PROJECT_B
    assert own["networking"]["interfaces"] == {}


# --- 2. HEAD /servers/{id} ------------------------------------------------------------------------------------------


async def test_head_gives_the_states_as_headers(proxy: TestClient, nova_as, fleet: Fleet) -> None:  # type: ignore[no-untyped-def]
    member = nova_as(MEMBER_A)
    for server_id, nova_states, vnext_states in (
        (fleet.web, ("active", 1), ("ACTIVE", "RUNNING")),
        (fleet.stopped, ("stopped", 4), ("STOPPED", "SHUTDOWN")),  # stopped through Nova's os-stop
    ):
        nova = nova_server(member, server_id)
        assert (nova["OS-EXT-STS:vm_state"], nova["OS-EXT-STS:power_state"]) == nova_states
        head = await call(proxy, f"/servers/{server_id}", method="HEAD")
        assert_reached_nova(head, calls=1)
        states = (
            head.headers["X-OpenStack-Compute-Server-Virt-State"],
            head.headers["X-OpenStack-Compute-Server-Power-State"],
        )
        assert states == vnext_states
        got = (await call(proxy, f"/servers/{server_id}")).body
        assert (got["virt_state"], got["power_state"]) == states
    missing = await call(proxy, f"/servers/{uuid.uuid4()}", method="HEAD", status=404)
    assert_reached_nova(missing, calls=1)
    await call(proxy, f"/servers/{fleet.other}", method="HEAD", status=404)


# --- 3. GET /projects/{project}/servers/{hostname} ------------------------------------------------------------------


async def test_a_server_is_found_by_its_hostname(proxy: TestClient, fleet: Fleet) -> None:
    hostname = fleet.hostnames[fleet.db]
    answer = await call(proxy, f"/projects/{PROJECT_A}/servers/{hostname}")
    assert_reached_nova(answer)
    assert answer.body == (await call(proxy, f"/servers/{fleet.db}")).body
    answer = await call(proxy, f"/projects/{PROJECT_A}/servers/no-such-host-{uuid.uuid4().hex[:6]}", status=404)
    assert_error(answer, 404)
    assert_reached_nova(answer)
    # The name of a server of project B is not found in project A, nor is project A readable by B.
    await call(proxy, f"/projects/{PROJECT_A}/servers/{fleet.hostnames[fleet.other]}", status=404)
    answer = await call(proxy, f"/projects/{PROJECT_A}/servers/{hostname}", MEMBER_B, status=404)
    assert_error(answer, 404)
    assert_reached_nova(answer)
    admin = await call(proxy, f"/projects/{PROJECT_B}/servers/{fleet.hostnames[fleet.other]}", ADMIN)
    assert admin.body["id"] == fleet.other


def without_devices(server: dict[str, Any]) -> dict[str, Any]:
    """GET /servers/{id} names each volume's device; lists and lookups do not (it would cost a Nova call per
    server), and show null instead."""
    devices = [{**d, "device": None} if d["type"] == "PERSISTENT" else d for d in server["block_devices"]]
    return {**server, "block_devices": devices}


async def test_found_by_hostname_a_server_keeps_its_volumes(proxy: TestClient, fleet: Fleet) -> None:
    by_hostname = (await call(proxy, f"/projects/{PROJECT_A}/servers/{fleet.hostnames[fleet.web]}")).body
    by_id = (await call(proxy, f"/servers/{fleet.web}")).body
    assert any(d["type"] == "PERSISTENT" and d["device"] for d in by_id["block_devices"])
    assert by_hostname == without_devices(by_id)


# --- 4. GET /projects/{project} -------------------------------------------------------------------------------------


async def test_a_project_links_to_its_servers(proxy: TestClient) -> None:
    for user in (MEMBER_A, READER_A, ADMIN):
        answer = await call(proxy, f"/projects/{PROJECT_A}", user)
        assert_reached_nova(answer, calls=1)
        assert answer.body["id"] == PROJECT_A
        assert answer.body["_links"]["self"] == {"href": f"/projects/{PROJECT_A}"}
        assert answer.body["_links"]["rel/project_servers"] == {"href": f"/projects/{PROJECT_A}/servers"}
    answer = await call(proxy, f"/projects/{PROJECT_A}", MEMBER_B, status=404)
    assert_error(answer, 404)
    assert_reached_nova(answer, calls=1)


async def test_another_projects_404_says_not_found(proxy: TestClient, fleet: Fleet) -> None:
    for path in (
        f"/projects/{PROJECT_A}",
        f"/projects/{PROJECT_A}/servers",
        f"/projects/{PROJECT_A}/servers/{fleet.hostnames[fleet.web]}",
    ):
        message = assert_error(await call(proxy, path, MEMBER_B, status=404), 404)["message"]
        assert "policy" not in message.lower()
        assert "os_compute_api" not in message


# --- 5. GET /servers and GET /projects/{project}/servers ------------------------------------------------------------

LISTS = [pytest.param("/servers", id="servers"), pytest.param(f"/projects/{PROJECT_A}/servers", id="project_servers")]


def _with(path: str, **query: str) -> str:
    return f"{path}?{urlencode(query)}"


@pytest.mark.parametrize("path", LISTS)
async def test_members_see_their_projects_servers(proxy: TestClient, nova_as, fleet: Fleet, path: str) -> None:  # type: ignore[no-untyped-def]
    nova = nova_servers(nova_as(MEMBER_A))
    answer = await call(proxy, _with(path, limit="200"))
    assert_reached_nova(answer)
    servers = answer.body["servers"]
    assert ids_of(servers) == ids_of(nova)
    assert {fleet.web, fleet.db, fleet.stopped} <= set(ids_of(servers))
    assert fleet.other not in ids_of(servers)
    assert {s["project_id"] for s in servers} == {PROJECT_A}
    schema = await served_schema(proxy, "server")
    for server in servers:
        assert schema_errors(schema, server) == []
    # A server without volumes is listed exactly as GET /servers/{id} shows it.
    [db] = [s for s in servers if s["id"] == fleet.db]
    assert db == (await call(proxy, f"/servers/{fleet.db}")).body


@pytest.mark.parametrize("path", LISTS)
async def test_listed_servers_keep_their_volumes(proxy: TestClient, fleet: Fleet, path: str) -> None:
    [web] = [s for s in (await call(proxy, _with(path, limit="200"))).body["servers"] if s["id"] == fleet.web]
    assert web == without_devices((await call(proxy, f"/servers/{fleet.web}")).body)


async def test_a_repeated_list_shows_a_change_in_nova_at_once(proxy: TestClient, nova_as, fleet: Fleet) -> None:  # type: ignore[no-untyped-def]
    """The proxy keeps a list answer Nova repeats byte for byte; the next
    answer that differs in one server is rendered anew."""
    member = nova_as(MEMBER_A)

    def listed(body: dict[str, Any]) -> dict[str, Any]:
        [server] = [s for s in body["servers"] if s["id"] == fleet.stopped]
        return server

    first = (await call(proxy, "/servers?limit=200")).body
    assert (await call(proxy, "/servers?limit=200")).body == first
    assert "benchmark" not in listed(first)["properties"]
    resp = member.compute.put(f"/servers/{fleet.stopped}/metadata/benchmark", json={"meta": {"benchmark": "x"}})
    assert resp.status_code == 200, resp.text
    try:
        changed = (await call(proxy, "/servers?limit=200")).body
        assert listed(changed)["properties"]["benchmark"] == "x"
        assert listed(changed) == (await call(proxy, f"/servers/{fleet.stopped}")).body
        assert [s for s in changed["servers"] if s["id"] != fleet.stopped] == [
            s for s in first["servers"] if s["id"] != fleet.stopped
        ]
    finally:
        member.compute.delete(f"/servers/{fleet.stopped}/metadata/benchmark")


async def test_project_b_sees_only_its_own(proxy: TestClient, nova_as, fleet: Fleet) -> None:  # type: ignore[no-untyped-def]
    servers = (await call(proxy, "/servers?limit=200", MEMBER_B)).body["servers"]
    assert ids_of(servers) == ids_of(nova_servers(nova_as(MEMBER_B)))
    assert fleet.other in ids_of(servers)
    assert {s["project_id"] for s in servers} == {PROJECT_B}
    answer = await call(proxy, f"/projects/{PROJECT_A}/servers", MEMBER_B, status=404)
    assert_error(answer, 404)
    assert_reached_nova(answer)


@pytest.mark.parametrize("path", LISTS)
async def test_paging_one_by_one_covers_novas_list(proxy: TestClient, nova_as, fleet: Fleet, path: str) -> None:  # type: ignore[no-untyped-def]
    nova = ids_of(nova_servers(nova_as(MEMBER_A)))
    assert len(nova) >= 3
    paged = ids_of(await all_pages(proxy, _with(path, limit="1"), "servers", limit=1))
    assert paged == nova  # each once, in Nova's order


@pytest.mark.parametrize("path", LISTS)
async def test_bad_paging_parameters_are_400(proxy: TestClient, path: str) -> None:
    answer = await call(proxy, _with(path, marker=str(uuid.uuid4())), status=400)
    assert_error(answer, 400)
    assert_reached_nova(answer)
    for limit in ("0", "abc", "-1"):
        assert_error(await call(proxy, _with(path, limit=limit), status=400), 400, field="limit")


@pytest.mark.parametrize("path", LISTS)
async def test_state_filters_match_novas_states(proxy: TestClient, nova_as, fleet: Fleet, path: str) -> None:  # type: ignore[no-untyped-def]
    nova = nova_servers(nova_as(MEMBER_A))

    def nova_ids(test: Any) -> list[str]:
        return ids_of([s for s in nova if test(s)])

    # One value: Nova filters (vm_state), so the proxy does not name virt_state.
    answer = await call(proxy, f"{path}?virt_state=ACTIVE&limit=200")
    assert_reached_nova(answer)
    assert "virt_state" not in answer.headers.get("X-VNext-Proxy-Filters", "").split(",")
    assert ids_of(answer.body["servers"]) == nova_ids(lambda s: s["OS-EXT-STS:vm_state"] == "active")
    assert fleet.web in ids_of(answer.body["servers"])
    assert fleet.stopped not in ids_of(answer.body["servers"])

    # Two values: Nova takes one only, so the proxy filters and says so.
    answer = await call(proxy, f"{path}?virt_state=ACTIVE&virt_state=STOPPED&limit=200")
    assert "virt_state" in answer.headers["X-VNext-Proxy-Filters"].split(",")
    assert ids_of(answer.body["servers"]) == nova_ids(lambda s: s["OS-EXT-STS:vm_state"] in ("active", "stopped"))
    assert {fleet.web, fleet.stopped} <= set(ids_of(answer.body["servers"]))
    assert {s["virt_state"] for s in answer.body["servers"]} <= {"ACTIVE", "STOPPED"}

    answer = await call(proxy, f"{path}?power_state=RUNNING&limit=200")
    assert "power_state" not in answer.headers.get("X-VNext-Proxy-Filters", "").split(",")
    assert ids_of(answer.body["servers"]) == nova_ids(lambda s: s["OS-EXT-STS:power_state"] == 1)
    assert fleet.stopped not in ids_of(answer.body["servers"])


@pytest.mark.parametrize("path", LISTS)
async def test_proxy_side_filter_pages_one_by_one(proxy: TestClient, nova_as, path: str) -> None:  # type: ignore[no-untyped-def]
    wanted = [s for s in nova_servers(nova_as(MEMBER_A)) if s["OS-EXT-STS:vm_state"] in ("active", "stopped")]
    paged = await all_pages(proxy, f"{path}?virt_state=ACTIVE&virt_state=STOPPED&limit=1", "servers", limit=1)
    assert ids_of(paged) == ids_of(wanted)


@pytest.mark.parametrize("path", LISTS)
async def test_launched_by_filter(proxy: TestClient, nova_as, fleet: Fleet, path: str) -> None:  # type: ignore[no-untyped-def]
    nova = nova_servers(nova_as(MEMBER_A))
    answer = await call(proxy, _with(path, launched_by=USER_A, limit="200"))
    assert_reached_nova(answer)
    assert ids_of(answer.body["servers"]) == ids_of([s for s in nova if s["user_id"] == USER_A])
    assert {fleet.web, fleet.db, fleet.stopped} <= set(ids_of(answer.body["servers"]))
    assert (await call(proxy, _with(path, launched_by=uuid.uuid4().hex))).body["servers"] == []


@pytest.mark.parametrize("path", LISTS)
async def test_since_filter(proxy: TestClient, nova_as, fleet: Fleet, path: str) -> None:  # type: ignore[no-untyped-def]
    nova = [s for s in nova_servers(nova_as(MEMBER_A)) if s["OS-SRV-USG:launched_at"]]
    latest = max(datetime.fromisoformat(s["OS-SRV-USG:launched_at"]).replace(tzinfo=UTC) for s in nova)
    after_all = (latest + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = await call(proxy, _with(path, since=after_all))
    assert_reached_nova(answer)
    assert "since" in answer.headers["X-VNext-Proxy-Filters"].split(",")
    assert answer.body["servers"] == []
    answer = await call(proxy, _with(path, since="2000-01-01T00:00:00Z", limit="200"))
    assert ids_of(answer.body["servers"]) == ids_of(nova)
    assert {fleet.web, fleet.db, fleet.stopped} <= set(ids_of(answer.body["servers"]))
    error = assert_error(await call(proxy, _with(path, since="garbage"), status=400), 400, field="since")
    assert "since" in error["message"]


async def test_since_a_servers_own_launch_time_includes_it(proxy: TestClient, fleet: Fleet) -> None:
    launched_at = (await call(proxy, f"/servers/{fleet.web}")).body["launched_at"]
    answer = await call(proxy, _with("/servers", since=launched_at, limit="200"))
    assert fleet.web in ids_of(answer.body["servers"])


async def test_admin_lists_every_project(proxy: TestClient, nova_as, fleet: Fleet) -> None:  # type: ignore[no-untyped-def]
    admin = nova_as(ADMIN)
    everyone = ids_of(nova_servers(admin, all_tenants="1"))
    listed = ids_of(await all_pages(proxy, "/servers?limit=200", "servers", ADMIN))
    assert listed == everyone
    assert {fleet.web, fleet.db, fleet.stopped, fleet.other} <= set(listed)

    answer = await call(proxy, _with("/servers", project=PROJECT_B, limit="200"), ADMIN)
    assert_reached_nova(answer)
    assert ids_of(answer.body["servers"]) == ids_of(nova_servers(admin, all_tenants="1", project_id=PROJECT_B))
    assert fleet.other in ids_of(answer.body["servers"])
    assert {s["project_id"] for s in answer.body["servers"]} == {PROJECT_B}

    answer = await call(proxy, f"/projects/{PROJECT_A}/servers?limit=200", ADMIN)
    assert ids_of(answer.body["servers"]) == ids_of(nova_servers(admin, all_tenants="1", project_id=PROJECT_A))
    assert {s["project_id"] for s in answer.body["servers"]} == {PROJECT_A}


async def test_a_member_filtering_on_another_project_is_400(proxy: TestClient, fleet: Fleet) -> None:
    # The spec: naming a project the caller does not belong to is a 400.
    answer = await call(proxy, _with("/servers", project=PROJECT_B, limit="200"), status=400)
    assert_error(answer, 400, field="project")
    own = await call(proxy, _with("/servers", project=PROJECT_A, limit="200"))
    assert fleet.web in ids_of(own.body["servers"])


# --- 6. GET /server_types -------------------------------------------------------------------------------------------


def nova_flavors(conn: Any, admin: bool = False) -> list[dict[str, Any]]:
    resp = conn.compute.get("/flavors/detail" + ("?is_public=None" if admin else ""), headers=MV)
    assert resp.status_code == 200, resp.text
    flavors: list[dict[str, Any]] = resp.json()["flavors"]
    return flavors


def assert_types_are_flavors(types: list[dict[str, Any]], flavors: list[dict[str, Any]]) -> None:
    by_name = {t["name"]: t for t in types}
    assert len(by_name) == len(types)
    assert set(by_name) == {f["name"] for f in flavors}
    assert len({t["id"] for t in types}) == len(types)
    for flavor in flavors:
        vnext = by_name[flavor["name"]]
        assert is_uuid(vnext["id"])
        if is_uuid(flavor["id"]):
            assert vnext["id"] == flavor["id"]
        assert vnext["spec"]["memory_mb"] == flavor["ram"]
        assert vnext["spec"]["root_disk_gb"] == flavor["disk"]
        assert vnext["spec"]["cpu_units"] == flavor["vcpus"]
        assert vnext["spec"]["swap_mb"] == (flavor["swap"] or 0)
        assert vnext["visibility"] == ("PUBLIC" if flavor["os-flavor-access:is_public"] else "PRIVATE")
        assert vnext["description"] == flavor["description"]
        assert vnext["tags"] == [t for t in flavor["extra_specs"].get("vnext:tags", "").split(",") if t]
        assert vnext["_links"] == {
            "self": {"href": f"/server_types/{vnext['id']}"},
            "describedby": {"href": "/schemas/server_type"},
            "tags": {"href": f"/server_types/{vnext['id']}/tags"},
            "shares": {"href": f"/server_types/{vnext['id']}/shares"},
        }


async def test_server_types_are_novas_flavors(proxy: TestClient, nova_as) -> None:  # type: ignore[no-untyped-def]
    for user in (MEMBER_A, ADMIN):
        answer = await call(proxy, "/server_types?limit=1000", user)
        assert_reached_nova(answer, calls=1)
        assert_types_are_flavors(answer.body["server_types"], nova_flavors(nova_as(user), admin=user == ADMIN))
        again = await call(proxy, "/server_types?limit=1000", user)
        assert again.body["server_types"] == answer.body["server_types"]  # ids are stable


async def test_a_server_type_by_id_and_by_name(proxy: TestClient) -> None:
    listed = (await call(proxy, "/server_types?limit=1000")).body["server_types"]
    assert {"m1.tiny", "m1.small"} <= {t["name"] for t in listed}
    for server_type in listed:
        by_id = await call(proxy, f"/server_types/{server_type['id']}")
        assert_reached_nova(by_id)
        by_name = await call(proxy, f"/server_types/{server_type['name']}")
        assert by_id.body == by_name.body == server_type
    answer = await call(proxy, f"/server_types/{uuid.uuid4()}", status=404)
    assert_error(answer, 404)
    assert_reached_nova(answer)
    assert_error(await call(proxy, "/server_types/m1.nonesuch", status=404), 404)


async def test_server_types_page_two_by_two(proxy: TestClient) -> None:
    listed = (await call(proxy, "/server_types?limit=1000")).body["server_types"]
    assert len(listed) > 4  # so that paging takes three pages or more
    paged = await all_pages(proxy, "/server_types?limit=2", "server_types", limit=2)
    assert paged == listed
    assert_error(await call(proxy, "/server_types?marker=nope", status=400), 400, field="marker")
    for limit in ("0", "abc"):
        assert_error(await call(proxy, f"/server_types?limit={limit}", status=400), 400, field="limit")


async def test_server_types_by_tag(proxy: TestClient, nova_as) -> None:  # type: ignore[no-untyped-def]
    admin = nova_as(ADMIN)
    resp = admin.compute.post("/flavors/6/os-extra_specs", json={"extra_specs": {"vnext:tags": "gpu,hpc"}}, headers=MV)
    assert resp.status_code == 200, resp.text
    try:
        name = admin.compute.get("/flavors/6", headers=MV).json()["flavor"]["name"]
        for user in (MEMBER_A, ADMIN):
            answer = await call(proxy, "/server_types?tag=gpu", user)
            assert_reached_nova(answer, calls=1)
            assert "tag" in answer.headers["X-VNext-Proxy-Filters"].split(",")
            [tagged] = answer.body["server_types"]
            assert tagged["name"] == name
            assert tagged["tags"] == ["gpu", "hpc"]
            assert (await call(proxy, f"/server_types/{name}", user)).body == tagged
        assert (await call(proxy, "/server_types?tag=nothing-has-this")).body["server_types"] == []
    finally:
        resp = admin.compute.delete("/flavors/6/os-extra_specs/vnext:tags", headers=MV)
        assert resp.status_code == 200, resp.text
    assert (await call(proxy, "/server_types?tag=gpu")).body["server_types"] == []


async def test_server_types_match_their_served_schema(proxy: TestClient) -> None:
    schema = await served_schema(proxy, "server_type")
    for server_type in (await call(proxy, "/server_types?limit=1000")).body["server_types"]:
        assert schema_errors(schema, server_type) == []


# --- 7. GET /schemas, 8. the not-applicable detail route ------------------------------------------------------------

SCHEMAS = {"server", "server_type", "server_task", "server_task_item", "server_group", "tag", "property", "placement"}


async def test_schemas_are_served_without_a_token(proxy: TestClient) -> None:
    index = await call(proxy, "/schemas", None)
    assert "X-VNext-Backend-Request-Ids" not in index.headers
    # The spec's form: a bare list of type, description and a rel/schema link.
    assert isinstance(index.body, list)
    names = [entry["type"] for entry in index.body]
    assert set(names) >= SCHEMAS
    assert len(names) == len(set(names))
    for entry in index.body:
        assert set(entry) == {"type", "description", "_links"}
        assert entry["_links"] == {"rel/schema": {"href": f"/schemas/{entry['type']}"}}
        schema = await served_schema(proxy, entry["type"])  # each one is valid JSON-Schema
        assert entry["description"] == schema.get("description", "")
    assert any("virtual machine" in entry["description"] for entry in index.body if entry["type"] == "server")
    server = await served_schema(proxy, "server")
    assert server["type"] == "object"
    assert {"id", "hostname", "virt_state", "power_state"} <= set(server["properties"])
    answer = await call(proxy, "/schemas/nope", None, status=404)
    assert "nope" in assert_error(answer, 404)["message"]
    assert "X-VNext-Backend-Request-Ids" not in answer.headers


async def test_server_detail_is_not_in_vnext(proxy: TestClient, fleet: Fleet) -> None:
    answer = await call(proxy, f"/servers/{fleet.web}/detail", status=404)
    assert "GET /servers/{server_id}" in assert_error(answer, 404)["message"]
    assert "X-VNext-Backend-Request-Ids" not in answer.headers  # answered without asking Nova
