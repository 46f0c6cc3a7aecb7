"""Nova's notifications: which messages name a server to look at (pure), the
listener against the machine's real RabbitMQ (publishing as oslo.messaging
does), and the poller woken between its cycles."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest

from vnext_proxy.config import NotificationSettings, parse_settings
from vnext_proxy.nova.notifications import MAX_MESSAGE_BYTES, NotificationListener, ServerEvent, server_event, shown_url
from vnext_proxy.tasks.poller import WOKEN_RETRIES, TaskPoller

SERVER = "0e3d5b7c-1111-4222-8333-944455556666"
REQUEST = "req-6a1c2f3e-4b5d-4e6f-8a9b-0c1d2e3f4a5b"


def oslo(event_type: str, data: dict[str, Any] | None = None, **extra: Any) -> bytes:
    """A message as oslo.messaging's messagingv2 driver sends it: an envelope with the message as a string."""
    payload = {"nova_object.name": "InstanceActionPayload", "nova_object.data": data or {}}
    message = {"event_type": event_type, "payload": payload, "priority": "INFO", "_context_request_id": REQUEST}
    message.update(extra)
    return json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(message)}).encode()


def test_an_end_or_error_event_names_its_server_and_request() -> None:
    data = {"uuid": SERVER.upper(), "request_id": REQUEST, "state": "stopped"}
    assert server_event(oslo("instance.power_off.end", data)) == ServerEvent(SERVER, "instance.power_off.end", REQUEST)
    failed = server_event(oslo("instance.resize_finish.error", {"uuid": SERVER}))
    assert failed == ServerEvent(SERVER, "instance.resize_finish.error", None)


@pytest.mark.parametrize(
    "body",
    [
        oslo("instance.power_off.start", {"uuid": SERVER}),  # not over yet
        oslo("scheduler.select_destinations.end", {"uuid": SERVER}),  # not an instance
        oslo("instance.power_off.end", {"uuid": "../../servers"}),
        oslo("instance.power_off.end", {}),
        oslo("instance.power_off.end", {"uuid": 42}),
        b"not json",
        b"[1, 2]",
        json.dumps({"oslo.version": "2.0", "oslo.message": "{"}).encode(),
        json.dumps({"event_type": "instance.x.end", "payload": "text"}).encode(),
        oslo("instance.power_off.end", {"uuid": SERVER}, padding="x" * MAX_MESSAGE_BYTES),
    ],
    ids=[
        "start",
        "not-instance",
        "bad-uuid",
        "no-uuid",
        "uuid-not-text",
        "not-json",
        "not-object",
        "bad-envelope",
        "payload-not-object",
        "oversized",
    ],
)
def test_anything_else_names_no_server(body: bytes) -> None:
    assert server_event(body) is None


def test_a_request_id_not_of_novas_form_is_dropped() -> None:
    event = server_event(oslo("instance.reboot.end", {"uuid": SERVER, "request_id": "req-'; DROP"}))
    assert event == ServerEvent(SERVER, "instance.reboot.end", None)


def test_the_bus_is_shown_without_its_password() -> None:
    assert shown_url("amqp://nova:s3cret@rabbit.example:5671/nova") == "amqp://rabbit.example:5671/nova"
    settings = NotificationSettings(url="amqp://nova:s3cret@rabbit.example/")
    assert "s3cret" not in repr(settings)


def test_the_config_names_the_bus_and_a_reload_cannot_change_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = parse_settings(
        "nova: {endpoint: 'http://nova/v2.1'}\nnotifications: {url: 'amqp://guest:guest@127.0.0.1:5672/'}\n"
    )
    assert settings.notifications == NotificationSettings("amqp://guest:guest@127.0.0.1:5672/")
    assert (settings.notifications.exchange, settings.notifications.queue) == ("nova", "vnext-proxy")
    from vnext_proxy.loading import RESTART_ONLY

    assert ("notifications",) in RESTART_ONLY


@pytest.fixture
async def bus(rabbitmq: str) -> AsyncIterator[tuple[str, str]]:
    """An exchange and queue of the test's own on the machine's RabbitMQ, deleted afterwards."""
    name = f"vnext-test-{uuid.uuid4().hex[:8]}"
    yield rabbitmq, name
    connection = await aio_pika.connect(rabbitmq)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(name)
        await channel.exchange_delete(name)


