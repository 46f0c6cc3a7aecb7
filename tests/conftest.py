"""Shared fixtures. One devcloud (the real Nova) serves the whole test session."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aio_pika
import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from helpers import POSTGRES, RABBITMQ, free_port, postgres_schema
from users import sign_in_everyone, token

from vnext_proxy.config import NotificationSettings, NovaSettings, Settings, TaskSettings
from vnext_proxy.devcloud.process import DevCloudProcess
from vnext_proxy.mapping.loader import load_mappings
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mappings() -> MappingSet:
    return load_mappings()


@pytest.fixture(scope="session")
def postgres() -> str:
    """The PostgreSQL URL for the store and replica tests, once it answers.
    Where there is none they are skipped, with the reason; under CI
    (CI=true) that is a failure, never a silent skip."""

    async def probe() -> None:
        conn = await asyncpg.connect(POSTGRES, timeout=5)
        await conn.close()

    try:
        # In a thread of its own: an async fixture may ask first, in a running loop.
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, probe()).result()
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        reason = f"PostgreSQL is not at {POSTGRES} ({exc}); start it, or name another in VNEXT_TEST_POSTGRES"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI needs PostgreSQL: {reason}")
        pytest.skip(reason)
    return POSTGRES


@pytest.fixture(scope="session")
def rabbitmq() -> str:
    """The RabbitMQ URL (amqp://) for the notification tests, once it answers;
    skipped with the reason where there is none, a failure under CI."""

    async def probe() -> None:
        connection = await aio_pika.connect(RABBITMQ, timeout=5)
        await connection.close()

    try:
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, probe()).result()
    except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
        reason = f"RabbitMQ is not at {RABBITMQ} ({exc!r}); start it, or name another in VNEXT_TEST_RABBITMQ"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI needs RabbitMQ: {reason}")
        pytest.skip(reason)
    return RABBITMQ


@pytest.fixture(scope="session")
def bus(request: pytest.FixtureRequest) -> str | None:
    """The RabbitMQ the shared devcloud's Nova publishes its notifications
    to, and the proxies in front of it read them from; None where there is
    none (then they only poll), which under CI is a failure."""
    try:
        url: str = request.getfixturevalue("rabbitmq")
    except pytest.skip.Exception:
        return None
    return url


@pytest.fixture(scope="session")
def bus_queue(bus: str | None) -> Iterator[str | None]:
    """The queue of this test run's proxies on the bus, deleted at its end."""
    if bus is None:
        yield None
        return
    name = f"vnext-proxy-tests-{uuid.uuid4().hex[:8]}"
    yield name

    async def delete() -> None:
        connection = await aio_pika.connect(bus, timeout=5)
        async with connection:
            await (await connection.channel()).queue_delete(name)

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, delete()).result()


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A store of the test's own: a SQLite file, then the machine's PostgreSQL
    (a schema dropped afterwards). Open it as often as replicas would."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/tasks.sqlite3"
        return
    postgres = request.getfixturevalue("postgres")
    async with postgres_schema("vnext_test") as schema:
        yield f"{postgres}?schema={schema}"


@pytest.fixture(scope="session")
def devcloud_process(bus: str | None) -> Iterator[DevCloudProcess]:
    """Start devcloud once, on a free port, as the cloud of an operator who
    runs the proxy: Nova validates tokens with a real Keystone, and publishes
    its versioned notifications to the bus. Every user signs in (tests/users.py)."""
    cloud = DevCloudProcess(
        port=0,
        log_path=ROOT / "var" / "test-devcloud.log",
        notifications=bus.replace("amqp://", "rabbit://", 1) if bus is not None else None,
        keystone=True,
        vnext_url=f"http://127.0.0.1:{free_port()}",
    )
    cloud.start()
    assert cloud.endpoint is not None
    assert cloud.keystone_url is not None
    try:
        sign_in_everyone(cloud.keystone_url)
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture(scope="session")
def devcloud(devcloud_process: DevCloudProcess) -> str:
    """Nova's endpoint (…/v2.1) in the shared devcloud."""
    assert devcloud_process.endpoint is not None
    return devcloud_process.endpoint


