"""Keypairs, the proxy's extension (GET /keypairs, GET /keypairs/{keypair}):
the caller's own Nova keypairs, by the vNext ids a launch takes and a
launched server shows as launch_keypair_id; nobody else's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jsonschema.validators import validator_for
from users import identity, token

from vnext_proxy.config import DEFAULT_ID_NAMESPACE
from vnext_proxy.devcloud.identities import PROJECT_A
from vnext_proxy.mapping.ids import format_timestamp, keypair_id

IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
MV = {"OpenStack-API-Version": "compute 2.100"}
ALICE, MARY, BOB = "alice", "mary", "bob"
# Mary's keypair has the name of one of Alice's: Nova keeps keypairs per user.
OWNED = {ALICE: ("kp-ext-one", "kp-ext-two"), MARY: ("kp-ext-one",)}


def headers(user: str) -> dict[str, str]:
    return {"X-Auth-Token": token(user)}


def vnext_id(user: str, name: str) -> str:
    return keypair_id(DEFAULT_ID_NAMESPACE, identity(user).user_id, name)


@pytest.fixture(scope="module")
def nova_keypairs(nova_as) -> Iterator[dict[tuple[str, str], dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """The keypairs of OWNED, made in Nova directly; Nova's detail of each, by (user, name)."""
    made: dict[tuple[str, str], dict[str, Any]] = {}
    try:
        for user, names in OWNED.items():
            nova = nova_as(user)
            for name in names:
                key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
                body = {"keypair": {"name": name, "public_key": f"{key.decode()} {name}"}}
                resp = nova.compute.post("/os-keypairs", json=body, headers=MV)
                assert resp.status_code == 201, resp.text
                made[(user, name)] = nova.compute.get(f"/os-keypairs/{name}", headers=MV).json()["keypair"]
        yield made
    finally:
        for user, name in made:
            nova_as(user).compute.delete(f"/os-keypairs/{name}", headers=MV)


async def listed(proxy: TestClient, user: str, query: str = "") -> tuple[dict[str, Any], int]:
    """GET /keypairs: the body and how many Nova calls it took."""
    resp = await proxy.get(f"/keypairs{query}", headers=headers(user))
    assert resp.status == 200, await resp.text()
    return await resp.json(), len(resp.headers["X-VNext-Backend-Request-Ids"].split(","))


async def test_the_list_is_the_callers_keypairs_by_the_ids_a_launch_takes(  # type: ignore[no-untyped-def]
    proxy: TestClient, nova_keypairs
) -> None:
    schema = await (await proxy.get("/schemas/keypair")).json()
    validator = validator_for(schema)(schema)
    first, first_calls = await listed(proxy, ALICE)
    mine = {k["name"]: k for k in first["keypairs"] if k["name"].startswith("kp-ext-")}
    assert set(mine) == set(OWNED[ALICE])
    for name, keypair in mine.items():
        nova = nova_keypairs[(ALICE, name)]
        assert keypair == {
            "id": vnext_id(ALICE, name),
            "name": name,
            "fingerprint": nova["fingerprint"],
            "type": nova["type"],
            # Nova's list has no created time; GET /keypairs/{keypair} has it.
            "created_at": None,
            "_links": {
                "self": {"href": f"/keypairs/{vnext_id(ALICE, name)}"},
                "describedby": {"href": "/schemas/keypair"},
            },
        }
        assert keypair["type"] == "ssh"
        assert not list(validator.iter_errors(keypair))
    assert first["_links"] == {"self": {"href": "/keypairs"}}
    # The owner is learnt from one keypair's detail, once per token: then one list call.
    assert first_calls == 2
    again, calls = await listed(proxy, ALICE)
    assert again == first
    assert calls == 1
    # Mary, same project, other user: her keypair of the same name, by her id, and none of Alice's.
    hers, _ = await listed(proxy, MARY)
    assert [(k["name"], k["id"]) for k in hers["keypairs"] if k["name"].startswith("kp-ext-")] == [
        ("kp-ext-one", vnext_id(MARY, "kp-ext-one"))
    ]
    assert vnext_id(MARY, "kp-ext-one") != vnext_id(ALICE, "kp-ext-one")
    (her_key,) = (k for k in hers["keypairs"] if k["name"] == "kp-ext-one")
    assert her_key["fingerprint"] == nova_keypairs[(MARY, "kp-ext-one")]["fingerprint"]
    bobs, _ = await listed(proxy, BOB)
    assert not [k for k in bobs["keypairs"] if k["name"].startswith("kp-ext-")]


