"""The side-by-side data (what the compare, coverage and timeline pages show),
against devcloud: each vNext field beside the Nova field it came from, as
Nova holds it, with the caller's token deciding what is shown."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from users import token

from vnext_proxy.config import Settings
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.app import create_app

MEMBER_A = "alice"
MEMBER_B = "bob"
ADMIN = "admin"
JSON = {"Accept": "application/json"}
MV = {"OpenStack-API-Version": "compute 2.100"}


def auth(user: str) -> dict[str, str]:
    return {"X-Auth-Token": token(user), **JSON}


def row(page: dict[str, Any], field: str) -> dict[str, Any]:
    (found,) = [r for r in page["fields"] if r["field"] == field]
    return found


@pytest.fixture(scope="module")
def server_id(boot_server, forget_servers) -> Iterator[str]:  # type: ignore[no-untyped-def]
    booted = boot_server("side-by-side")
    yield booted
    forget_servers([booted])


async def test_a_server_beside_novas_server(proxy: TestClient, server_id: str, nova_as) -> None:  # type: ignore[no-untyped-def]
    resp = await proxy.get(f"/_compare/servers/{server_id}", headers=auth(MEMBER_A))
    assert resp.status == 200, await resp.text()
    page = await resp.json()
    nova = nova_as(MEMBER_A).compute.get(f"/servers/{server_id}", microversion="2.100").json()["server"]
    vnext = await (await proxy.get(f"/servers/{server_id}", headers=auth(MEMBER_A))).json()
    assert page["vnext"] == vnext
    virt = row(page, "virt_state")
    assert virt["nova_fields"] == ["OS-EXT-STS:vm_state"]
    assert virt["nova_values"] == {"OS-EXT-STS:vm_state": nova["OS-EXT-STS:vm_state"]}
    assert virt["value"] == vnext["virt_state"] == nova["OS-EXT-STS:vm_state"].upper()
    assert f"{nova['OS-EXT-STS:vm_state']} → {vnext['virt_state']}" in virt["transform"]
    assert virt["declared_at"].startswith("mappings/servers.yaml:")
    hostname = row(page, "hostname")
    assert hostname["value"] == nova["OS-EXT-SRV-ATTR:hostname"]
    assert hostname["nova_values"] == {"OS-EXT-SRV-ATTR:hostname": nova["OS-EXT-SRV-ATTR:hostname"]}
    assert row(page, "spec.memory_mb")["nova_values"] == {"flavor.ram": nova["flavor"]["ram"]}
    # Nova's fields that vNext does not show are listed with Nova's values.
    assert page["nova_only"]["name"] == nova["name"] == "side-by-side"
    assert page["nova_only"]["config_drive"] == nova["config_drive"]
    assert "OS-EXT-STS:vm_state" not in page["nova_only"]
    assert not set(page["nova_only"]) & {p for r in page["fields"] for p in r["nova_fields"]}
    # The Nova calls made for it, as explain shows them.
    call = next(c for c in page["nova_calls"] if c["path"] == f"/servers/{server_id}")
    assert (call["method"], call["status"], call["microversion"]) == ("GET", 200, "2.100")
    assert call["request_id"].startswith("req-")


async def test_a_server_type_beside_novas_flavor(proxy: TestClient, nova_as) -> None:  # type: ignore[no-untyped-def]
    types = (await (await proxy.get("/server_types", headers=auth(MEMBER_A))).json())["server_types"]
    small = next(t for t in types if t["name"] == "m1.small")
    page = await (await proxy.get(f"/_compare/server_types/{small['id']}", headers=auth(MEMBER_A))).json()
    flavor = next(f for f in nova_as(MEMBER_A).compute.flavors() if f.name == "m1.small")
    memory = row(page, "spec.memory_mb")
    assert (memory["value"], memory["nova_values"]) == (flavor.ram, {"ram": flavor.ram})
    ident = row(page, "id")
    assert ident["nova_values"] == {"id": flavor.id}
    assert "UUIDv5" in ident["transform"]
    tags = row(page, "tags")
    assert tags["nova_fields"] == ["extra_specs"]
    assert tags["transform"].startswith("hook flavor_tags:")


async def test_what_a_token_cannot_read_it_cannot_compare(proxy: TestClient, server_id: str) -> None:
    assert (await proxy.get(f"/_compare/servers/{server_id}", headers=JSON)).status == 401
    other = await proxy.get(f"/_compare/servers/{server_id}", headers=auth(MEMBER_B))
    assert other.status == 404
    assert (await proxy.get(f"/servers/{server_id}", headers=auth(MEMBER_B))).status == 404
    bad = await proxy.get("/_compare/servers/..%2f..%2fflavors", headers=auth(MEMBER_A))
    assert bad.status == 404


async def test_the_page_itself_holds_no_data_and_no_token(proxy: TestClient, server_id: str) -> None:
    resp = await proxy.get(
        f"/_compare/servers/{server_id}", headers={"X-Auth-Token": token(MEMBER_A), "Accept": "text/html"}
    )
    assert resp.status == 200
    assert resp.content_type == "text/html"
    text = await resp.text()
    assert token(MEMBER_A) not in text
    assert server_id not in text
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]


async def test_a_resize_task_on_a_timeline_beside_novas_action(proxy: TestClient, server_id: str, nova_as) -> None:  # type: ignore[no-untyped-def]
    types = (await (await proxy.get("/server_types", headers=auth(MEMBER_A))).json())["server_types"]
    small = next(t for t in types if t["name"] == "m1.small")
    resp = await proxy.post(
        f"/servers/{server_id}/tasks", json={"action": "RESIZE", "type_id": small["id"]}, headers=auth(MEMBER_A)
    )
    assert resp.status == 202, await resp.text()
    task = await resp.json()
    deadline = time.monotonic() + 120
    while task["state"] == "RUNNING":
        assert time.monotonic() < deadline
        await asyncio.sleep(1)
        task = await (await proxy.get(f"/server_tasks/{task['id']}", headers=auth(MEMBER_A))).json()
    assert task["state"] == "COMPLETED"
    nova_action = (
        nova_as(MEMBER_A)
        .compute.get(f"/servers/{server_id}/os-instance-actions/{task['nova_request_id']}", microversion="2.100")
        .json()["instanceAction"]
    )
    page = await (await proxy.get(f"/_compare/server_tasks/{task['id']}", headers=auth(MEMBER_A))).json()
    assert row(page, "action")["nova_values"] == {"action": nova_action["action"]} == {"action": "resize"}
    assert row(page, "nova_request_id")["value"] == nova_action["request_id"]
    assert row(page, "action")["declared_at"].startswith("mappings/server_tasks.yaml:")
    assert [e["event"] for e in page["nova_only"]["events"]] == [e["event"] for e in nova_action["events"]]
    timeline = await (await proxy.get(f"/_timeline/server_tasks/{task['id']}", headers=auth(MEMBER_A))).json()
    assert timeline["task"]["id"] == task["id"]
    actions = [s["action"] for s in timeline["steps"]]
    assert actions, timeline
    assert all(s["seconds"] is not None and s["seconds"] >= 0 for s in timeline["steps"])
    assert timeline["nova_action"]["events"] == nova_action["events"]
    assert timeline["server_now"]["vm_state"] == "active"
    assert any(c["path"].endswith(f"/os-instance-actions/{task['nova_request_id']}") for c in timeline["nova_calls"])
    for step in timeline["steps"]:
        assert step["nova_task_states"] or step["nova_events"], step


async def test_coverage_lists_both_revisions_with_live_figures(
    proxy: TestClient, mappings: MappingSet, server_id: str
) -> None:
    for _ in range(3):
        assert (await proxy.get(f"/servers/{server_id}", headers=auth(MEMBER_A))).status == 200
    assert (await proxy.get(f"/servers/{server_id}", headers=auth(MEMBER_B))).status == 404
    page = await (await proxy.get("/_coverage", headers=JSON)).json()
    assert page["mappings_version"] == mappings.version
    assert len(page["rows"]) == len(mappings.gap_rows)
    by_route = [r for r in page["rows"] if r["route"] == "GET /servers/{server_id}"]
    assert by_route, [r["route"] for r in page["rows"]][:20]
    figures = by_route[0]["figures"]
    assert figures["requests"] == 4
    assert figures["client_error_share"] == 0.25
    assert figures["p50_ms"] > 0
    applicable = [r for r in page["rows"] if r["status"] == "not_applicable"]
    assert applicable
    assert all(r["reason"] for r in applicable)
    # Both revisions' rows, in the tables' order; rows only the later one has say so.
    assert [r["purpose"] for r in page["rows"]] == list(mappings.gap_rows)
    later_only = {p for p, gap in mappings.gap_rows.items() if gap.revisions == ("later",)}
    assert later_only
    assert {r["purpose"] for r in page["rows"] if r["spec"] == "later"} == later_only


async def test_an_operator_may_turn_the_pages_off(
    aiohttp_client, proxy_settings: Settings, mappings: MappingSet, server_id: str
) -> None:  # type: ignore[no-untyped-def]
    off = await aiohttp_client(create_app(dataclasses.replace(proxy_settings, ui_enabled=False), mappings))
    for path in (f"/_compare/servers/{server_id}", "/_coverage", "/_ui/ui.js"):
        resp = await off.get(path, headers=auth(MEMBER_A))
        assert resp.status == 404
        assert "ui.enabled" in (await resp.json())["error"]["message"]
