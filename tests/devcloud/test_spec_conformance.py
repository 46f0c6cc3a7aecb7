"""What the proxy serves, checked against the spec as the spec wrote it, on devcloud.

1. A server launched through the proxy, as GET /servers/{id} and as an item of GET /servers, is validated
   against each revision's own server schema (tests/spec/server-{seed,later}.json: the spec's JSON with only
   its syntax fixed, validated in its own draft, 3). Where the spec contradicts itself, so that the served
   field cannot match the schema as written, the case is xfail(strict=True) with the reason
   (SERVED_CONFLICTS), and a second test pins exactly those problems, so a new one cannot hide behind it.
2. Every named Python route the spec has (tests/unit/test_spec_statuses.py: HANDLER_STATUSES) is called once
   with a valid request and must answer the status listed there, with its effect in Nova.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from unit.test_spec_schemas import REVISIONS, revision_validator
from unit.test_spec_statuses import HANDLER_STATUSES
from users import auth, identity

from vnext_proxy.config import DEFAULT_ID_NAMESPACE, NovaSettings, Settings, TaskSettings
from vnext_proxy.devcloud.identities import PROJECT_A, PROJECT_B
from vnext_proxy.mapping.ids import keypair_id
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.app import create_app

Client = TestClient[Any, Any]

IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
MV = {"OpenStack-API-Version": "compute 2.100"}
MEMBER = auth("alice")
ADMIN = auth("admin")
KEYPAIR = "conformance-key"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmqrTPzc3bR1D1hvPhTVRWLexGkg1Ez/3y4fW6xK4Mm conformance"
POLL = 0.5

# Where each revision's server schema, as written, contradicts the rest of the spec, so that the served
# field cannot match it: (path in the served server, the keyword it fails) -> why. Both views (by id, in
# the list) serve the same fields.
_BOTH = {
    ("$.spec.root_disk_db", "required"): (
        "the schema requires spec.root_disk_db, a typo: its own description ('in gigabytes'), the prose "
        "(spec.root_disk_gb) and every example say root_disk_gb, which the proxy serves"
    ),
    ("$.networking.interfaces", "type"): (
        "the schema says an array of {name, ip4, ip6, mac}; every example is a mapping keyed by interface "
        "name ({'eth0': {...}}), as served"
    ),
    ("$.networking.access.ip6", "type"): (
        "the schema says a string (with 'items', as an array would have); the examples have a list, like ip4"
    ),
    ("$.properties", "type"): (
        "the schema says an array of {key, value}; the prose says 'properties (dict)' and every example is a "
        "mapping, as served"
    ),
}
SERVED_CONFLICTS: dict[str, dict[tuple[str, str], str]] = {
    "seed": {
        **_BOTH,
        ("$.group_id", "type"): (
            "the schema says a string; the seed's prose says 'string or null' (null: in no server group), "
            "and the server is in none"
        ),
    },
    "later": _BOTH,
}
VIEWS = ("get_by_id", "list_item")


def problems(revision: str, server: dict[str, Any]) -> set[tuple[str, str]]:
    """Each validation error: where (a missing property named in the path, as draft 3 reports it), and the
    keyword it fails."""
    return {(e.json_path, str(e.validator)) for e in revision_validator(revision).iter_errors(server)}


@pytest.fixture(scope="module")
def keypair(nova_as) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A keypair of member A's, so a launched server has a launch_keypair_id (the schemas require one)."""
    nova = nova_as("alice").compute
    resp = nova.post("/os-keypairs", json={"keypair": {"name": KEYPAIR, "public_key": PUBLIC_KEY}}, headers=MV)
    assert resp.status_code == 201, resp.text
    try:
        yield keypair_id(DEFAULT_ID_NAMESPACE, identity("alice").user_id, KEYPAIR)
    finally:
        nova.delete(f"/os-keypairs/{KEYPAIR}", headers=MV)


async def launch_body(proxy: Client, key: str, hostname: str) -> dict[str, Any]:
    """A launch of one m1.tiny server with member A's keypair."""
    tiny = (await (await proxy.get("/server_types/m1.tiny", headers=MEMBER)).json())["id"]
    return {"defaults": {"keypair_id": key, "type_id": tiny, "template_id": IMAGE}, "servers": [{"hostname": hostname}]}