async def test_a_keypair_by_id_or_name_with_novas_created_time(  # type: ignore[no-untyped-def]
    proxy: TestClient, nova_keypairs
) -> None:
    nova = nova_keypairs[(ALICE, "kp-ext-two")]
    kid = vnext_id(ALICE, "kp-ext-two")
    await listed(proxy, ALICE)  # the owner is learnt: a keypair is then the list and its detail
    for wanted in (kid, "kp-ext-two"):
        resp = await proxy.get(f"/keypairs/{wanted}", headers=headers(ALICE))
        assert resp.status == 200, await resp.text()
        assert await resp.json() == {
            "id": kid,
            "name": "kp-ext-two",
            "fingerprint": nova["fingerprint"],
            "type": "ssh",
            "created_at": format_timestamp(nova["created_at"]),
            "_links": {"self": {"href": f"/keypairs/{kid}"}, "describedby": {"href": "/schemas/keypair"}},
        }
        assert len(resp.headers["X-VNext-Backend-Request-Ids"].split(",")) == 2
    # The same name is Mary's own keypair for Mary, and Alice's id is not hers to see.
    resp = await proxy.get("/keypairs/kp-ext-one", headers=headers(MARY))
    assert (await resp.json())["id"] == vnext_id(MARY, "kp-ext-one")
    for user, wanted in ((MARY, kid), (MARY, "kp-ext-two"), (BOB, kid), (BOB, vnext_id(MARY, "kp-ext-one"))):
        resp = await proxy.get(f"/keypairs/{wanted}", headers=headers(user))
        assert resp.status == 404, (user, wanted)
        error = (await resp.json())["error"]
        assert error["code"] == 404
        assert "GET /keypairs lists yours" in error["message"]
    # What cannot be a keypair is 404 before Nova is asked.
    resp = await proxy.get("/keypairs/kp!ext", headers=headers(ALICE))
    assert resp.status == 404
    assert (await resp.json())["error"]["message"] == "no keypair 'kp!ext'"
    assert "X-VNext-Backend-Request-Ids" not in resp.headers


async def test_the_list_pages_by_vnext_id(proxy: TestClient, nova_keypairs) -> None:  # type: ignore[no-untyped-def]
    whole, _ = await listed(proxy, ALICE)
    seen: list[str] = []
    query = "?limit=1"
    while True:
        page, _ = await listed(proxy, ALICE, query)
        assert len(page["keypairs"]) == 1
        seen.append(page["keypairs"][0]["id"])
        if "next" not in page["_links"]:
            break
        query = page["_links"]["next"]["href"].removeprefix("/keypairs")
        assert query == f"?limit=1&marker={seen[-1]}"
    assert seen == [k["id"] for k in whole["keypairs"]]
    assert len(seen) >= 2
    resp = await proxy.get("/keypairs?limit=0", headers=headers(ALICE))
    assert resp.status == 400
    assert (await resp.json())["error"]["field"] == "limit"
    resp = await proxy.get(f"/keypairs?marker={vnext_id(MARY, 'kp-ext-one')}", headers=headers(ALICE))
    assert resp.status == 400
    assert (await resp.json())["error"]["field"] == "marker"


def nova_server_ids(nova_as) -> set[str]:  # type: ignore[no-untyped-def]
    return {s["id"] for s in nova_as(ALICE).compute.get("/servers/detail", headers=MV).json()["servers"]}


async def test_a_listed_id_launches_and_another_is_refused_with_the_hint(  # type: ignore[no-untyped-def]
    proxy: TestClient, nova_as, forget_servers, nova_keypairs
) -> None:
    types = (await (await proxy.get("/server_types", headers=headers(ALICE))).json())["server_types"]
    tiny = next(t["id"] for t in types if t["name"] == "m1.tiny")
    page, _ = await listed(proxy, ALICE)
    kid = next(k["id"] for k in page["keypairs"] if k["name"] == "kp-ext-one")
    before = nova_server_ids(nova_as)
    # Another user's keypair, and one that does not exist: refused, naming the field, with where to look.
    for refused in (vnext_id(MARY, "kp-ext-one"), "00000000-0000-4000-8000-0000000000aa"):
        body = {"defaults": {"keypair_id": refused, "type_id": tiny, "template_id": IMAGE},
                "servers": [{"hostname": "kp-ext-refused"}]}  # fmt: skip
        resp = await proxy.post(f"/projects/{PROJECT_A}/servers", json=body, headers=headers(ALICE))
        assert resp.status == 400, await resp.text()
        (problem,) = (await resp.json())["error"]["problems"]
        assert problem == {
            "field": "servers[0].keypair_id",
            "message": f"no keypair of yours '{refused}': GET /keypairs lists yours",
        }
    assert nova_server_ids(nova_as) == before
    body = {"defaults": {"keypair_id": kid, "type_id": tiny, "template_id": IMAGE},
            "servers": [{"hostname": "kp-ext-launched"}]}  # fmt: skip
    resp = await proxy.post(f"/projects/{PROJECT_A}/servers", json=body, headers=headers(ALICE))
    assert resp.status == 202, await resp.text()
    (launched,) = await resp.json()
    try:
        task_href = launched["_links"]["rel/server_task"]["href"]
        for _ in range(120):
            task = await (await proxy.get(task_href, headers=headers(ALICE))).json()
            if task["state"] != "RUNNING":
                break
            await asyncio.sleep(0.5)
        assert task["state"] == "COMPLETED", task
        server = nova_as(ALICE).compute.get(f"/servers/{launched['id']}", headers=MV).json()["server"]
        assert server["key_name"] == "kp-ext-one"
        view = await (await proxy.get(f"/servers/{launched['id']}", headers=headers(ALICE))).json()
        assert view["launch_keypair_id"] == kid
    finally:
        forget_servers([launched["id"]])
