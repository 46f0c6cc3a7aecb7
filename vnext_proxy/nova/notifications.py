"""Nova's versioned notifications, read from its message bus (RabbitMQ).

Nova publishes an ``instance.<action>.end`` (or ``.error``) event when a
server action finishes. The proxy listens on a durable queue of its own,
bound to ``versioned_notifications.*`` on Nova's exchange, and tells the
task poller which server to look at now. Notifications are best-effort and
unordered: the poll stays the source of truth, and a lost event costs only
the usual poll interval. So every message is acknowledged, whatever it held.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from vnext_proxy.config import NotificationSettings
from vnext_proxy.nova.operations import KINDS

log = logging.getLogger(__name__)

#: A message larger than this is not one of Nova's instance events.
MAX_MESSAGE_BYTES = 256 * 1024
#: Messages taken from the queue ahead of their handling.
PREFETCH = 100


@dataclass(frozen=True)
class ServerEvent:
    """An instance action that ended (or failed) in Nova."""

    server_id: str
    event_type: str
    #: The x-openstack-request-id of the call that started it, when Nova said.
    request_id: str | None


def server_event(body: bytes) -> ServerEvent | None:
    """The server an ``.end`` or ``.error`` instance event is about; None for
    anything else (other events, other services, malformed messages)."""
    if len(body) > MAX_MESSAGE_BYTES:
        return None
    try:
        message: Any = json.loads(body)
        # oslo.messaging's envelope (version 2.0) holds the message as a string.
        if isinstance(message, dict) and isinstance(message.get("oslo.message"), str):
            message = json.loads(message["oslo.message"])
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    event_type = message.get("event_type")
    if not isinstance(event_type, str) or not event_type.startswith("instance."):
        return None
    if not event_type.endswith((".end", ".error")):
        return None
    payload = message.get("payload")
    data = payload.get("nova_object.data") if isinstance(payload, dict) else None
    server_id = data.get("uuid") if isinstance(data, dict) else None
    if not isinstance(server_id, str) or not KINDS["uuid"].fullmatch(server_id):
        return None
    request_id = data.get("request_id") if isinstance(data, dict) else None
    if not isinstance(request_id, str) or not KINDS["request_id"].fullmatch(request_id):
        request_id = None
    return ServerEvent(server_id.lower(), event_type[:100], request_id)


def shown_url(url: str) -> str:
    """The bus's address for logs and health: never its password."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}:{parts.port or 5672}{parts.path or '/'}"


async def probe_bus(settings: NotificationSettings) -> str | None:
    """What is wrong with the bus for the listener, or None: it answers and
    Nova's exchange is there (Nova declares it with its first notification)."""
    try:
        connection = await aio_pika.connect(settings.url, timeout=5)
    except Exception as exc:  # any failure to connect is the finding
        return f"{shown_url(settings.url)} cannot be reached ({exc.__class__.__name__})"
    async with connection:
        try:
            await (await connection.channel()).get_exchange(settings.exchange, ensure=True)
        except aio_pika.exceptions.ChannelClosed:
            return (
                f"no exchange {settings.exchange!r} on {shown_url(settings.url)} yet: Nova declares it when it "
                "sends its first notification (notification_format = versioned, and its transport_url on this bus)"
            )
    return None


#: How long stopping waits for the bus to close the connection.
CLOSE_TIMEOUT = 5.0


class NotificationListener:
    """One connection to the bus per process, kept up with backoff; it
    consumes while ``active()`` says so (the poller's lease holder)."""

    def __init__(
        self,
        settings: NotificationSettings,
        on_event: Callable[[ServerEvent], None],
        active: Callable[[], bool] = lambda: True,
        max_backoff: float = 30.0,
    ) -> None:
        self.settings = settings
        self.on_event = on_event
        self.active = active
        self.max_backoff = max_backoff
        self.state = "starting"
        self.events = 0
        self.last_event_at: float | None = None
        self._stopping = False
        self._connection: AbstractConnection | None = None

    def health(self) -> dict[str, Any]:
        ago = None if self.last_event_at is None else round(time.monotonic() - self.last_event_at, 1)
        bus = shown_url(self.settings.url)
        return {"bus": bus, "state": self.state, "events": self.events, "last_event_s_ago": ago}

    async def run(self) -> None:
        delay = 1.0
        while not self._stopping:
            if not self.active():
                self.state = "standby: another replica holds the poller's lease"
                await asyncio.sleep(1.0)
                continue
            try:
                await self._consume()
                delay = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the bus is down or refused us: try again later
                if self._stopping:
                    break
                self.state = f"reconnecting in {delay:g}s: {exc.__class__.__name__}"
                log.warning("notifications from %s: %s; reconnecting in %gs", shown_url(self.settings.url), exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)

    async def stop(self) -> None:
        """Stop consuming by closing the connection, which ends the queue's
        iterator, and ``run`` returns. Cancelling alone is not enough: aio-pika
        can lose a cancellation (seen in the test suite: the listener went on
        waiting for the next message with its cancellation pending, and the
        app's shutdown waited for it forever)."""
        self._stopping = True
        self.state = "stopped"
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(Exception):  # closing is best-effort; TimeoutError included
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await connection.close()

    async def _consume(self) -> None:
        connection = await aio_pika.connect(self.settings.url, timeout=10)
        self._connection = connection
        if self._stopping:  # stopped while connecting
            await connection.close()
            return
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=PREFETCH)
            # As oslo.messaging declares it, or RabbitMQ refuses the declaration.
            exchange = await channel.declare_exchange(self.settings.exchange, aio_pika.ExchangeType.TOPIC)
            queue = await channel.declare_queue(self.settings.queue, durable=True)
            await queue.bind(exchange, routing_key=f"{self.settings.topic}.*")
            self.state = "consuming"
            log.info("notifications: consuming %s from %s", self.settings.queue, shown_url(self.settings.url))
            async with queue.iterator() as messages:
                async for message in messages:
                    self._handle(message)
                    await message.ack()
                    if not self.active():
                        return

    def _handle(self, message: AbstractIncomingMessage) -> None:
        event = server_event(message.body)
        if event is None:
            return
        self.events += 1
        self.last_event_at = time.monotonic()
        self.on_event(event)