async def wait_for_task(proxy: Client, href: str, seen: list[int]) -> dict[str, Any]:
    """Poll GET /server_tasks/{id} until the task ends; every status answered goes into ``seen``."""
    for _ in range(240):
        resp = await proxy.get(href, headers=MEMBER)
        seen.append(resp.status)
        task: dict[str, Any] = await resp.json()
        if resp.status != 200 or task["state"] != "RUNNING":
            return task
        await asyncio.sleep(POLL)
    raise AssertionError(f"{href} still RUNNING after {240 * POLL:g}s")


@pytest.fixture(scope="module")
def served(  # type: ignore[no-untyped-def]
    devcloud: str, mappings: MappingSet, keypair: str, forget_servers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, dict[str, Any]]]:
    """One server launched through the proxy (its CREATE task awaited), as each view serves it; deleted
    afterwards. The proxy runs in an event loop of its own: the module's tests share the server."""
    store = tmp_path_factory.mktemp("conformance") / "tasks.sqlite3"
    settings = Settings(
        nova=NovaSettings(endpoint=devcloud), store_url=f"sqlite:///{store}", tasks=TaskSettings(poll_interval=POLL)
    )
    launched: list[str] = []

    async def launch_and_read() -> dict[str, dict[str, Any]]:
        async with TestClient(TestServer(create_app(settings, mappings))) as proxy:
            body = await launch_body(proxy, keypair, "conformance-schema")
            resp = await proxy.post(f"/projects/{PROJECT_A}/servers", json=body, headers=MEMBER)
            answer = await resp.json()
            assert resp.status == 202, answer
            launched.extend(s["id"] for s in answer)
            task = await wait_for_task(proxy, answer[0]["_links"]["rel/server_task"]["href"], [])
            assert (task["action"], task["state"]) == ("CREATE", "COMPLETED"), task
            server_id = answer[0]["id"]
            by_id = await proxy.get(f"/servers/{server_id}", headers=MEMBER)
            assert by_id.status == 200
            listed = await proxy.get("/servers?limit=1000", headers=MEMBER)
            assert listed.status == 200
            (item,) = [s for s in (await listed.json())["servers"] if s["id"] == server_id]
            return {"get_by_id": await by_id.json(), "list_item": item}

    try:
        # A thread of its own: a module fixture may be set up while a test's event loop runs.
        with ThreadPoolExecutor(1) as thread:
            views = thread.submit(asyncio.run, launch_and_read()).result()
        yield views
    finally:
        forget_servers(launched)


def _schema_cases() -> list[Any]:
    cases = []
    for revision in sorted(REVISIONS):
        for view in VIEWS:
            conflicts = SERVED_CONFLICTS[revision]
            marks = []
            if conflicts:
                why = "; ".join(f"{where.removeprefix('$.')}: {reason}" for (where, _), reason in conflicts.items())
                reason = f"the {revision} revision's server schema contradicts its own spec: {why}"
                marks.append(pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason))
            cases.append(pytest.param(revision, view, id=f"{revision}-{view}", marks=marks))
    return cases


def test_the_served_server_is_what_the_tests_expect(served: dict[str, dict[str, Any]]) -> None:
    """The views carry what the schema cases rely on: a keypair, both revisions' placement, and no group."""
    for server in served.values():
        assert server["launch_keypair_id"]
        assert server["region_id"] == server["placement_id"] is not None
        assert server["group_id"] is None
        assert server["virt_state"] == "ACTIVE"


@pytest.mark.parametrize(("revision", "view"), _schema_cases())
def test_served_server_matches_the_revision_schema_as_written(
    served: dict[str, dict[str, Any]], revision: str, view: str
) -> None:
    found = problems(revision, served[view])
    assert not found, f"the served server ({view}) fails the {revision} schema at: {sorted(found)}"


