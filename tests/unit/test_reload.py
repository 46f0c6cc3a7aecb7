"""Reload: config and mappings read again and swapped whole, or refused
whole while the running set keeps serving; requests in flight finish on
the generation they arrived in.

Nova here is a small in-process stand-in that can hold an answer back, so a
request is certainly in flight across a swap. The signal itself, and a
reload under load against devcloud, are in tests/devcloud/test_reload_serving.py."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from helpers import ADDED_ROUTE, copy_mappings, free_port, nova_versions, stop

from vnext_proxy.cli import main
from vnext_proxy.config import NovaSettings, Settings
from vnext_proxy.loading import RELOADABLE, RESTART_ONLY, load_checked, setting_paths
from vnext_proxy.web.app import create_app
from vnext_proxy.web.generations import VERSION_HEADER
from vnext_proxy.web.keys import GENERATIONS
from vnext_proxy.web.reload import hangups_held, reload

TOKEN = {"X-Auth-Token": "token-of-a-member"}
FLAVOR = {"id": "1", "name": "m1.tiny", "ram": 512, "disk": 1, "vcpus": 1, "swap": 0, "rxtx_factor": 1.0,
          "description": None, "os-flavor-access:is_public": True, "extra_specs": {}}  # fmt: skip


class Nova:
    """Answers the flavor list; ``hold()`` makes the next answer wait for ``release``."""

    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()

    def hold(self) -> None:
        self.arrived.clear()
        self.release.clear()

    async def flavors(self, request: web.Request) -> web.Response:
        self.arrived.set()
        await self.release.wait()
        return web.json_response({"flavors": [FLAVOR]})


class Cloud:
    """A proxy started from a config file and a copy of the mappings, both
    of which a test changes before it reloads."""

    def __init__(self, tmp_path: Path, endpoint: str) -> None:
        self.mappings = copy_mappings(tmp_path / "mappings")
        self.config = tmp_path / "proxy.yaml"
        self.endpoint = endpoint
        self.store = tmp_path / "store.sqlite3"
        self.write_config()

    def write_config(self, extra: str = "") -> None:
        self.config.write_text(
            f"nova: {{endpoint: '{self.endpoint}'}}\n"
            f"store: {{url: 'sqlite:///{self.store}'}}\n"
            "mappings_dir: mappings\n"
            "listen: {port: 8780}\n" + extra
        )

    def add_route(self) -> None:
        (self.mappings / "added.yaml").write_text(ADDED_ROUTE)

    def app(self) -> web.Application:
        settings, mappings = load_checked(self.config)
        return create_app(settings, mappings, config=self.config)


@pytest.fixture
async def nova(aiohttp_server) -> tuple[Nova, str]:  # type: ignore[no-untyped-def]
    stand_in = Nova()
    app = web.Application()
    app.router.add_get("/", nova_versions)
    app.router.add_get("/v2.1/flavors/detail", stand_in.flavors)
    server = await aiohttp_server(app)
    return stand_in, str(server.make_url("/v2.1"))


@pytest.fixture
def cloud(tmp_path: Path, nova: tuple[Nova, str]) -> Cloud:
    return Cloud(tmp_path, nova[1])


@pytest.fixture
async def proxy(aiohttp_client, cloud: Cloud) -> TestClient:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(cloud.app())
    return client


async def version_served(proxy: TestClient) -> str:
    resp = await proxy.get("/")
    home = await resp.json(content_type=None)
    assert home["api"]["x-mappings-version"] == resp.headers[VERSION_HEADER]
    health = await (await proxy.get("/healthcheck")).json()
    assert health["mappings"]["version"] == resp.headers[VERSION_HEADER]
    return str(resp.headers[VERSION_HEADER])


async def test_a_new_route_is_served_after_a_reload(proxy: TestClient, cloud: Cloud) -> None:
    before = await version_served(proxy)
    assert (await proxy.get("/server_types_again", headers=TOKEN)).status == 404
    cloud.add_route()
    assert await reload(proxy.app) == "applied"
    after = await version_served(proxy)
    assert after != before
    resp = await proxy.get("/server_types_again", headers=TOKEN)
    assert resp.status == 200
    again = await resp.json()
    listed = await (await proxy.get("/server_types", headers=TOKEN)).json()
    assert [t["id"] for t in again["server_types"]] == [t["id"] for t in listed["server_types"]]
    assert again["server_types"][0]["spec"]["memory_mb"] == FLAVOR["ram"]
    home = await (await proxy.get("/")).json(content_type=None)
    assert home["resources"]["rel/server_types_again"]["href-template"] == "/server_types_again"
    metrics = await (await proxy.get("/metrics")).text()
    assert 'vnext_reloads_total{result="applied"} 1.0' in metrics
    assert f'vnext_mappings_info{{version="{after}"}} 1.0' in metrics
    assert 'route="/server_types_again",status="200"' in metrics


async def test_a_broken_mapping_is_refused_and_the_running_set_keeps_serving(
    proxy: TestClient, cloud: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    before = await version_served(proxy)
    broken = ADDED_ROUTE.replace("object: server_type", "object: no_such_object")
    (cloud.mappings / "added.yaml").write_text(broken)
    line = broken.splitlines().index("      object: no_such_object") + 1
    with caplog.at_level(logging.INFO, logger="vnext_proxy.reload"):
        assert await reload(proxy.app) == "refused"
    assert f"reload refused: mappings/added.yaml:{line}: " in caplog.text
    assert "unknown object 'no_such_object'" in caplog.text
    assert f"still serving mappings {before}" in caplog.text
    assert await version_served(proxy) == before
    assert (await proxy.get("/server_types", headers=TOKEN)).status == 200
    assert (await proxy.get("/server_types_again", headers=TOKEN)).status == 404
    # A YAML syntax error is refused the same way, with its line.
    (cloud.mappings / "added.yaml").write_text("routes: [\n")
    assert await reload(proxy.app) == "refused"
    assert "reload refused: mappings/added.yaml:" in caplog.text
    assert await version_served(proxy) == before
    metrics = await (await proxy.get("/metrics")).text()
    assert 'vnext_reloads_total{result="refused"} 2.0' in metrics


async def test_a_request_in_flight_finishes_on_the_generation_it_arrived_in(
    proxy: TestClient, cloud: Cloud, nova: tuple[Nova, str]
) -> None:
    stand_in, _ = nova
    explain = {**TOKEN, "X-VNext-Explain": "1"}
    before = await version_served(proxy)
    stand_in.hold()
    in_flight = asyncio.ensure_future(proxy.get("/server_types", headers=explain))
    await asyncio.wait_for(stand_in.arrived.wait(), 10)
    # The next generation: a new route, and explain allowed.
    cloud.add_route()
    cloud.write_config("explain: true\n")
    assert await reload(proxy.app) == "applied"
    after = proxy.app[GENERATIONS].current.version
    assert after != before
    stand_in.release.set()
    old = await asyncio.wait_for(in_flight, 10)
    assert old.status == 200
    assert old.headers[VERSION_HEADER] == before
    assert "_explain" not in await old.json()  # its generation did not allow explain
    new = await proxy.get("/server_types_again", headers=explain)
    assert new.status == 200
    assert new.headers[VERSION_HEADER] == after
    assert (await new.json())["_explain"]["nova_calls"][0]["path"] == "/flavors/detail"


async def test_no_request_is_dropped_while_generations_swap(proxy: TestClient, cloud: Cloud) -> None:
    """Requests keep arriving while the mapping set changes back and forth."""
    added = cloud.mappings / "added.yaml"
    statuses: list[int] = []
    versions: set[str] = set()
    swapping = True

    async def client() -> None:
        while swapping:
            resp = await proxy.get("/")
            statuses.append(resp.status)
            versions.add(resp.headers[VERSION_HEADER])
            await resp.read()

    clients = [asyncio.ensure_future(client()) for _ in range(8)]
    try:
        for _ in range(6):
            if added.exists():
                added.unlink()
            else:
                added.write_text(ADDED_ROUTE)
            assert await reload(proxy.app) == "applied"
            await asyncio.sleep(0.05)
    finally:
        swapping = False
        await asyncio.gather(*clients)
    assert len(statuses) > 50
    assert set(statuses) == {200}
    assert len(versions) == 2  # the set without the route, and with it


async def test_a_change_only_a_restart_applies_is_refused_whole(
    proxy: TestClient, cloud: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    before = await version_served(proxy)
    cloud.add_route()
    cloud.write_config("explain: true\n")
    text = cloud.config.read_text().replace("listen: {port: 8780}", "listen: {port: 8781}")
    cloud.config.write_text(text)
    line = text.splitlines().index("listen: {port: 8781}") + 1
    with caplog.at_level(logging.ERROR, logger="vnext_proxy.reload"):
        assert await reload(proxy.app) == "refused"
    assert f"{cloud.config}:{line}: listen.port: changed, but it applies only when the proxy starts" in caplog.text
    # Neither the new route nor explain: nothing of the file was applied.
    assert await version_served(proxy) == before
    assert proxy.app[GENERATIONS].current.settings.explain is False


async def test_a_reload_that_changes_nothing_keeps_the_running_generation(proxy: TestClient, cloud: Cloud) -> None:
    running = proxy.app[GENERATIONS].current
    assert await reload(proxy.app) == "unchanged"
    assert proxy.app[GENERATIONS].current is running
    # A change of config alone keeps the mapping set (and its caches).
    cloud.write_config("logging: {access_log: false}\n")
    assert await reload(proxy.app) == "applied"
    assert proxy.app[GENERATIONS].current.mappings is running.mappings
    assert proxy.app[GENERATIONS].current.settings.access_log is False


async def test_an_app_built_without_a_config_file_refuses_to_reload(
    aiohttp_client, nova: tuple[Nova, str], mappings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    settings = dataclasses.replace(
        Settings(nova=NovaSettings(endpoint=nova[1])), store_url=f"sqlite:///{tmp_path}/s.sqlite3"
    )
    client = await aiohttp_client(create_app(settings, mappings))
    with caplog.at_level(logging.ERROR, logger="vnext_proxy.reload"):
        assert await reload(client.app) == "refused"
    assert "not started from a config file" in caplog.text


def test_every_setting_is_either_reloaded_or_needs_a_restart() -> None:
    """A new setting must be placed on one side: read per request from the
    generation, or built in at start (and then a reload refuses a change)."""
    paths = set(setting_paths(Settings(nova=NovaSettings(endpoint="http://nova"))))
    assert paths == {r.attribute for r in RELOADABLE} | set(RESTART_ONLY)


#: A worker that takes a moment to start, as a real one does (imports, config).
SLOW_WORKER = """
import time
time.sleep(0.5)
from vnext_proxy.web.reload import EarlyHangups
hangups = EarlyHangups()
print("seen" if hangups.seen else "not seen")
"""


def test_a_worker_signalled_while_it_starts_takes_the_signal_once_it_can() -> None:
    with hangups_held():
        worker = subprocess.Popen([sys.executable, "-c", SLOW_WORKER], stdout=subprocess.PIPE, text=True)
    worker.send_signal(signal.SIGHUP)  # long before it can take one
    out, _ = worker.communicate(timeout=60)
    assert (worker.returncode, out.strip()) == (0, "seen")


async def test_serve_takes_a_sighup_sent_as_soon_as_its_pid_file_is_there(cloud: Cloud, tmp_path: Path) -> None:
    port = free_port()
    cloud.write_config()
    cloud.config.write_text(cloud.config.read_text().replace("port: 8780", f"port: {port}"))
    pid_file, log = tmp_path / "proxy.pid", tmp_path / "proxy.log"
    with log.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "vnext_proxy", "serve", "--config", str(cloud.config), "--pid-file", str(pid_file),
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    try:
        async with asyncio.timeout(60):
            while not pid_file.exists():  # noqa: ASYNC110 (written by another process)
                await asyncio.sleep(0.005)
            # Still reading its config and asking Nova: SIGHUP must not end it.
            assert main(["reload", "--pid-file", str(pid_file)]) == 0
            while "reload: nothing changed" not in log.read_text():
                assert proc.returncode is None, log.read_text()
                await asyncio.sleep(0.1)
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        assert not pid_file.exists()
    finally:
        await stop(proc)


def test_reload_says_when_there_is_no_proxy_to_signal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reload", "--pid-file", str(tmp_path / "none.pid")]) == 1
    assert "cannot signal the proxy of" in capsys.readouterr().err
