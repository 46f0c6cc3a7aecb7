"""No value a caller sends changes the path Nova receives: each is checked
for its kind and quoted as one segment, in one place. A recording stand-in
of Nova keeps every raw path it was sent (devcloud would resolve them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from vnext_proxy.config import NovaSettings, Settings
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.app import create_app

PROJECT = "6f70656e737461636b20342065766572"
OTHER = "b2f9c4a1d7e34f0c9a8b6e5d4c3b2a10"
SERVER = "4bc17469-d2c0-40a3-8e4b-75b9271f97b2"
SERVER2 = "9e0d3a51-8f4c-4c1e-9d52-6b0c2f6a7e11"


class RecordingNova:
    def __init__(self) -> None:
        self.paths: list[str] = []

    async def anything(self, request: web.Request) -> web.Response:
        self.paths.append(request.raw_path.split("?", 1)[0])
        if request.path == "/":
            return web.json_response({"versions": [{"id": "v2.1", "version": "2.104", "min_version": "2.1"}]})
        body: dict[str, Any] = {
            "tenant_usage": {}, "instanceActions": [], "servers": [], "flavors": [], "keypairs": [],
            "availabilityZoneInfo": [], "server_groups": [],
            "limits": {"absolute": {"maxTotalInstances": 10, "totalInstancesUsed": 0, "maxTotalCores": 20,
                                    "totalCoresUsed": 0, "maxTotalRAMSize": 51200, "totalRAMUsed": 0}},
            "server": {"id": SERVER, "tenant_id": PROJECT, "OS-EXT-STS:vm_state": "active"},
        }  # fmt: skip
        return web.json_response(body)


@pytest.fixture
async def nova_and_proxy(aiohttp_client, aiohttp_server, mappings: MappingSet, tmp_path: Path):  # type: ignore[no-untyped-def]
    nova = RecordingNova()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", nova.anything)
    server = await aiohttp_server(app)
    settings = Settings(
        nova=NovaSettings(endpoint=str(server.make_url("/v2.1"))), store_url=f"sqlite:///{tmp_path}/t.db"
    )
    proxy: TestClient = await aiohttp_client(create_app(settings, mappings))
    return nova, proxy


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/projects/..%2Fflavors%2F1/server_groups", None, 404),
        ("GET", f"/projects/{PROJECT}%23x/servers", None, 404),
        ("POST", f"/projects/{OTHER}%23x/servers", {"defaults": {"keypair_id": SERVER}, "servers": [{}]}, 404),
        ("POST", f"/servers/{SERVER}/tasks", {"action": "DETACH_BLOCK_DEVICE", "volume_id": ".."}, 400),
        ("POST", f"/servers/{SERVER}/tasks", {"action": "DETACH_NETWORK_INTERFACE", "port_id": "..%2F.."}, 400),
        ("GET", f"/servers/{SERVER}%2F..%2F{SERVER2}/tasks", None, 404),
        ("GET", "/server_types/..%2F..%2Fos-keypairs/tags", None, 404),
        ("GET", "/servers/%2E%2E/tasks", None, 404),
    ],
)
async def test_a_value_never_changes_novas_path(
    nova_and_proxy: tuple[RecordingNova, TestClient], method: str, path: str, body: Any, status: int
) -> None:
    nova, proxy = nova_and_proxy
    resp = await proxy.request(method, path, json=body, headers={"X-Auth-Token": "t"})
    assert resp.status == status, await resp.text()
    for sent in nova.paths:
        segments = sent.split("/")
        assert ".." not in segments, sent
        assert "." not in segments, sent
        assert "#" not in sent, sent
        assert "%23" not in sent.lower(), sent
        assert SERVER2 not in sent, sent
        assert not sent.startswith("/v2.1/flavors/1"), sent


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/servers/not-a-server"),
        ("GET", "/servers/1%2F..%2F2/tags"),
        ("PUT", f"/servers/{SERVER}/tags/a%2Fb"),
        ("GET", f"/projects/{PROJECT}%23x"),
    ],
)
async def test_a_path_value_of_the_wrong_kind_is_404_before_nova_is_asked(
    nova_and_proxy: tuple[RecordingNova, TestClient], method: str, path: str
) -> None:
    nova, proxy = nova_and_proxy
    resp = await proxy.request(method, path, headers={"X-Auth-Token": "t"})
    assert resp.status == 404, await resp.text()
    assert [p for p in nova.paths if p != "/"] == []