@pytest.mark.parametrize(("revision", "view"), [(r, v) for r in sorted(REVISIONS) for v in VIEWS])
def test_served_conflicts_are_exactly_as_documented(
    served: dict[str, dict[str, Any]], revision: str, view: str
) -> None:
    assert problems(revision, served[view]) == set(SERVED_CONFLICTS[revision])


# --- the named routes' statuses ---------------------------------------------------------------------------------------


class NamedRoutes:
    """Calls routes through the proxy; a named route's status must be HANDLER_STATUSES' one."""

    def __init__(self, proxy: Client, mappings: MappingSet) -> None:
        self.proxy = proxy
        self.routes = [r for r in mappings.routes if (r.handler, r.method) in HANDLER_STATUSES]
        self.called: set[tuple[str, str]] = set()

    def _route_of(self, method: str, path: str) -> tuple[str, str, str]:
        """The named route a concrete path is served by: (method, URI template, handler)."""
        bare = path.split("?", 1)[0].strip("/").split("/")
        for route in self.routes:
            parts = route.path.strip("/").split("/")
            same = len(parts) == len(bare) and all(
                p.startswith("{") or p == b for p, b in zip(parts, bare, strict=True)
            )
            if route.method == method and same:
                assert route.handler is not None
                return route.method, route.uri, route.handler
        raise AssertionError(f"{method} {path} is no named route the spec has")

    async def answer(self, method: str, path: str, token: dict[str, str], body: Any = None) -> Any:
        route = self._route_of(method, path)
        resp = await self.proxy.request(method, path, json=body, headers=token)
        text = await resp.text()
        assert resp.status == HANDLER_STATUSES[(route[2], method)], (
            f"{method} {path} ({route[2]}): {resp.status} {text}"
        )
        self.called.add(route[:2])
        return await resp.json() if text else None


def flavor_tags(nova_as, flavor_id: str) -> str | None:  # type: ignore[no-untyped-def]
    specs = nova_as("admin").compute.get(f"/flavors/{flavor_id}/os-extra_specs", headers=MV).json()
    tags: str | None = specs["extra_specs"].get("vnext:tags")
    return tags


