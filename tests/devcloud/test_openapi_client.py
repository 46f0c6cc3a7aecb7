"""A client generated from the proxy's own GET /openapi.json (openapi-python-client, with no warning allowed)
lists the servers Nova has, through the proxy, as typed objects; and an error is the typed error object."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from aiohttp.test_utils import TestClient
from users import token

MEMBER = "alice"
#: The generator's command, and ruff, which it runs on what it generates: both from this virtualenv.
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def server_id(boot_server, forget_servers) -> Iterator[str]:  # type: ignore[no-untyped-def]
    booted = boot_server("openapi-client")
    try:
        yield booted
    finally:
        forget_servers([booted])


@pytest.fixture
async def generated(proxy: TestClient, tmp_path: Path) -> AsyncIterator[ModuleType]:
    """The client package generated from the document the proxy serves, imported."""
    resp = await proxy.get("/openapi.json")
    assert resp.status == 200
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(await resp.json()), encoding="utf-8")
    output = tmp_path / "client"
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "openapi-python-client"), "generate", "--path", str(document), "--output-path", str(output),
        "--fail-on-warning",
        cwd=tmp_path, env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    said, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, said.decode()
    (package,) = [p.parent.name for p in output.glob("*/client.py")]
    sys.path.insert(0, str(output))
    try:
        yield importlib.import_module(package)
    finally:
        sys.path.remove(str(output))
        for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            del sys.modules[name]


async def test_a_generated_client_lists_novas_servers(  # type: ignore[no-untyped-def]
    proxy: TestClient, generated: ModuleType, server_id: str, nova_as
) -> None:
    name = generated.__name__
    get_servers = importlib.import_module(f"{name}.api.servers.get_servers")
    get_server = importlib.import_module(f"{name}.api.servers.get_server")
    models = importlib.import_module(f"{name}.models")
    client = generated.AuthenticatedClient(
        base_url=str(proxy.make_url("")), token=token(MEMBER), prefix="", auth_header_name="X-Auth-Token"
    )
    async with client:
        listed = await get_servers.asyncio_detailed(client=client, limit=200)
        missing = await get_server.asyncio_detailed(str(uuid.uuid4()), client=client)
    assert listed.status_code == 200, listed.content
    page = listed.parsed
    assert isinstance(page, models.GetServersResponse200)
    assert all(isinstance(s, models.Server) for s in page.servers)
    nova = {s.id for s in nova_as(MEMBER).compute.servers()}
    assert server_id in nova
    assert {s.id for s in page.servers} == nova
    # Typed as the published schema says: the states are the generated enums.
    booted = next(s for s in page.servers if s.id == server_id)
    assert booted.virt_state == models.ServerVirtState.ACTIVE
    assert booted.power_state == models.ServerPowerState.RUNNING
    # An error is the document's error object.
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.Error)
    assert missing.parsed.error.code == 404
    assert missing.parsed.error.request_id == missing.headers["X-OpenStack-Request-ID"]