@pytest.fixture(scope="session")
def keystone(devcloud_process: DevCloudProcess) -> str:
    """The shared devcloud's Keystone (…/v3), which Nova validates tokens against."""
    assert devcloud_process.keystone_url is not None
    return devcloud_process.keystone_url


@pytest.fixture(scope="session")
def catalog_port(devcloud_process: DevCloudProcess) -> int:
    """The port Keystone's catalog names for the proxy (compute-vnext): a
    test that serves a proxy there can find it through the catalog."""
    assert devcloud_process.vnext_url is not None
    return int(devcloud_process.vnext_url.rsplit(":", 1)[1])


@pytest.fixture
def proxy_settings(devcloud: str, tmp_path: Path, bus: str | None, bus_queue: str | None) -> Settings:
    """The proxy polls, and Nova's notifications wake it where there is a bus."""
    return Settings(
        nova=NovaSettings(endpoint=devcloud),
        store_url=f"sqlite:///{tmp_path}/tasks.sqlite3",
        tasks=TaskSettings(poll_interval=0.5),
        notifications=NotificationSettings(bus, queue=bus_queue) if bus is not None and bus_queue else None,
    )


@pytest.fixture
async def proxy(aiohttp_client, proxy_settings: Settings, mappings: MappingSet) -> TestClient:  # type: ignore[no-untyped-def]
    """The proxy, in this process, in front of devcloud."""
    return await aiohttp_client(create_app(proxy_settings, mappings))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "devcloud_process" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.devcloud)


@pytest.fixture(scope="session")
def nova_as(devcloud: str):  # type: ignore[no-untyped-def]
    """openstacksdk, talking to devcloud directly as a user, by name (tests/users.py):
    how tests see the effect in Nova."""
    import openstack
    from keystoneauth1 import session, token_endpoint

    def connect(user: str, microversion: str = "2.100") -> openstack.connection.Connection:
        sess = session.Session(auth=token_endpoint.Token(devcloud, token(user)))
        return openstack.connection.Connection(
            session=sess, compute_endpoint_override=devcloud, compute_api_version=microversion
        )

    return connect


@pytest.fixture(scope="session")
def forget_servers(nova_as):  # type: ignore[no-untyped-def]
    """Delete servers for good. devcloud's DELETE is a soft delete (RESTORE can
    undo it) that still counts against the quota of 10, and forceDelete is
    refused until the soft delete has finished: wait for it, gently."""
    import time

    mv = {"OpenStack-API-Version": "compute 2.100"}

    def forget(server_ids: list[str], user: str = "alice") -> None:
        nova = nova_as(user)
        for server_id in server_ids:
            nova.compute.delete(f"/servers/{server_id}", headers=mv)
        for server_id in server_ids:
            for _ in range(60):
                resp = nova.compute.get(f"/servers/{server_id}", headers=mv)
                if resp.status_code == 404:
                    break
                server = resp.json()["server"]
                if server["OS-EXT-STS:vm_state"] == "soft-delete" and server["OS-EXT-STS:task_state"] is None:
                    nova.compute.post(f"/servers/{server_id}/action", json={"forceDelete": None}, headers=mv)
                time.sleep(0.5)

    return forget


@pytest.fixture(scope="session")
def boot_server(nova_as):  # type: ignore[no-untyped-def]
    """Boot a server on devcloud directly and wait until it is ACTIVE; its id."""

    def boot(name: str, user: str = "alice", networks: str = "none", flavor: str = "1") -> str:
        nova = nova_as(user)
        server = nova.compute.create_server(
            name=name, image_id="155d900f-4e14-4e4c-a73d-069cbf4541e6", flavor_id=flavor, networks=networks
        )
        nova.compute.wait_for_server(server, interval=0.5, wait=120)
        server_id: str = server.id
        return server_id

    return boot