def flavor_access(nova_as, flavor_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    resp = nova_as("admin").compute.get(f"/flavors/{flavor_id}/os-flavor-access", headers=MV)
    return sorted(a["tenant_id"] for a in resp.json()["flavor_access"])


async def test_every_named_route_of_the_spec_answers_its_listed_status(  # type: ignore[no-untyped-def]
    proxy: Client, mappings: MappingSet, nova_as, forget_servers, keypair: str
) -> None:
    calls = NamedRoutes(proxy, mappings)
    member = nova_as("alice").compute
    admin = nova_as("admin").compute
    server_ids: list[str] = []
    group_ids: list[str] = []
    flavor_ids: list[str] = []
    try:
        # Launching, and the tasks: the CREATE task, its items, and a task started on the server.
        body = await launch_body(proxy, keypair, "conformance-routes")
        launched = await calls.answer("POST", f"/projects/{PROJECT_A}/servers", MEMBER, body)
        server_ids = [s["id"] for s in launched]
        (server_id,) = server_ids
        seen: list[int] = []
        create = await wait_for_task(proxy, launched[0]["_links"]["rel/server_task"]["href"], seen)
        await calls.answer("GET", f"/server_tasks/{create['id']}", MEMBER)
        assert set(seen) == {HANDLER_STATUSES[("get_task", "GET")]}
        assert (create["action"], create["state"]) == ("CREATE", "COMPLETED")
        assert member.get(f"/servers/{server_id}", headers=MV).json()["server"]["status"] == "ACTIVE"
        history = await calls.answer("GET", f"/servers/{server_id}/tasks", MEMBER)
        assert [t["id"] for t in history["tasks"]] == [create["id"]]
        for prefix in ("server_tasks", "servers_tasks"):  # the spec's path, and the one its links use
            items = await calls.answer("GET", f"/{prefix}/{create['id']}/items", MEMBER)
            assert items["items"], items
        for action, locked in (("LOCK", True), ("UNLOCK", False)):
            task = await calls.answer("POST", f"/servers/{server_id}/tasks", MEMBER, {"action": action})
            ended = await wait_for_task(proxy, f"/server_tasks/{task['id']}", [])
            assert ended["state"] == "COMPLETED", ended
            assert member.get(f"/servers/{server_id}", headers=MV).json()["server"]["locked"] is locked

        # Server groups (seed): a Nova server group plus the proxy's record.
        tiny = (await (await proxy.get("/server_types/m1.tiny", headers=MEMBER)).json())["id"]
        body = {"name": "Conformance group", "defaults": {"template_id": IMAGE, "type_id": tiny}}
        group = await calls.answer("POST", f"/projects/{PROJECT_A}/server_groups", MEMBER, body)
        group_ids.append(group["id"])
        nova_group = member.get(f"/os-server-groups/{group['id']}", headers=MV).json()["server_group"]
        assert nova_group["name"] == "Conformance group"
        assert await calls.answer("GET", f"/server_groups/{group['id']}", MEMBER) == group
        assert await calls.answer("GET", f"/projects/{PROJECT_A}/server_groups/{group['slug']}", MEMBER) == group
        listed = await calls.answer("GET", f"/projects/{PROJECT_A}/server_groups", MEMBER)
        assert group["id"] in {g["id"] for g in listed["server_groups"]}

        # Server types (admin): a private flavor, its tags (extra spec) and shares (flavor access).
        spec = {"memory_mb": 256, "root_disk_gb": 1, "cpu_units": 1}
        created = await calls.answer("POST", "/server_types", ADMIN, {"name": "conformance-type", "spec": spec})
        flavor_id = created["id"]
        flavor_ids.append(flavor_id)
        assert admin.get(f"/flavors/{flavor_id}", headers=MV).json()["flavor"]["name"] == "conformance-type"
        kind = f"/server_types/{flavor_id}"
        await calls.answer("PATCH", kind, ADMIN, {"description": "checked against the spec"})
        assert (
            admin.get(f"/flavors/{flavor_id}", headers=MV).json()["flavor"]["description"] == "checked against the spec"
        )
        assert await calls.answer("GET", f"{kind}/tags", ADMIN) == []
        await calls.answer("PUT", f"{kind}/tags", ADMIN, ["a", "b"])
        assert flavor_tags(nova_as, flavor_id) == "a,b"
        await calls.answer("PUT", f"{kind}/tags/c", ADMIN)
        assert flavor_tags(nova_as, flavor_id) == "a,b,c"
        await calls.answer("DELETE", f"{kind}/tags/a", ADMIN)
        assert flavor_tags(nova_as, flavor_id) == "b,c"
        await calls.answer("DELETE", f"{kind}/tags", ADMIN)
        assert flavor_tags(nova_as, flavor_id) is None
        assert await calls.answer("GET", f"{kind}/shares", ADMIN) == {"users": [], "projects": []}
        await calls.answer("PUT", f"{kind}/shares", ADMIN, {"projects": [PROJECT_B]})
        assert flavor_access(nova_as, flavor_id) == [PROJECT_B]
        await calls.answer("DELETE", f"{kind}/shares", ADMIN)
        assert flavor_access(nova_as, flavor_id) == []
        await calls.answer("PUT", f"{kind}/shares/projects/{PROJECT_B}", ADMIN)
        assert flavor_access(nova_as, flavor_id) == [PROJECT_B]
        user = identity("bob").user_id
        for method in ("PUT", "DELETE"):  # 501: Nova has no per-user access; nothing changes
            error = await calls.answer(method, f"{kind}/shares/users/{user}", ADMIN)
            assert "projects only" in error["error"]["message"]
            assert flavor_access(nova_as, flavor_id) == [PROJECT_B]
        await calls.answer("DELETE", f"{kind}/shares/projects/{PROJECT_B}", ADMIN)
        assert flavor_access(nova_as, flavor_id) == []
    finally:
        for flavor_id in flavor_ids:
            admin.delete(f"/flavors/{flavor_id}", headers=MV)
        for group_id in group_ids:
            member.delete(f"/os-server-groups/{group_id}", headers=MV)
        forget_servers(server_ids)
    # Every named route the spec has was called (and answered its listed status).
    assert calls.called == {(r.method, r.uri) for r in calls.routes}
