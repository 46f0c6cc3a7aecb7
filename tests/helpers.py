"""What several test modules need: ports for servers in other processes,
`vnext-proxy serve` as a process, and a PostgreSQL schema of a test's own."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import shutil
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

#: The PostgreSQL the store and replica tests use (the conftest's `postgres`
#: fixture checks it is there): the machine's, unless VNEXT_TEST_POSTGRES names another.
POSTGRES = os.environ.get("VNEXT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
#: The RabbitMQ devcloud's Nova publishes its notifications to, and the
#: proxy reads them from (the conftest's `rabbitmq` fixture checks it is there).
RABBITMQ = os.environ.get("VNEXT_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/")


def _ephemeral_ports() -> range:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


EPHEMERAL_PORTS = _ephemeral_ports()
#: Ports below the ephemeral range. Every port-0 bind (this process's test
#: servers, devcloud, outgoing connections) is drawn from that range, so
#: nothing can be given one of these before the process it is meant for
#: binds it. A random start keeps two runs on one machine apart.
_OUR_PORTS = range(max(1024, EPHEMERAL_PORTS.start - 12_000), EPHEMERAL_PORTS.start)
_next_offset = itertools.count(random.randrange(len(_OUR_PORTS)))


def free_port() -> int:
    """A port for a server in another process to listen on: outside the
    ephemeral range, unused when handed out, and never handed out twice in
    one test run. (Binding port 0 and closing it again would not do: the
    next test server in this process may be given the same port.)"""
    for _ in range(len(_OUR_PORTS)):
        port = _OUR_PORTS[next(_next_offset) % len(_OUR_PORTS)]
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {_OUR_PORTS}")


@contextmanager
def refused_port() -> Iterator[int]:
    """A port that refuses connections while the block runs: bound but not
    listening, so it is nobody else's either."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        yield port


async def nova_versions(request: web.Request) -> web.Response:
    """Nova's version document, for stand-ins (the proxy's start-up check reads it)."""
    return web.json_response({"versions": [{"id": "v2.1", "version": "2.104", "min_version": "2.1"}]})


async def start_proxy(
    config: Path,
    port: int,
    wait: float = 30,
    command: str | None = None,
    cwd: Path | None = None,
    args: tuple[str, ...] = (),
    log: Path | None = None,
) -> asyncio.subprocess.Process:
    """``vnext-proxy serve --config config [args]`` (this checkout's, unless
    ``command`` names another), once it answers /healthcheck on ``port``;
    its log goes to ``log`` if given."""
    program = [command] if command else [sys.executable, "-m", "vnext_proxy"]
    stderr = log.open("ab") if log is not None else asyncio.subprocess.DEVNULL
    try:
        proc = await asyncio.create_subprocess_exec(
            *program, "serve", "--config", str(config), *args, cwd=cwd,
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    finally:
        if log is not None:
            stderr.close()  # type: ignore[union-attr]
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


#: A route a test adds to a copy of the mappings while the proxy serves:
#: the server types again, at a path of its own.
ADDED_ROUTE = """\
description: A route added while the proxy serves.
routes:
  - rel: server_types_again
    method: GET
    uri: /server_types_again
    summary: The server types, at a route a reload added
    status: mapped
    extension: added by a reload
    nova:
      - method: GET
        path: /flavors/detail
        min_microversion: "2.61"
    response:
      object: server_type
      from_answer: nova.flavors
      list_key: server_types
      paging: {mode: proxy, default_limit: 20, max_limit: 1000}
"""


def copy_mappings(directory: Path) -> Path:
    """The package's mappings, copied to ``directory`` for a test to change."""
    from importlib.resources import as_file

    from vnext_proxy.mapping.loader import packaged_mappings

    with as_file(packaged_mappings()) as shipped:
        shutil.copytree(shipped, directory)
    return directory