async def publish(url: str, exchange: str, body: bytes) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        # Declared as oslo.messaging declares Nova's exchange: a topic, not durable.
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC)
        await ex.publish(aio_pika.Message(body), routing_key="versioned_notifications.info")


async def test_the_listener_hands_over_each_servers_end_event(bus: tuple[str, str]) -> None:
    url, name = bus
    seen: asyncio.Queue[ServerEvent] = asyncio.Queue()
    listener = NotificationListener(NotificationSettings(url, exchange=name, queue=name), seen.put_nowait)
    running = asyncio.ensure_future(listener.run())
    try:
        async with asyncio.timeout(20):
            while listener.state != "consuming":  # noqa: ASYNC110 (its queue is bound once it says so)
                await asyncio.sleep(0.05)
        await publish(url, name, oslo("instance.power_off.start", {"uuid": SERVER}))
        await publish(url, name, b"garbage")
        await publish(url, name, oslo("instance.power_off.end", {"uuid": SERVER, "request_id": REQUEST}))
        event = await asyncio.wait_for(seen.get(), 20)
        assert event == ServerEvent(SERVER, "instance.power_off.end", REQUEST)
        assert seen.empty()
        health = listener.health()
        assert (health["state"], health["events"]) == ("consuming", 1)
        assert "guest" not in json.dumps(health)
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    # Every message was acknowledged: none is left for the next consumer.
    connection = await aio_pika.connect(url)
    async with connection:
        queue = await (await connection.channel()).declare_queue(name, durable=True, passive=True)
        assert queue.declaration_result.message_count == 0


