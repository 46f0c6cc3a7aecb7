"""Reload as an operator does it: `vnext-proxy serve --pid-file`, then
`vnext-proxy reload`, while clients keep calling; two worker processes
against devcloud, so SIGHUP must reach both."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp
from helpers import ADDED_ROUTE, copy_mappings, free_port, start_proxy, stop
from users import auth

MEMBER = auth("alice")
VERSION = "X-VNext-Mappings-Version"
MICROVERSION = {"OpenStack-API-Version": "compute 2.61"}


async def vnext_proxy(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vnext_proxy", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def until(predicate, within: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not await predicate():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.2)


class Load:
    """Clients calling all along: JSON-Home as fast as they can (it asks
    Nova nothing), and the server types gently (devcloud is slow)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: list[tuple[str, int, str]] = []
        self.failures: list[str] = []
        self._running = True
        self._tasks: list[asyncio.Future[None]] = []

    async def _call(self, session: aiohttp.ClientSession, path: str, pause: float) -> None:
        while self._running:
            try:
                async with session.get(self.url + path, headers=MEMBER) as resp:
                    await resp.read()
                    self.seen.append((path, resp.status, resp.headers.get(VERSION, "")))
            except aiohttp.ClientError as exc:
                self.failures.append(f"{path}: {exc!r}")
            await asyncio.sleep(pause)

    async def __aenter__(self) -> Load:
        # A new connection for each request: each may land on either worker.
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
        self._tasks = [asyncio.ensure_future(self._call(self._session, "/", 0.01)) for _ in range(4)]
        self._tasks.append(asyncio.ensure_future(self._call(self._session, "/server_types", 0.5)))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._running = False
        await asyncio.gather(*self._tasks)
        await self._session.close()


async def test_reload_by_signal_keeps_serving_through_a_broken_set_and_serves_a_new_route(
    devcloud: str, tmp_path: Path
) -> None:
    mappings = copy_mappings(tmp_path / "mappings")
    port = free_port()
    config = tmp_path / "proxy.yaml"
    config.write_text(
        f"nova: {{endpoint: '{devcloud}'}}\n"
        f"listen: {{port: {port}, workers: 2}}\n"
        f"store: {{url: 'sqlite:///{tmp_path}/store.sqlite3'}}\n"
        "mappings_dir: mappings\n"
        "logging: {access_log: false}\n"
    )
    pid_file, log = tmp_path / "proxy.pid", tmp_path / "proxy.log"
    url = f"http://127.0.0.1:{port}"
    proc = await start_proxy(config, port, args=("--pid-file", str(pid_file)), log=log)
    try:

        async def both_started() -> bool:
            return log.read_text().count("ok: Nova offers compute") == 2

        await until(both_started, 60)
        async with aiohttp.ClientSession() as session:
            before = (await (await session.get(url + "/healthcheck")).json())["mappings"]["version"]
            async with Load(url) as load:
                # A broken set: `reload --config` finds the problem and sends nothing.
                broken = ADDED_ROUTE.replace("object: server_type", "object: no_such_object")
                (mappings / "added.yaml").write_text(broken)
                line = broken.splitlines().index("      object: no_such_object") + 1
                status, out = await vnext_proxy("reload", "--pid-file", str(pid_file), "--config", str(config))
                assert status == 2, out
                assert f"mappings/added.yaml:{line}: " in out
                assert "reload refused" not in log.read_text()
                # Sent anyway, the proxy refuses it: each worker says why, and keeps serving.
                status, out = await vnext_proxy("reload", "--pid-file", str(pid_file))
                assert status == 0, out

                async def both_refused() -> bool:
                    return log.read_text().count("still serving mappings") == 2

                await until(both_refused)
                assert f"reload refused: mappings/added.yaml:{line}: " in log.read_text()
                await asyncio.sleep(1)  # the load goes on against the refused set
                # Fixed: the new route is served, by both workers.
                (mappings / "added.yaml").write_text(ADDED_ROUTE)
                status, out = await vnext_proxy("reload", "--pid-file", str(pid_file), "--config", str(config))
                assert status == 0, out

                async def both_reloaded() -> bool:
                    return log.read_text().count("reloaded: serving mappings") == 2

                await until(both_reloaded)
                after = (await (await session.get(url + "/healthcheck")).json())["mappings"]["version"]
                assert after != before
                await asyncio.sleep(1)
            resp = await session.get(url + "/server_types_again?limit=1000", headers=MEMBER)
            assert resp.status == 200
            served = {t["name"]: t["spec"]["memory_mb"] for t in (await resp.json())["server_types"]}
            # What Nova holds for the same caller, asked as the mapping asks.
            nova = await session.get(devcloud + "/flavors/detail?is_public=None", headers={**MEMBER, **MICROVERSION})
            flavors = {f["name"]: f["ram"] for f in (await nova.json())["flavors"]}
        assert served == flavors
        # Not one request failed or was dropped while the sets changed.
        assert load.failures == []
        assert {status for _, status, _ in load.seen} == {200}
        assert sum(path == "/server_types" for path, _, _ in load.seen) >= 3
        assert {version for _, _, version in load.seen} == {before, after}
        # Each worker answers from the new set, once it said it reloaded.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as fresh:
            for _ in range(16):
                async with fresh.get(url + "/") as resp:
                    assert resp.headers[VERSION] == after
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 60)
        await stop(proc)
    assert not pid_file.exists()
