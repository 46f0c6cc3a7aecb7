"""Nova down or slow: 503 with Retry-After, in time, never a hang or a traceback."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp.test_utils import TestClient
from helpers import refused_port

from vnext_proxy.config import NovaSettings, Settings
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.app import create_app

MEMBER = {"X-Auth-Token": "any-token"}


async def test_nova_down_is_503(aiohttp_client, mappings: MappingSet) -> None:  # type: ignore[no-untyped-def]
    with refused_port() as nova_port:
        settings = Settings(nova=NovaSettings(endpoint=f"http://127.0.0.1:{nova_port}/v2.1"))
        proxy: TestClient = await aiohttp_client(create_app(settings, mappings))
        resp = await proxy.get("/servers/4bc17469-d2c0-40a3-8e4b-75b9271f97b2", headers=MEMBER)
    assert resp.status == 503
    assert int(resp.headers["Retry-After"]) > 0
    body = await resp.json()
    assert body["error"]["code"] == 503
    assert "Traceback" not in await resp.text()
    # Discovery does not need Nova and keeps working.
    assert (await proxy.get("/")).status == 200


async def test_slow_nova_is_503_within_the_timeout(aiohttp_client, aiohttp_server, mappings: MappingSet) -> None:  # type: ignore[no-untyped-def]
    async def stall(request: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return web.json_response({})

    slow = web.Application()
    slow.router.add_get("/v2.1/{tail:.*}", stall)
    server = await aiohttp_server(slow)
    settings = Settings(nova=NovaSettings(endpoint=str(server.make_url("/v2.1")), request_timeout=0.5))
    proxy: TestClient = await aiohttp_client(create_app(settings, mappings))
    started = time.monotonic()
    resp = await proxy.get("/server_types", headers=MEMBER)
    assert resp.status == 503
    assert time.monotonic() - started < 8  # the stand-in holds its answer 10 s
    assert "0.5s" in (await resp.json())["error"]["message"]
