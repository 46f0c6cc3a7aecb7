"""TaskPoller: one loop per process that advances every running task.

Each cycle asks Nova once per credential for the servers changed since the
last cycle (GET /servers/detail?changes-since=...), not once per task; a
task whose server did not change is judged on what was seen before. Nova's
instance action is read only when a task looks finished.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from vnext_proxy.aio import spawn
from vnext_proxy.calls import NovaAnswer, PlannedCall
from vnext_proxy.errors import VNextError
from vnext_proxy.nova import operations as ops
from vnext_proxy.nova.caller import CallerFacts, token_digest
from vnext_proxy.nova.service_auth import ServiceAuth
from vnext_proxy.tasks.engine import TaskEngine
from vnext_proxy.tasks.model import Task
from vnext_proxy.timeutil import show_time

log = logging.getLogger(__name__)

#: Nova's updated_at has one-second resolution, and clocks differ a little.
_OVERLAP = timedelta(seconds=5)
#: Servers asked for per page of the poll: Nova's default max_limit. A cloud
#: with a lower one answers fewer, and links the next page all the same.
POLL_PAGE = 1000
#: However Nova answers, one poll reads at most this many pages.
MAX_POLL_PAGES = 1000
#: Woken servers' tasks stepped at once, however many wakes came (each
#: step reads Nova twice, together).
WOKEN_AT_ONCE = 8
#: After a woken step that left its task running, look again after these
#: many seconds: Nova records the action's end a moment after it says so.
WOKEN_RETRIES = (0.05, 0.2, 1.0)
#: Nova announces an action's end about 10 ms before it records it
#: (bench/freshness.py --breakdown): a woken look waits this long first, so
#: that it mostly finds the end recorded, in one round of reads, not two.
WOKEN_SETTLE = 0.03


class LeaseLost(Exception):
    """Another replica holds the poller's lease now: this one stops its cycle."""


@dataclass
class CycleStats:
    tasks: int = 0
    batches: int = 0


class PollMetrics(Protocol):
    """What the poller reports, to whoever keeps the app's metrics."""

    def poll_cycle_done(self, seconds: float) -> None: ...

    def tasks_running(self, count: int) -> None: ...


