"""Health, metrics, the access log, and the limits every request meets.

Nova here is a small in-process stand-in: these are the proxy's own behaviours."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from vnext_proxy.config import NovaSettings, Settings
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.app import create_app

SECRET = "secret-token-0123456789"
FLAVOR = {"id": "1", "name": "m1.tiny", "ram": 512, "disk": 1, "vcpus": 1, "swap": 0, "rxtx_factor": 1.0,
          "description": None, "os-flavor-access:is_public": True, "extra_specs": {}}  # fmt: skip


async def stand_in(aiohttp_server, stall: float = 0.0) -> str:  # type: ignore[no-untyped-def]
    async def versions(request: web.Request) -> web.Response:
        return web.json_response({"versions": [{"id": "v2.1", "version": "2.104", "min_version": "2.1"}]})

    async def flavors(request: web.Request) -> web.Response:
        await asyncio.sleep(stall)
        return web.json_response({"flavors": [FLAVOR]}, headers={"x-openstack-request-id": "req-standin"})

    app = web.Application()
    app.router.add_get("/", versions)
    app.router.add_get("/v2.1/flavors/detail", flavors)
    server = await aiohttp_server(app)
    return str(server.make_url("/v2.1"))


async def proxy_for(aiohttp_client, endpoint: str, mappings: MappingSet, tmp_path, **changes) -> TestClient:  # type: ignore[no-untyped-def]
    settings = dataclasses.replace(
        Settings(nova=NovaSettings(endpoint=endpoint)), store_url=f"sqlite:///{tmp_path}/t.sqlite3", **changes
    )
    client: TestClient = await aiohttp_client(create_app(settings, mappings))
    return client


async def test_healthcheck_says_whether_nova_answers(aiohttp_client, aiohttp_server, mappings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    proxy = await proxy_for(aiohttp_client, await stand_in(aiohttp_server), mappings, tmp_path)
    health = await (await proxy.get("/healthcheck")).json()
    assert (health["proxy"], health["nova"]) == ("up", "up")
    assert health["mappings"]["version"] == mappings.version
    down = await proxy_for(aiohttp_client, "http://127.0.0.1:9/v2.1", mappings, tmp_path)
    resp = await down.get("/healthcheck")
    assert resp.status == 200
    assert (await resp.json())["nova"].startswith("down")


async def test_metrics_count_requests_and_nova_calls(aiohttp_client, aiohttp_server, mappings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    proxy = await proxy_for(aiohttp_client, await stand_in(aiohttp_server), mappings, tmp_path)
    assert (await proxy.get("/server_types", headers={"X-Auth-Token": SECRET})).status == 200
    assert (await proxy.get("/server_types")).status == 401
    text = await (await proxy.get("/metrics")).text()
    assert 'vnext_requests_total{method="GET",route="/server_types",status="200"} 1.0' in text
    assert 'vnext_requests_total{method="GET",route="/server_types",status="401"} 1.0' in text
    assert 'vnext_nova_calls_total{method="GET",status="200"} 1.0' in text
    assert "vnext_request_seconds_bucket" in text
    assert "vnext_running_tasks" in text
    assert 'python_gc_collections_total{generation="0"}' in text


async def test_access_log_is_json_and_never_holds_a_token(
    aiohttp_client, aiohttp_server, mappings, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    proxy = await proxy_for(aiohttp_client, await stand_in(aiohttp_server), mappings, tmp_path)
    with caplog.at_level(logging.DEBUG):
        await proxy.get("/server_types?limit=1", headers={"X-Auth-Token": SECRET})
        await proxy.post(
            "/servers/00000000-0000-4000-8000-000000000001/tasks",
            data="{",
            headers={"X-Auth-Token": SECRET, "Content-Type": "application/json"},
        )
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "vnext_proxy.access"]
    assert [line["status"] for line in lines] == [200, 400]
    assert lines[0]["route"] == "/server_types"
    assert lines[0]["nova_request_ids"] == ["req-standin"]
    assert lines[0]["request_id"].startswith("req-")
    assert SECRET not in caplog.text


async def test_body_too_large_is_413(aiohttp_client, aiohttp_server, mappings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    proxy = await proxy_for(aiohttp_client, await stand_in(aiohttp_server), mappings, tmp_path, max_body_bytes=2048)
    big = json.dumps({"action": "SNAPSHOT", "name": "x" * 5000})
    resp = await proxy.post(
        "/servers/00000000-0000-4000-8000-000000000001/tasks",
        data=big,
        headers={"X-Auth-Token": SECRET, "Content-Type": "application/json"},
    )
    assert resp.status == 413
    assert (await resp.json())["error"]["code"] == 413


async def test_a_request_past_its_deadline_is_503(aiohttp_client, aiohttp_server, mappings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    endpoint = await stand_in(aiohttp_server, stall=5)
    proxy = await proxy_for(aiohttp_client, endpoint, mappings, tmp_path, request_timeout=0.3)
    resp = await proxy.get("/server_types", headers={"X-Auth-Token": SECRET})
    assert resp.status == 503
    assert resp.headers["Retry-After"]
    assert "0.3s" in (await resp.json())["error"]["message"]
