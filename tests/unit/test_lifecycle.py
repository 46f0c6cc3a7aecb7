"""vnext-proxy serve, as a process: it stops gracefully on SIGTERM, letting a
request in flight finish; its workers share the port; a slow client cannot
hold a connection. Nova is a small stand-in."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web
from helpers import free_port, nova_versions, start_proxy, stop

NovaHandler = Callable[[web.Request], Awaitable[web.Response]]


@asynccontextmanager
async def proxy_process(  # type: ignore[no-untyped-def]
    aiohttp_server,
    tmp_path: Path,
    config_tail: str = "",
    nova_routes: dict[str, NovaHandler] | None = None,
    workers: int = 1,
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """``vnext-proxy serve`` in front of a Nova stand-in (its version document
    and ``nova_routes``, GET path -> handler), with ``config_tail`` appended
    to its config; the process and its port."""
    app = web.Application()
    app.router.add_get("/", nova_versions)
    for path, handler in (nova_routes or {}).items():
        app.router.add_get(path, handler)
    nova = await aiohttp_server(app)
    port = free_port()
    config = tmp_path / "c.yaml"
    config.write_text(
        f"nova:\n  endpoint: {nova.make_url('/v2.1')}\nlisten:\n  port: {port}\n  workers: {workers}\n"
        f"store:\n  url: sqlite:///{tmp_path}/t.sqlite3\n{config_tail}"
    )
    proc = await start_proxy(config, port)
    try:
        yield proc, port
    finally:
        await stop(proc)


async def test_sigterm_lets_the_request_in_flight_finish(aiohttp_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def slow_flavors(request: web.Request) -> web.Response:
        await asyncio.sleep(1.5)
        return web.json_response({"flavors": []})

    routes = {"/v2.1/flavors/detail": slow_flavors}
    tail = "limits:\n  shutdown_timeout: 10\n"
    async with proxy_process(aiohttp_server, tmp_path, tail, routes) as (proc, port):
        async with aiohttp.ClientSession() as session:
            in_flight = asyncio.ensure_future(
                session.get(f"http://127.0.0.1:{port}/server_types", headers={"X-Auth-Token": "t"})
            )
            await asyncio.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            resp = await in_flight
            assert resp.status == 200
            assert await resp.json() == {"server_types": [], "_links": {"self": {"href": "/server_types"}}}
        assert await asyncio.wait_for(proc.wait(), 15) == 0


async def test_workers_share_the_port_and_stop_together(aiohttp_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with proxy_process(aiohttp_server, tmp_path, workers=2) as (proc, port):
        served_by: set[str] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(served_by) < 2:
            # A new connection each time, so the kernel may pick either worker.
            try:
                async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    text = await resp.text()
                    served_by.add(next(line for line in text.splitlines() if line.startswith("process_start_time")))
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.2)
        assert len(served_by) == 2, "both workers answer on the one port"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, "a worker outlived the parent"


async def test_a_slow_client_cannot_hold_a_connection(aiohttp_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Slowloris: headers sent a byte at a time never make a request, and the
    proxy closes the connection once limits.idle_timeout has passed."""
    async with proxy_process(aiohttp_server, tmp_path, "limits:\n  idle_timeout: 2\n") as (_, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        closed = False
        for byte in b"GET /healthcheck HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
            writer.write(bytes([byte]))
            try:
                await writer.drain()
                closed = await asyncio.wait_for(reader.read(1), 0.2) == b""
            except TimeoutError:
                continue
            except ConnectionError:
                closed = True
            if closed:
                break
        assert closed, "the connection outlived the trickle"
        assert time.monotonic() - started < 10
        writer.close()
