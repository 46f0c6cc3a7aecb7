"""What several test modules need: free ports, `vnext-proxy serve` as a
process, and a PostgreSQL schema of a test's own."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def nova_versions(request: web.Request) -> web.Response:
    """Nova's version document, for stand-ins (the proxy's start-up check reads it)."""
    return web.json_response({"versions": [{"id": "v2.1", "version": "2.104", "min_version": "2.1"}]})


async def start_proxy(config: Path, port: int, wait: float = 30) -> asyncio.subprocess.Process:
    """``vnext-proxy serve --config config``, once it answers /healthcheck on ``port``."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vnext_proxy", "serve", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + wait
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthcheck") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.2)
    proc.kill()
    await proc.wait()
    raise AssertionError(f"vnext-proxy did not answer on port {port} within {wait:g}s")


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


@asynccontextmanager
async def postgres_schema(prefix: str) -> AsyncIterator[str]:
    """A schema name of the test's own on the machine's PostgreSQL, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        conn = await asyncpg.connect(POSTGRES)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()
