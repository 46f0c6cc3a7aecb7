"""vnext-proxy serve, as a process: it stops gracefully on SIGTERM, letting a
request in flight finish. Nova is a small stand-in that answers slowly."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
from aiohttp import web


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_sigterm_lets_the_request_in_flight_finish(aiohttp_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def versions(request: web.Request) -> web.Response:
        return web.json_response({"versions": [{"id": "v2.1", "version": "2.104", "min_version": "2.1"}]})

    async def slow_flavors(request: web.Request) -> web.Response:
        await asyncio.sleep(1.5)
        return web.json_response({"flavors": []})

    app = web.Application()
    app.router.add_get("/", versions)
    app.router.add_get("/v2.1/flavors/detail", slow_flavors)
    nova = await aiohttp_server(app)
    port = free_port()
    config = tmp_path / "c.yaml"
    config.write_text(
        f"nova:\n  endpoint: {nova.make_url('/v2.1')}\nlisten:\n  port: {port}\n"
        f"store:\n  url: sqlite:///{tmp_path}/t.sqlite3\nlimits:\n  shutdown_timeout: 10\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vnext_proxy", "serve", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthcheck") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.2)
            in_flight = asyncio.ensure_future(
                session.get(f"http://127.0.0.1:{port}/server_types", headers={"X-Auth-Token": "t"})
            )
            await asyncio.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            resp = await in_flight
            assert resp.status == 200
            assert await resp.json() == {"server_types": [], "_links": {"self": {"href": "/server_types"}}}
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
