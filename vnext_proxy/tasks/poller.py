"""TaskPoller: one loop per process that advances every running task.

Each cycle asks Nova once per credential for the servers changed since the
last cycle (GET /servers/detail?changes-since=...), not once per task; a
task whose server did not change is judged on what was seen before. Nova's
instance action is read only when a task looks finished.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from vnext_proxy.errors import VNextError
from vnext_proxy.mapping.engine import PlannedCall
from vnext_proxy.nova.caller import CallerFacts
from vnext_proxy.nova.client import NovaAnswer
from vnext_proxy.nova.service_auth import ServiceAuth
from vnext_proxy.tasks.engine import TaskEngine
from vnext_proxy.tasks.model import Task
from vnext_proxy.timeutil import show_time
from vnext_proxy.web.metrics import Metrics

log = logging.getLogger(__name__)

#: Nova's updated_at has one-second resolution, and clocks differ a little.
_OVERLAP = timedelta(seconds=5)


@dataclass
class CycleStats:
    tasks: int = 0
    batches: int = 0


class TaskPoller:
    def __init__(
        self,
        engine: TaskEngine,
        interval: float,
        max_backoff: float = 60.0,
        service: ServiceAuth | None = None,
        caller: CallerFacts | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        #: Replicas share the store; one lease lets one poller at a time work.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_ttl = max(3 * interval, 5.0)
        self.service = service
        self.caller = caller or CallerFacts()
        self.interval = interval
        self.max_backoff = max_backoff
        self._last_ok: dict[str, datetime] = {}
        self.cycles = 0

    async def run(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Poll forever; after a failed cycle wait twice as long (up to
        max_backoff), and back to the interval after a good one."""
        delay = self.interval
        while True:
            try:
                await self.poll_once()
                delay = self.interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep polling whatever one cycle met
                delay = min(delay * 2, self.max_backoff)
                log.warning("task poll failed (%s); next try in %.0fs", _describe(exc), delay)
            await sleep(delay)

    async def poll_once(self) -> CycleStats:
        started = self.engine.clock()
        stats = CycleStats()
        # With service credentials any replica can watch every task: one at a
        # time does, the holder of the lease (taken over once it lapses).
        # Without them, a replica watches only the tasks whose creators'
        # tokens it holds, which no other replica has: nothing is polled twice.
        if self.service is not None and not await self.engine.store.take_lease(
            "task-poller", self.holder, self.lease_ttl
        ):
            return stats
        groups: dict[str, list[Task]] = {}
        service_token = await self.service.token() if self.service is not None else None
        running = await self.engine.store.running_tasks()
        if self.metrics is not None:
            self.metrics.running_tasks.set(len(running))
        for task in running:
            # The service credentials, when configured, watch every task at
            # once; otherwise each creator's own token watches theirs.
            token = service_token or self.engine.token_for(task.id)
            # Without a token (after a restart) a task advances when someone
            # allowed to see it reads it, with that reader's token.
            if token is not None:
                groups.setdefault(token, []).append(task)
        for token, tasks in groups.items():
            key = hashlib.sha256(token.encode()).hexdigest()
            since = min([t.created_at for t in tasks] + ([self._last_ok[key]] if key in self._last_ok else []))
            # An admin's tasks may be on other projects' servers, which Nova
            # lists to an admin only with all_tenants.
            all_projects = token == service_token or await self.caller.is_admin(token, self._sender(token))
            changed = await self._changed_servers(token, since - _OVERLAP, all_projects=all_projects)
            stats.batches += 1
            for task in tasks:
                await self._advance(task, token, changed)
                stats.tasks += 1
            self._last_ok[key] = started
        self.cycles += 1
        if self.metrics is not None:
            self.metrics.poll_seconds.observe((self.engine.clock() - started).total_seconds())
        return stats

    def _sender(self, token: str) -> Callable[[PlannedCall], Awaitable[NovaAnswer]]:
        async def send(call: PlannedCall) -> NovaAnswer:
            return await self.engine.nova.send(call, token=token)

        return send

    async def _changed_servers(self, token: str, since: datetime, all_projects: bool) -> dict[str, dict[str, Any]]:
        query: tuple[tuple[str, str], ...] = (("changes-since", show_time(since) or ""),)
        if all_projects:
            query += (("all_tenants", "1"),)
        answer = await self.engine.nova.send(PlannedCall("poll", "GET", "/servers/detail", query), token=token)
        if not answer.ok:
            raise VNextError(answer.status, f"Nova answered {answer.status} to the task poll")
        return {s["id"]: s for s in answer.body.get("servers", [])}

    async def _advance(self, task: Task, token: str, changed: dict[str, dict[str, Any]]) -> None:
        try:
            if task.server_id in changed:
                await self.engine.advance(
                    task, self.engine.sender(token), server=changed[task.server_id], observed=True
                )
                return
            seen, last = self.engine.last_server(task.id)
            await self.engine.advance(task, self.engine.sender(token), server=last, observed=seen)
        except VNextError as exc:
            log.warning("task %s could not advance: %s", task.id, exc.message)


def _describe(exc: Exception) -> str:
    return exc.message if isinstance(exc, VNextError) else exc.__class__.__name__