async def test_stopping_ends_the_listener_even_when_aio_pika_loses_its_cancellation(
    bus: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, name = bus
    acking = asyncio.Event()
    real_ack = aio_pika.IncomingMessage.ack

    async def ack_losing_a_cancellation(self: aio_pika.IncomingMessage, multiple: bool = False) -> None:
        acking.set()
        with contextlib.suppress(asyncio.CancelledError):  # as aio-pika can, somewhere inside
            await asyncio.sleep(0.5)
        await real_ack(self, multiple)

    monkeypatch.setattr(aio_pika.IncomingMessage, "ack", ack_losing_a_cancellation)
    listener = NotificationListener(NotificationSettings(url, exchange=name, queue=name), print)
    running = asyncio.ensure_future(listener.run())
    async with asyncio.timeout(20):
        while listener.state != "consuming":  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    await publish(url, name, b"anything")
    await asyncio.wait_for(acking.wait(), 20)
    running.cancel()
    done, _ = await asyncio.wait({running}, timeout=1.5)
    assert not done, "the cancellation was not lost: this test shows nothing"
    # What the app's shutdown does first: close the connection.
    await asyncio.wait_for(listener.stop(), 10)
    done, _ = await asyncio.wait({running}, timeout=5)
    assert done, "the listener still waits for a message"
    assert listener.health()["state"] == "stopped"


async def test_a_bus_that_is_down_is_retried_with_backoff() -> None:
    from helpers import refused_port

    with refused_port() as port:
        listener = NotificationListener(NotificationSettings(f"amqp://guest:secret@127.0.0.1:{port}/"), print)
        running = asyncio.ensure_future(listener.run())
        try:
            async with asyncio.timeout(20):
                while not listener.state.startswith("reconnecting in 2s"):  # noqa: ASYNC110 (the second try)
                    await asyncio.sleep(0.05)
        finally:
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
    assert "secret" not in json.dumps(listener.health())


async def test_a_replica_without_the_lease_stands_by(bus: tuple[str, str]) -> None:
    url, name = bus
    listener = NotificationListener(NotificationSettings(url, exchange=name, queue=name), print, active=lambda: False)
    running = asyncio.ensure_future(listener.run())
    await asyncio.sleep(0.2)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert listener.state.startswith("standby")


class _Store:
    def __init__(self, tasks: list[Any]) -> None:
        self.tasks = tasks

    async def running_tasks(self) -> list[Any]:
        return self.tasks


class _Engine:
    """What the poller asks of the engine, recording the tasks it advances."""

    def __init__(self, tasks: list[Any]) -> None:
        self.store = _Store(tasks)
        self.advanced: list[str] = []
        self.settings = type("S", (), {"nova": type("N", (), {"request_timeout": 30.0})()})()

    def token_for(self, task_id: str) -> str | None:
        return "creator-token"

    async def advance(self, task: Any, send: Any, **_: Any) -> Any:
        self.advanced.append(task.id)
        return task


def fake_task(task_id: str, server_id: str, *, final: bool) -> Any:
    return type("T", (), {"id": task_id, "server_id": server_id, "is_final": final})()


async def test_a_woken_server_is_looked_at_before_the_next_cycle() -> None:
    task = fake_task("t1", SERVER, final=True)
    other = fake_task("t2", "11111111-2222-4333-8444-555555555555", final=True)
    engine = _Engine([task, other])
    poller = TaskPoller(engine, interval=3600)  # type: ignore[arg-type]
    answering = asyncio.ensure_future(poller.answer_wakes())
    await asyncio.sleep(0)
    poller.wake(SERVER)
    async with asyncio.timeout(5):
        while not engine.advanced:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert engine.advanced == ["t1"]  # only the woken server's task, long before the hour is up
    assert poller.cycles == 0  # long before the next cycle
    answering.cancel()


async def test_a_woken_task_still_running_is_looked_at_again_a_few_times() -> None:
    """Nova records an action's end a moment after it says so."""
    engine = _Engine([fake_task("t1", SERVER, final=False)])
    poller = TaskPoller(engine, interval=3600)  # type: ignore[arg-type]
    answering = asyncio.ensure_future(poller.answer_wakes())
    await asyncio.sleep(0)
    poller.wake(SERVER)
    async with asyncio.timeout(10):
        while len(engine.advanced) < 1 + len(WOKEN_RETRIES):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await asyncio.sleep(max(WOKEN_RETRIES) + 0.5)
    assert engine.advanced == ["t1"] * (1 + len(WOKEN_RETRIES))  # and no more: then it is the next cycle's
    answering.cancel()


async def test_a_wake_does_not_wait_for_another_wakes_reads() -> None:
    """One woken server whose Nova is slow to answer holds up no other."""
    slow_server = "11111111-2222-4333-8444-555555555555"
    held, asked = asyncio.Event(), asyncio.Event()

    class _SlowEngine(_Engine):
        async def advance(self, task: Any, send: Any, **_: Any) -> Any:
            if task.server_id == slow_server:
                asked.set()
                await held.wait()
            return await super().advance(task, send)

    engine = _SlowEngine([fake_task("slow", slow_server, final=True), fake_task("t1", SERVER, final=True)])
    poller = TaskPoller(engine, interval=3600)  # type: ignore[arg-type]
    answering = asyncio.ensure_future(poller.answer_wakes())
    poller.wake(slow_server)
    async with asyncio.timeout(5):
        await asked.wait()  # the slow one's step has begun: the next wake is one of its own
    poller.wake(SERVER)
    async with asyncio.timeout(5):
        while not engine.advanced:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert engine.advanced == ["t1"]  # while the slow one still waits on Nova
    held.set()
    async with asyncio.timeout(5):
        while len(engine.advanced) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    answering.cancel()


async def test_the_wakes_looks_end_before_the_wake_answering_does() -> None:
    """The app closes the store once the poller's tasks have ended: a look
    still reading it then would wait forever on a closed store."""
    started = asyncio.Event()

    class _StuckEngine(_Engine):
        async def advance(self, task: Any, send: Any, **_: Any) -> Any:
            started.set()
            await asyncio.Event().wait()  # a read that is not answered

    poller = TaskPoller(_StuckEngine([fake_task("t1", SERVER, final=True)]), interval=3600)  # type: ignore[arg-type]
    answering = asyncio.ensure_future(poller.answer_wakes())
    poller.wake(SERVER)
    async with asyncio.timeout(5):
        await started.wait()
    answering.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await answering
    assert [t for t in asyncio.all_tasks() if t.get_name() == "woken-servers"] == []
