"""Whatever a caller sends to whichever route, the proxy answers with a JSON
error of the right kind, never a 500. Nova here answers every call with a
404 (or with junk), which every route must survive."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from vnext_proxy.config import NovaSettings, Settings
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.app import create_app

ODD_VALUES = ["x", "00000000-0000-0000-0000-000000000000", "%2e%2e", "ü", "a b", "9" * 300]
ODD_BODIES: list[Any] = [None, "{", [], {}, {"action": 1}, {"servers": "x"}, {"a": {"b": [None] * 3}}, "x" * 10_000]


async def nova_stand_in(aiohttp_server, junk: str) -> str:  # type: ignore[no-untyped-def]
    async def anything(request: web.Request) -> web.Response:
        if request.path == "/":
            return web.json_response({"versions": []})
        if junk == "html":
            return web.Response(text="<html>not json</html>", content_type="text/html")
        if junk == "empty-json":
            return web.json_response({})
        return web.json_response({"itemNotFound": {"code": 404, "message": "not here"}}, status=404)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    server = await aiohttp_server(app)
    return str(server.make_url("/v2.1"))


def concrete_paths(mappings: MappingSet) -> list[tuple[str, str]]:
    found = []
    for route in mappings.routes:
        for value in ODD_VALUES if route.path_vars else [""]:
            path = route.path
            for var in route.path_vars:
                path = path.replace("{" + var + "}", value)
            found.append((route.method, path))
    return found


@pytest.mark.parametrize("junk", ["", "html", "empty-json"], ids=["nova-404", "nova-html", "nova-empty-json"])
async def test_no_route_answers_500(
    aiohttp_client, aiohttp_server, mappings: MappingSet, tmp_path: Path, junk: str
) -> None:  # type: ignore[no-untyped-def]
    endpoint = await nova_stand_in(aiohttp_server, junk)
    settings = Settings(nova=NovaSettings(endpoint=endpoint), store_url=f"sqlite:///{tmp_path}/t.sqlite3")
    proxy: TestClient = await aiohttp_client(create_app(settings, mappings))
    seen = 0
    for (method, path), body in itertools.product(concrete_paths(mappings), ODD_BODIES):
        data = body if isinstance(body, str) else json.dumps(body) if body is not None else None
        headers = {"X-Auth-Token": "t", "Content-Type": "application/json"}
        resp = await proxy.request(method, path + "?limit=abc&since=x&marker=%00", data=data, headers=headers)
        seen += 1
        assert resp.status != 500, (method, path, body, await resp.text())
        # (diagnostics pass Nova's own document through, whatever it holds)
        passthrough = "/schemas" in path or path == "/" or path.endswith("/diagnostics")
        if junk == "empty-json" and method == "GET" and not passthrough:
            # An answer without what Nova's API promises is not a vNext object.
            assert (
                resp.status not in (200, 201)
                or resp.content_type != "application/json"
                or (await resp.json() not in ({}, None))
            ), (method, path)
        if resp.status >= 400 and method != "HEAD":
            error = (await resp.json())["error"]
            assert error["code"] == resp.status
            assert error["message"]
    assert seen > 100


PROJECT = "6f70656e737461636b20342065766572"
DEEP = "[" * 100_000 + "]" * 100_000
KEY = {"keypair_id": "00000000-0000-4000-8000-000000000001"}


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/servers?limit=%C2%B2", None, "limit"),
        ("GET", f"/servers/{'0' * 8}-0000-4000-8000-{'0' * 12}/tasks?limit=%C2%B2", None, "limit"),
        ("GET", "/server_types?limit=%C2%B2", None, "limit"),
        ("GET", "/servers?since=9999-12-31T23:59:59-23:59", None, "since"),
        ("GET", f"/projects/{PROJECT}/servers?since=9999-12-31T23:59:59-23:59", None, "since"),
        ("GET", "/servers?" + "&".join(["virt_state=ACTIVE"] * 21), None, "virt_state"),
        ("GET", "/servers?marker=" + "m" * 300, None, "marker"),
        ("POST", f"/projects/{PROJECT}/servers", {"servers": [{"group_id": []}]}, "servers[0].group_id"),
        (
            "POST",
            f"/projects/{PROJECT}/servers",
            {"defaults": {**KEY, "group_id": []}, "servers": [{}]},
            "defaults.group_id",
        ),
        ("POST", f"/projects/{PROJECT}/servers", {"servers": [{}] * 101}, "servers"),
        (
            "POST",
            f"/projects/{PROJECT}/servers",
            {"defaults": {**KEY, "hostname_pattern": "%(rand_num)2000000d"}, "servers": [{}]},
            "defaults.hostname_pattern",
        ),
        ("POST", "/server_types", DEEP, "body"),
    ],
)
async def test_what_used_to_be_500_is_400_naming_the_field(
    aiohttp_client, aiohttp_server, mappings: MappingSet, tmp_path: Path, method: str, path: str, body: Any, field: str
) -> None:  # type: ignore[no-untyped-def]
    endpoint = await nova_stand_in(aiohttp_server, "")
    settings = Settings(nova=NovaSettings(endpoint=endpoint), store_url=f"sqlite:///{tmp_path}/t.sqlite3")
    proxy: TestClient = await aiohttp_client(create_app(settings, mappings))
    data = body if isinstance(body, str) else json.dumps(body) if body is not None else None
    headers = {"X-Auth-Token": "t", "Content-Type": "application/json"}
    resp = await proxy.request(method, path, data=data, headers=headers)
    assert resp.status == 400, await resp.text()
    error = (await resp.json())["error"]
    assert error["field"] == field
    assert len(await resp.read()) < 2000, "an error never echoes unbounded input"
