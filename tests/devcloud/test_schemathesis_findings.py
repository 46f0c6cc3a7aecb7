"""What schemathesis found against devcloud (tests/devcloud/test_schemathesis.py),
each pinned by a test of its own that failed before the fix."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from jsonschema import Draft4Validator
from users import auth, identity

from vnext_proxy.devcloud.identities import PROJECT_A
from vnext_proxy.web.keys import STORE

MEMBER = auth("alice")
MV = {"OpenStack-API-Version": "compute 2.100"}
IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmqrTPzc3bR1D1hvPhTVRWLexGkg1Ez/3y4fW6xK4Mm findings"


def published(name: str) -> Draft4Validator:
    text = resources.files("vnext_proxy").joinpath(f"mappings/schemas/{name}.json").read_text(encoding="utf-8")
    return Draft4Validator(json.loads(text))


async def test_a_server_group_without_description_or_defaults_is_its_published_schema(  # type: ignore[no-untyped-def]
    proxy: TestClient, nova_as
) -> None:
    """Found: POST /projects/{project}/server_groups answered 201 with
    "description": null, which the published schema (a string) refuses; and
    "defaults": {}, which it refuses too (defaults name a template and a type).
    What the group has no value for is left out instead."""
    schema = published("server_group")
    resp = await proxy.post(f"/projects/{PROJECT_A}/server_groups", json={"name": "Bare group"}, headers=MEMBER)
    assert resp.status == 201, await resp.text()
    group = await resp.json()
    try:
        by_id = await (await proxy.get(f"/server_groups/{group['id']}", headers=MEMBER)).json()
        by_slug = await (await proxy.get(f"/projects/{PROJECT_A}/server_groups/bare-group", headers=MEMBER)).json()
        listed = await (await proxy.get(f"/projects/{PROJECT_A}/server_groups", headers=MEMBER)).json()
        (in_list,) = [g for g in listed["server_groups"] if g["id"] == group["id"]]
        for shown in (group, by_id, by_slug, in_list):
            assert sorted(e.message for e in schema.iter_errors(shown)) == []
            assert "description" not in shown
            assert "defaults" not in shown
            assert shown["name"] == "Bare group"
            assert shown["tags"] == []
        # Given, they are shown.
        full = {"name": "Full group", "description": "", "defaults": {"template_id": "155d900f-4e14-4e4c-a73d-069cbf4541e6",
                "type_id": "f56387ad-14a3-5f59-8f2a-0ae85d0736f3"}}  # fmt: skip
        made = await proxy.post(f"/projects/{PROJECT_A}/server_groups", json=full, headers=MEMBER)
        assert made.status == 201, await made.text()
        shown_full: dict[str, Any] = await made.json()
        nova_as("alice").compute.delete(f"/os-server-groups/{shown_full['id']}", headers=MV)
        assert sorted(e.message for e in schema.iter_errors(shown_full)) == []
        assert (shown_full["description"], shown_full["defaults"]) == (full["description"], full["defaults"])
    finally:
        nova_as("alice").compute.delete(f"/os-server-groups/{group['id']}", headers=MV)


async def test_a_launchs_create_task_names_who_launched_it_at_once(  # type: ignore[no-untyped-def]
    proxy: TestClient, nova_as, forget_servers
) -> None:
    """Found: GET /server_tasks/{id} of a CREATE task read right after the
    launch answered "created_by": null, which the published schema refuses
    (a required string): Nova records the create action, which names the
    user, a moment later. The launcher is the caller, whom the launch knows
    from its keypair, so the task names them from the start."""
    nova = nova_as("alice").compute
    key = nova.post("/os-keypairs", json={"keypair": {"name": "findings", "public_key": PUBLIC_KEY}}, headers=MV)
    assert key.status_code == 201, key.text
    server_ids: list[str] = []
    try:
        keypairs = await (await proxy.get("/keypairs", headers=MEMBER)).json()
        key_id = next(k["id"] for k in keypairs["keypairs"] if k["name"] == "findings")
        types = await (await proxy.get("/server_types/m1.tiny", headers=MEMBER)).json()
        body = {
            "defaults": {"keypair_id": key_id, "type_id": types["id"], "template_id": IMAGE},
            "servers": [{"hostname": "findings"}],
        }
        resp = await proxy.post(f"/projects/{PROJECT_A}/servers", json=body, headers=MEMBER)
        assert resp.status == 202, await resp.text()
        (launched,) = await resp.json()
        server_ids.append(launched["id"])
        task_id = launched["_links"]["rel/server_task"]["href"].rsplit("/", 1)[-1]
        # As recorded, before anything has read Nova's action.
        recorded = await proxy.app[STORE].get_task(task_id)
        assert recorded is not None
        assert recorded.created_by == identity("alice").user_id
        shown = await (await proxy.get(f"/server_tasks/{task_id}", headers=MEMBER)).json()
        assert sorted(e.message for e in published("server_task").iter_errors(shown)) == []
        assert shown["created_by"] == identity("alice").user_id
    finally:
        forget_servers(server_ids)
        nova.delete("/os-keypairs/findings", headers=MV)


@pytest.mark.xfail(
    strict=True,
    reason="web layer: aiohttp's HTTP parser answers a request target over 8190 bytes with a plain-text 400 "
    "before the app runs; the proxy should answer the JSON error (414). When it does, drop this mark and "
    "REQUEST_TARGET_LIMIT's special case in test_schemathesis.py.",
)
async def test_an_overlong_request_target_is_the_json_error(proxy: TestClient) -> None:
    """Found: GET /servers with 20 values of 255 characters for each filter
    (what the document allows) is longer than aiohttp takes; its refusal is
    text/plain, not the one error shape the document promises."""
    query = "&".join(f"virt_state={'%C3%A9' * 255}" for _ in range(20))
    resp = await proxy.get(f"/servers?{query}", headers=MEMBER)
    assert resp.status in (400, 414)
    assert resp.content_type == "application/json"
    assert (await resp.json())["error"]["code"] == resp.status
