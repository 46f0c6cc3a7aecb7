"""The whole chain: a vNext client -> the proxy -> devcloud (the real Nova)."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

from aiohttp.test_utils import TestClient
from helpers import free_port
from users import auth

from vnext_proxy.config import DEFAULT_ID_NAMESPACE
from vnext_proxy.mapping import ids

MEMBER = auth("alice")


async def test_json_home_is_served_without_a_token(proxy: TestClient) -> None:
    resp = await proxy.get("/")
    assert resp.status == 200
    assert resp.content_type == "application/json-home"
    home = await resp.json(content_type=None)
    types = home["resources"]["rel/server_types"]
    assert types["href-template"] == "/server_types{?limit,marker,tag}"
    assert types["hints"]["allow"] == ["GET", "POST"]


async def test_server_types_are_novas_flavors(proxy: TestClient, nova_as) -> None:  # type: ignore[no-untyped-def]
    resp = await proxy.get("/server_types", headers=MEMBER)
    assert resp.status == 200
    body = await resp.json()
    by_name = {t["name"]: t for t in body["server_types"]}
    flavors = list(nova_as("alice").compute.flavors(details=True))
    assert set(by_name) == {f.name for f in flavors}
    assert {"m1.tiny", "m1.small"} <= set(by_name)
    for flavor in flavors:
        vnext = by_name[flavor.name]
        assert vnext["id"] == ids.vnext_id(DEFAULT_ID_NAMESPACE, "flavor", flavor.id)
        assert vnext["spec"]["memory_mb"] == flavor.ram
        assert vnext["spec"]["cpu_units"] == flavor.vcpus
        assert vnext["spec"]["root_disk_gb"] == flavor.disk
        assert vnext["visibility"] == ("PUBLIC" if flavor.is_public else "PRIVATE")
        assert vnext["_links"]["self"]["href"] == f"/server_types/{vnext['id']}"
    # The request reached Nova, and Nova's request id came back with it.
    assert resp.headers["X-VNext-Backend-Request-Ids"].startswith("req-")


async def test_paging_is_passed_to_nova(proxy: TestClient) -> None:
    resp = await proxy.get("/server_types?limit=2", headers=MEMBER)
    body = await resp.json()
    assert [t["name"] for t in body["server_types"]] == ["m1.tiny", "m1.small"]
    assert body["_links"]["self"]["href"] == "/server_types?limit=2"


async def test_no_token_is_401_before_any_nova_call(proxy: TestClient) -> None:
    resp = await proxy.get("/server_types")
    assert resp.status == 401
    body = await resp.json()
    assert body["error"]["code"] == 401
    assert "X-Auth-Token" in body["error"]["message"]
    assert "X-VNext-Backend-Request-Ids" not in resp.headers


async def test_a_token_nova_refuses_is_401(proxy: TestClient) -> None:
    resp = await proxy.get("/server_types", headers={"X-Auth-Token": "stolen"})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == 401


async def test_caller_request_id_is_kept(proxy: TestClient) -> None:
    request_id = f"req-{uuid.uuid4()}"
    resp = await proxy.get("/server_types?limit=1", headers={**MEMBER, "X-OpenStack-Request-ID": request_id})
    assert resp.headers["X-OpenStack-Request-ID"] == request_id
    garbage = await proxy.get("/", headers={"X-OpenStack-Request-ID": "not an id\u00e9"})
    assert garbage.headers["X-OpenStack-Request-ID"].startswith("req-")


async def test_nova_errors_come_back_as_vnext_json(proxy: TestClient) -> None:
    resp = await proxy.get("/servers?marker=no-such-server", headers=MEMBER)
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert "no-such-server" in error["message"]
    assert error["request_id"] == resp.headers["X-OpenStack-Request-ID"]


async def test_unknown_route_and_method_are_json(proxy: TestClient) -> None:
    resp = await proxy.get("/flavors", headers=MEMBER)
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == 404
    resp = await proxy.delete("/server_types", headers=MEMBER)
    assert resp.status == 405
    assert set(resp.headers["Allow"].split(",")) == {"GET", "POST"}


async def test_explain_shows_the_nova_calls(aiohttp_client, proxy_settings, mappings) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from vnext_proxy.web.app import create_app

    explained = await aiohttp_client(create_app(dataclasses.replace(proxy_settings, explain=True), mappings))
    resp = await explained.get("/server_types?limit=1", headers={**MEMBER, "X-VNext-Explain": "1"})
    (call,) = (await resp.json())["_explain"]["nova_calls"]
    assert call["method"] == "GET"
    assert call["path"] == "/flavors/detail"
    assert call["microversion"] == proxy_settings.nova.microversion
    assert call["status"] == 200
    assert call["request_id"] == resp.headers["X-VNext-Backend-Request-Ids"]
    plain = await explained.get("/server_types?limit=1", headers=MEMBER)
    assert "_explain" not in await plain.json()
    # An error answer never shows Nova's calls: they could tell a hidden 403 from a 404.
    refused = await explained.get(f"/servers/{uuid.uuid4()}", headers={**MEMBER, "X-VNext-Explain": "1"})
    assert refused.status == 404
    assert "_explain" not in await refused.json()


async def test_explain_is_off_unless_configured(proxy: TestClient) -> None:
    resp = await proxy.get("/server_types?limit=1", headers={**MEMBER, "X-VNext-Explain": "1"})
    assert "_explain" not in await resp.json()


def test_demo_shows_data_that_came_from_nova(devcloud: str) -> None:
    """The README's demo: its own devcloud and proxy, example calls, real answers."""
    result = subprocess.run(
        [sys.executable, "-m", "vnext_proxy", "demo", "--once", "--port", str(free_port()),
         "--nova-port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    # The demo signed in to its Keystone, and shows the calls with that token.
    assert re.search(r'^export TOKEN="gAAAAA[\w-]{100,}"$', result.stdout, re.MULTILINE), result.stdout
    assert 'curl -s -H "X-Auth-Token: $TOKEN"' in result.stdout
    assert '"name": "m1.tiny"' in result.stdout
    assert '"memory_mb": 512' in result.stdout