class TaskPoller:
    def __init__(
        self,
        engine: TaskEngine,
        interval: float,
        max_backoff: float = 60.0,
        service: ServiceAuth | None = None,
        caller: CallerFacts | None = None,
        metrics: PollMetrics | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        #: Replicas share the store; one lease lets one poller at a time work.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        #: The longest one Nova call may take: a cycle makes no call with
        #: less lease than this left, so no call outlives the lease.
        self.call_timeout = engine.settings.nova.request_timeout
        self.lease_ttl = self.call_timeout + max(3 * interval, 5.0)
        self._lease_until = 0.0
        self.service = service
        self.caller = caller or CallerFacts()
        self.interval = interval
        self.max_backoff = max_backoff
        self._last_ok: dict[str, datetime] = {}
        self.cycles = 0
        #: Servers Nova's notifications said to look at before the next
        #: cycle, with how many times each was looked at again since.
        self._woken: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._woken_steps = asyncio.Semaphore(WOKEN_AT_ONCE)

    async def run(self, sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        """Poll forever; after a failed cycle wait twice as long (up to
        max_backoff), and back to the interval after a good one. The servers
        Nova said were done (``wake``) are looked at meanwhile, by ``answer_wakes``."""
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
            await (sleep or asyncio.sleep)(delay)

    def wake(self, server_id: str, attempt: int = 0) -> None:
        """Nova says an action on this server ended: look at it now, not at
        the next cycle. Best-effort: the cycle still looks at everything."""
        self._woken[server_id] = max(attempt, self._woken.get(server_id, 0))
        self._wake.set()

    def holds_lease(self) -> bool:
        """Whether this replica is the one that polls (always, without a lease)."""
        return self.service is None or self._lease_until > time.monotonic()

    async def answer_wakes(self) -> None:
        """Step woken servers' tasks as the wakes come, beside the cycles:
        a wake never waits for a cycle to end, nor for another wake's reads."""
        looking: set[asyncio.Task[None]] = set()
        try:
            while True:
                await self._wake.wait()
                await asyncio.sleep(WOKEN_SETTLE)
                self._wake.clear()
                woken, self._woken = self._woken, {}
                look = spawn(self._look_at(woken), name="woken-servers")
                looking.add(look)
                look.add_done_callback(looking.discard)
        finally:
            for look in looking:
                look.cancel()
            # Ended before this task ends: the app closes the store once it
            # has, and a look still reading it then would wait forever.
            await asyncio.gather(*looking, return_exceptions=True)

    async def _look_at(self, woken: Mapping[str, int]) -> None:
        try:
            await self.poll_servers(woken)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next cycle looks at them anyway
            log.warning("looking at %d woken server(s) failed (%s)", len(woken), _describe(exc))

    async def poll_servers(self, woken: Mapping[str, int]) -> None:
        """Step the running tasks on these servers now, each reading its
        server and Nova's record of the action, several at once. One still
        running is looked at again shortly: Nova writes the action's end a
        moment after it says so, and a task being started may not know its
        request id yet."""
        if self.service is not None and not await self._renew_lease():
            return
        service_token = await self.service.token() if self.service is not None else None
        steps = []
        for task in await self.engine.store.running_tasks():
            token = service_token or self.engine.token_for(task.id)
            if task.server_id in woken and token is not None:
                steps.append((task, token))
        stepped = await asyncio.gather(*(self._step_woken(task, token) for task, token in steps))
        for (task, _), after in zip(steps, stepped, strict=True):
            attempt = woken[task.server_id]
            if after is not None and not after.is_final and attempt < len(WOKEN_RETRIES):
                asyncio.get_running_loop().call_later(WOKEN_RETRIES[attempt], self.wake, task.server_id, attempt + 1)

    async def _step_woken(self, task: Task, token: str) -> Task | None:
        try:
            async with self._woken_steps:
                return await self.engine.advance(task, self._fenced(token), ended_in_nova=True)
        except (asyncio.CancelledError, LeaseLost):
            raise
        except Exception as exc:  # the next task still gets its turn
            log.warning("task %s could not advance: %s", task.id, _describe(exc))
            return None

    async def poll_once(self) -> CycleStats:
        started = self.engine.clock()
        stats = CycleStats()
        # With service credentials any replica can watch every task: one at a
        # time does, the holder of the lease (taken over once it lapses).
        # Without them, a replica watches only the tasks whose creators'
        # tokens it holds, which no other replica has: nothing is polled twice.
        if self.service is not None and not await self._renew_lease():
            return stats
        try:
            await self._cycle(started, stats)
        except LeaseLost:
            log.info("the task-poller lease passed to another replica; this cycle stops")
            return stats
        self.cycles += 1
        if self.metrics is not None:
            self.metrics.poll_cycle_done((self.engine.clock() - started).total_seconds())
        return stats

    async def _cycle(self, started: datetime, stats: CycleStats) -> None:
        groups: dict[str, list[Task]] = {}
        unwatched: list[Task] = []
        service_token = await self.service.token() if self.service is not None else None
        running = await self.engine.store.running_tasks()
        if self.metrics is not None:
            self.metrics.tasks_running(len(running))
        for task in running:
            # The service credentials, when configured, watch every task at
            # once; otherwise each creator's own token watches theirs.
            token = service_token or self.engine.token_for(task.id)
            # Without a token (after a restart, or once Nova refused it) a
            # task advances when someone allowed to see it reads it, with
            # that reader's token; its deadline still holds.
            if token is None:
                unwatched.append(task)
            else:
                groups.setdefault(token, []).append(task)
        # Each credential and each task in an error boundary of its own: one
        # refused token or one failing task never holds up the others.
        for token, tasks in groups.items():
            await self._keep_lease()
            changed = await self._changed_for(token, tasks, started, is_service=token == service_token)
            stats.batches += 1
            for task in tasks:
                await self._keep_lease()
                await self._step(task, token, changed)
                stats.tasks += 1
        for task in unwatched:
            await self._step(task, None, None)
        # Only the credentials still watching something are remembered:
        # tokens come and go, and this must not grow with them.
        watching = {token_digest(token) for token in groups}
        self._last_ok = {key: when for key, when in self._last_ok.items() if key in watching}

    async def _renew_lease(self) -> bool:
        """Take or renew the lease; counted from before the store was asked,
        so the time left is never overestimated."""
        asked = time.monotonic()
        held = await self.engine.store.take_lease("task-poller", self.holder, self.lease_ttl)
        self._lease_until = asked + self.lease_ttl if held else 0.0
        return held

    async def _keep_lease(self) -> None:
        """Before a Nova call: with less lease left than one call may take,
        renew it, or stop the cycle (LeaseLost) if another replica has it."""
        if self.service is None or self._lease_until - time.monotonic() >= self.call_timeout:
            return
        if not await self._renew_lease():
            raise LeaseLost

    def _fenced(self, token: str) -> Callable[[PlannedCall], Awaitable[NovaAnswer]]:
        """Nova with this token; under a lease, every write first makes sure
        in the store that this replica still holds it."""

        async def send(call: PlannedCall) -> NovaAnswer:
            if self.service is not None and call.method != "GET" and not await self._renew_lease():
                raise LeaseLost
            return await self.engine.nova.send(call, token=token)

        return send

    async def _changed_for(
        self, token: str, tasks: list[Task], started: datetime, *, is_service: bool
    ) -> dict[str, dict[str, Any]] | None:
        """The servers changed since this credential's last good poll; None
        when Nova could not be read with it."""
        key = token_digest(token)
        # Since the last good poll; a task not seen in it is read on its own.
        since = self._last_ok.get(key) or min(t.created_at for t in tasks)
        try:
            # An admin's tasks may be on other projects' servers, which Nova
            # lists to an admin only with all_tenants.
            all_projects = is_service or await self.caller.is_admin(token, self._fenced(token))
            changed = await self._changed_servers(token, since - _OVERLAP, all_projects=all_projects)
        except LeaseLost:
            raise
        except VNextError as exc:
            if exc.status == 401 and not is_service:
                # Revoked or expired: logged once, as the token is forgotten.
                dropped = self.engine.drop_token(token)
                log.warning("Nova refused a token held for %d task(s) (401): they now advance when read", dropped)
            else:
                if exc.status == 401 and self.service is not None:
                    self.service.invalidate()
                log.warning("task poll failed for %d task(s) (%s)", len(tasks), exc.message)
            return None
        except Exception as exc:  # one credential's trouble is not the cycle's
            log.warning("task poll failed for %d task(s) (%s)", len(tasks), _describe(exc))
            return None
        self._last_ok[key] = started
        return changed

    async def _changed_servers(self, token: str, since: datetime, all_projects: bool) -> dict[str, dict[str, Any]]:
        """Every server changed since ``since``, following Nova's paging (it
        answers at most its max_limit servers a page) to the last page."""
        query: tuple[tuple[str, str], ...] = (("changes-since", show_time(since) or ""), ("limit", str(POLL_PAGE)))
        if all_projects:
            query += (("all_tenants", "1"),)
        changed: dict[str, dict[str, Any]] = {}
        marker: tuple[tuple[str, str], ...] = ()
        for _ in range(MAX_POLL_PAGES):
            await self._keep_lease()
            call = ops.SERVERS(query=query + marker)
            answer = await self.engine.nova.send(call, token=token)
            if not answer.ok:
                raise VNextError(answer.status, f"Nova answered {answer.status} to the task poll")
            page = answer.part("servers")
            changed.update((s["id"], s) for s in page)
            # Nova links a next page exactly when this one is full.
            if not page or not any(link.get("rel") == "next" for link in answer.body.get("servers_links") or []):
                break
            marker = (("marker", page[-1]["id"]),)
        return changed

    async def _step(self, task: Task, token: str | None, changed: dict[str, dict[str, Any]] | None) -> None:
        """Advance one task on what the poll showed; when nothing could be
        read for it, only its deadline is checked."""
        try:
            if token is None or changed is None:
                await self.engine.expire_overdue(task)
            elif task.server_id in changed:
                await self.engine.advance(task, self._fenced(token), server=changed[task.server_id], observed=True)
            else:
                seen, last = self.engine.last_server(task.id)
                await self.engine.advance(task, self._fenced(token), server=last, observed=seen)
        except (asyncio.CancelledError, LeaseLost):
            raise
        except Exception as exc:  # the next task still gets its turn
            log.warning("task %s could not advance: %s", task.id, _describe(exc))


def _describe(exc: Exception) -> str:
    return exc.message if isinstance(exc, VNextError) else exc.__class__.__name__
