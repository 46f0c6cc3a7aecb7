"""Task items, stepped by hand: what Nova's instance action shows as items
(pure), and the engine recording them at a task's end, against a scripted
Nova and a real SQLite store. No devcloud, no sleeping."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import orjson
import pytest

from vnext_proxy.calls import NovaAnswer, PlannedCall
from vnext_proxy.config import NovaSettings, Settings
from vnext_proxy.errors import NovaUnavailable
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.stores import Store, open_store
from vnext_proxy.tasks import rules
from vnext_proxy.tasks.engine import TaskEngine
from vnext_proxy.tasks.model import ABORTED, COMPLETED, RUNNING, TIMED_OUT, WAITING, Task, TaskItem

T0 = datetime(2026, 11, 30, 14, 26, 51, 500000, tzinfo=UTC)
TASK_ID = "3f1e1c57-2a4b-4c77-9a0e-5b0f6a1d2c3e"
SERVER_ID = "186d21b0-6408-4162-9b70-a7737925b762"
REQUEST_ID = "req-de2f862b-6a42-4d42-bafc-70a940991205"
ACTION_PATH = f"/servers/{SERVER_ID}/os-instance-actions/{REQUEST_ID}"
EVENTS = {
    "conductor_migrate_server": "SCHEDULING",
    "cold_migrate": "SCHEDULING",
    "compute_prep_resize": "PREPARING",
    "compute__do_build_and_run_instance": "SPAWNING",
    "compute_reboot_instance": "REBOOTING",
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def nova(seconds: float) -> str:
    """A time as Nova writes it: UTC, no zone, microseconds."""
    return at(seconds).replace(tzinfo=None).isoformat()


def task(action: str = "CREATE", **changes: Any) -> Task:
    base = Task(
        id=TASK_ID, server_id=SERVER_ID, project_id="p", action=action, state=COMPLETED, created_at=T0,
        created_by="u", deadline_at=at(600), request_id=REQUEST_ID, ended_at=at(1), updated_at=at(1),
        params={"start_vm_state": "building"},
    )  # fmt: skip
    return replace(base, **changes)


def event(name: str, start: float, finish: float | None, result: str | None = "Success") -> dict[str, Any]:
    return {
        "event": name,
        "start_time": nova(start),
        "finish_time": None if finish is None else nova(finish),
        "result": None if finish is None else result,
    }


def instance_action(start: float, *events: dict[str, Any], message: str | None = None) -> dict[str, Any]:
    # Nova lists events newest first.
    ordered = sorted(events, key=lambda e: e["start_time"], reverse=True)
    return {"action": "x", "request_id": REQUEST_ID, "start_time": nova(start), "message": message, "events": ordered}


def item_id(key: str) -> str:
    return str(uuid.uuid5(uuid.UUID(TASK_ID), key))


# --- what Nova's instance action shows (pure) -------------------------------------------------------------------------


def test_a_build_no_poll_saw_spans_the_instance_action() -> None:
    # Nova's create: recorded at 0.4, its one event from 0.75 to 0.9.
    action = instance_action(0.4, event("compute__do_build_and_run_instance", 0.75, 0.9))
    [item] = rules.action_items(task(), action, EVENTS, span=True, fallback=None)
    assert item == TaskItem(
        item_id("compute__do_build_and_run_instance"), TASK_ID, "SPAWNING", COMPLETED,
        at(0.4), at(0.4), at(0.9), "compute__do_build_and_run_instance",
    )  # fmt: skip
    # With steps a poll saw, an event is a step they missed: its own times.
    [missed] = rules.action_items(task(), action, EVENTS, span=False, fallback=None)
    assert (missed.started_at, missed.ended_at) == (at(0.75), at(0.9))
    assert missed.id == item.id  # the same item, whoever records it


def test_events_of_one_item_merge_and_the_first_starts_with_the_action() -> None:
    action = instance_action(
        0.1,
        event("conductor_migrate_server", 0.2, 0.3),
        event("cold_migrate", 0.25, 0.5),
        event("compute_prep_resize", 0.6, 0.8),
        event("compute_unmapped_step", 0.61, 0.7),
    )
    items = rules.action_items(task("RESIZE"), action, EVENTS, span=True, fallback=None)
    assert [(i.action, i.started_at, i.ended_at, i.nova_event) for i in items] == [
        ("SCHEDULING", at(0.1), at(0.5), "conductor_migrate_server"),
        ("PREPARING", at(0.6), at(0.8), "compute_prep_resize"),
    ]
    assert [i.id for i in items] == [item_id("conductor_migrate_server"), item_id("compute_prep_resize")]


def test_a_failed_event_is_aborted_and_an_unfinished_one_open() -> None:
    action = instance_action(
        0.1, event("conductor_migrate_server", 0.2, 0.3, "Error"), event("compute_prep_resize", 0.4, None)
    )
    failed, running = rules.action_items(task("RESIZE", state=ABORTED), action, EVENTS, span=True, fallback=None)
    assert (failed.state, failed.ended_at) == (ABORTED, at(0.3))
    assert (running.state, running.ended_at) == (RUNNING, None)


def test_an_event_that_finished_after_the_task_ended_did_not_finish_within_it() -> None:
    timed_out = task("REBOOT", state=TIMED_OUT, ended_at=at(0.5))
    action = instance_action(0.1, event("compute_reboot_instance", 0.2, 0.9))
    [item] = rules.action_items(timed_out, action, EVENTS, span=True, fallback=None)
    assert (item.state, item.ended_at) == (RUNNING, None)
    [framed] = rules.frame_items(timed_out, [item])
    assert (framed.state, framed.started_at, framed.ended_at) == (TIMED_OUT, at(0.1), at(0.5))


def test_with_no_event_naming_a_step_one_item_spans_the_action() -> None:
    action = instance_action(0.2, event("api_something", 0.3, 0.4))
    assert rules.action_items(task(), action, EVENTS, span=True, fallback=None) == []
    [item] = rules.action_items(task(), action, EVENTS, span=True, fallback="SCHEDULING")
    assert item == TaskItem(
        item_id(f"instance-action:{REQUEST_ID}"), TASK_ID, "SCHEDULING", COMPLETED, at(0.2), at(0.2), at(0.4)
    )
    # Not when polls saw steps: those are what the task shows.
    assert rules.action_items(task(), action, EVENTS, span=False, fallback="SCHEDULING") == []
    # No event at all yet (Nova still dispatching): open, and an error action is ABORTED.
    [bare] = rules.action_items(task(), instance_action(0.2), EVENTS, span=True, fallback="SCHEDULING")
    assert (bare.state, bare.ended_at) == (RUNNING, None)
    [error] = rules.action_items(task(), instance_action(0.2, message="Error"), EVENTS, span=True, fallback="X")
    assert error.state == ABORTED


def test_items_are_framed_by_their_task() -> None:
    ended = task(ended_at=at(1))
    seen_late = TaskItem("a", TASK_ID, "SCHEDULING", COMPLETED, at(0.5), at(0.5), at(1.7))  # a poll saw it end late
    open_one = TaskItem("b", TASK_ID, "SPAWNING", RUNNING, at(0.8), at(0.8))
    waiting = TaskItem("c", TASK_ID, "FINALIZING", WAITING, at(0.9), at(0.9))
    early = TaskItem("d", TASK_ID, "SPAWNING", COMPLETED, at(-0.3), at(-0.3), at(0.2))  # Nova's clock a little behind
    failed = TaskItem("e", TASK_ID, "MIGRATING", ABORTED, at(0.3), at(0.3))
    inside = TaskItem("f", TASK_ID, "PREPARING", COMPLETED, at(0.1), at(0.1), at(0.2))
    framed = {i.id: i for i in rules.frame_items(ended, [seen_late, open_one, waiting, early, failed, inside])}
    assert set(framed) == {"a", "b", "c", "d", "e"}  # unchanged ones are not rewritten
    assert (framed["a"].state, framed["a"].ended_at) == (COMPLETED, at(1))
    assert (framed["b"].state, framed["b"].started_at, framed["b"].ended_at) == (COMPLETED, at(0.8), at(1))
    assert (framed["c"].state, framed["c"].ended_at) == (COMPLETED, at(1))
    assert (framed["d"].created_at, framed["d"].started_at, framed["d"].ended_at) == (T0, T0, at(0.2))
    assert (framed["e"].state, framed["e"].ended_at) == (ABORTED, at(1))
    # A step seen starting after Nova's last finish: no longer than the task.
    [after] = rules.frame_items(ended, [TaskItem("g", TASK_ID, "SPAWNING", RUNNING, at(1.4), at(1.4))])
    assert (after.started_at, after.ended_at) == (at(1), at(1))


# --- the engine, with a scripted Nova ---------------------------------------------------------------------------------


@dataclass
class ScriptedNova:
    """Nova that expects exactly these calls (method, path), in this order."""

    steps: list[tuple[str, str, int, Any]]
    made: list[PlannedCall] = field(default_factory=list)

    async def __call__(self, call: PlannedCall) -> NovaAnswer:
        assert self.steps, f"unexpected Nova call {call.method} {call.path}"
        method, path, status, body = self.steps.pop(0)
        assert (call.method, call.path) == (method, path)
        self.made.append(call)
        if isinstance(body, Exception):
            raise body
        return NovaAnswer(status, REQUEST_ID, orjson.dumps(body) if body is not None else b"")

    def finished(self) -> None:
        assert not self.steps, f"calls never made: {self.steps}"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path}/tasks.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()


class Clock:
    """The proxy's clock: ``now``, moving on by ``step`` at every reading."""

    def __init__(self, now: datetime, step: timedelta = timedelta(0)) -> None:
        self.now = now
        self.step = step

    def __call__(self) -> datetime:
        now, self.now = self.now, self.now + self.step
        return now


def engine(mappings: MappingSet, store: Store, clock: Clock) -> TaskEngine:
    async def no_flavors(wanted: str, send: Any) -> str:
        raise AssertionError("no flavor is resolved here")

    settings = Settings(nova=NovaSettings(endpoint="http://nova.invalid/v2.1"))
    # The engine's own Nova client is only for the poller's tokens: every call here goes through ``send``.
    return TaskEngine(mappings, settings, store, cast(Any, None), flavors=no_flavors, clock=clock)


def server(vm_state: str, task_state: str | None = None) -> dict[str, Any]:
    return {"id": SERVER_ID, "tenant_id": "p", "OS-EXT-STS:vm_state": vm_state, "OS-EXT-STS:task_state": task_state,
            "updated": "2026-11-30T14:26:52Z", "flavor": {"original_name": "m1.tiny"}}  # fmt: skip


async def running(store: Store, action: str = "CREATE", **changes: Any) -> Task:
    started = task(action, state=RUNNING, ended_at=None, updated_at=T0, **changes)
    await store.add_task(started)
    return started


BUILT = instance_action(0.4, event("compute__do_build_and_run_instance", 0.75, 0.9))


@pytest.mark.parametrize("may_write", [True, False], ids=["poller", "reader"])
async def test_a_build_no_poll_saw_ends_with_one_item_spanning_novas_action(
    mappings: MappingSet, store: Store, may_write: bool
) -> None:
    clock = Clock(at(5))
    tasks = engine(mappings, store, clock)
    created = await running(store)
    # The first look at the server finds it built: the action decides, and gives the item.
    send = ScriptedNova([("GET", ACTION_PATH, 200, {"instanceAction": BUILT})])
    ended = await tasks.advance(created, send, server=server("active"), observed=True, may_write=may_write)
    send.finished()
    assert (ended.state, ended.ended_at) == (COMPLETED, at(0.9))
    items = await store.items_for_task(TASK_ID)
    assert [(i.action, i.state, i.started_at, i.ended_at) for i in items] == [("SPAWNING", COMPLETED, at(0.4), at(0.9))]
    # Another replica ending it too, or reading it again: the same item, once.
    again = ScriptedNova([("GET", ACTION_PATH, 200, {"instanceAction": BUILT})])
    assert await tasks.items_of(ended, again) == items
    assert await tasks._finish_items(ended, again) == items
    again.finished()
    assert await store.items_for_task(TASK_ID) == items


async def test_steps_a_poll_saw_are_the_items_and_novas_action_is_not_read(mappings: MappingSet, store: Store) -> None:
    clock = Clock(at(0.2))
    tasks = engine(mappings, store, clock)
    pause = await running(store, "PAUSE", params={"start_vm_state": "active"})
    send = ScriptedNova([])  # trust_state: seen pausing, then paused, is enough
    pause = await tasks.advance(pause, send, server=server("active", "pausing"), observed=True)
    clock.now = at(3)
    ended = await tasks.advance(pause, send, server=server("paused"), observed=True)
    send.finished()
    assert ended.state == COMPLETED
    [item] = await store.items_for_task(TASK_ID)
    assert item.id == rules.polled_item_id(ended, "pausing")
    assert (item.action, item.state, item.started_at) == ("PAUSING", COMPLETED, at(0.2))
    # Seen ending at the next poll, but Nova finished sooner (its server's updated time): within the task.
    assert ended.ended_at is not None
    assert item.ended_at == ended.ended_at < at(3)


async def test_a_task_timed_out_before_any_poll_saw_a_step_shows_novas_unfinished_step(
    mappings: MappingSet, store: Store
) -> None:
    clock = Clock(at(700))  # past the deadline
    tasks = engine(mappings, store, clock)
    reboot = await running(store, "REBOOT", params={"start_vm_state": "active"})
    unfinished = instance_action(0.1, event("compute_reboot_instance", 0.3, None))
    send = ScriptedNova([("GET", ACTION_PATH, 200, {"instanceAction": unfinished})])
    ended = await tasks.advance(reboot, send, server=server("active"), observed=True)
    send.finished()
    assert (ended.state, ended.ended_at) == (TIMED_OUT, at(700))
    [item] = await store.items_for_task(TASK_ID)
    assert (item.action, item.state, item.started_at, item.ended_at) == ("REBOOTING", TIMED_OUT, at(0.1), at(700))


async def test_a_task_aborted_by_nova_shows_the_failed_step(mappings: MappingSet, store: Store) -> None:
    tasks = engine(mappings, store, Clock(at(5)))
    resize = await running(store, "RESIZE", params={"start_vm_state": "active", "type_id": "5"})
    failed = instance_action(
        0.1,
        event("conductor_migrate_server", 0.2, 0.4, "Error"),
        event("cold_migrate", 0.25, 0.35, "Error"),
        message="Error",
    )
    send = ScriptedNova([("GET", ACTION_PATH, 200, {"instanceAction": failed})])
    ended = await tasks.advance(resize, send, server=server("active"), observed=True)
    send.finished()
    assert ended.state == ABORTED
    [item] = await store.items_for_task(TASK_ID)
    assert (item.action, item.state, item.started_at, item.ended_at) == ("SCHEDULING", ABORTED, at(0.1), at(0.4))


async def test_nova_failing_on_the_item_read_still_ends_the_task(mappings: MappingSet, store: Store) -> None:
    tasks = engine(mappings, store, Clock(at(700)))
    reboot = await running(store, "REBOOT", params={"start_vm_state": "active"})
    send = ScriptedNova([("GET", ACTION_PATH, 0, NovaUnavailable("Nova is unreachable"))])
    ended = await tasks.advance(reboot, send, server=server("active"), observed=True)
    send.finished()
    assert ended.state == TIMED_OUT
    assert await store.items_for_task(TASK_ID) == []
    # Read later, once Nova answers: the item it could not have then.
    unfinished = instance_action(0.1, event("compute_reboot_instance", 0.2, None))
    late = ScriptedNova([("GET", ACTION_PATH, 200, {"instanceAction": unfinished})])
    [item] = await tasks.items_of(ended, late)
    late.finished()
    assert (item.action, item.state, item.ended_at) == ("REBOOTING", TIMED_OUT, at(700))
    assert await store.items_for_task(TASK_ID) == [item]


async def test_a_sync_action_gets_its_item_from_the_action_read_on_the_reply(
    mappings: MappingSet, store: Store
) -> None:
    tasks = engine(mappings, store, Clock(at(0.2), step=timedelta(seconds=0.5)))
    locked = instance_action(0.3, event("api_lock", 0.35, 0.4))
    locked["user_id"] = "u1"
    send = ScriptedNova([
        ("GET", f"/servers/{SERVER_ID}", 200, {"server": server("active")}),
        ("POST", f"/servers/{SERVER_ID}/action", 202, None),
        ("GET", ACTION_PATH, 200, {"instanceAction": locked}),
    ])  # fmt: skip
    done = await tasks.start(SERVER_ID, {"action": "LOCK"}, "a-token", send)
    send.finished()
    assert (done.state, done.created_by) == (COMPLETED, "u1")
    [item] = await store.items_for_task(done.id)
    assert (item.action, item.state, item.started_at, item.ended_at) == ("LOCKING", COMPLETED, at(0.3), at(0.4))


REBOOTED = instance_action(0.1, event("compute_reboot_instance", 0.3, 2.5))


async def test_one_step_nova_names_with_several_task_states_is_one_item(mappings: MappingSet, store: Store) -> None:
    # Nova reboots through rebooting, reboot_pending and reboot_started: one step, REBOOTING.
    clock = Clock(at(0.2))
    tasks = engine(mappings, store, clock)
    reboot = await running(store, "REBOOT", params={"start_vm_state": "active"})
    for seconds, task_state in ((0.2, "rebooting"), (0.8, "reboot_pending"), (1.4, "reboot_started")):
        clock.now = at(seconds)
        reboot = await tasks.advance(reboot, ScriptedNova([]), server=server("active", task_state), observed=True)
    clock.now = at(3)
    send = ScriptedNova([("GET", ACTION_PATH, 200, {"instanceAction": REBOOTED})])
    ended = await tasks.advance(reboot, send, server=server("active"), observed=True)
    send.finished()
    assert ended.state == COMPLETED
    [item] = await store.items_for_task(TASK_ID)
    assert (item.id, item.action, item.state) == (rules.polled_item_id(ended, "rebooting"), "REBOOTING", COMPLETED)
    assert (item.started_at, item.ended_at) == (at(0.2), ended.ended_at)


async def test_a_reader_a_step_behind_the_poller_adds_no_second_item(mappings: MappingSet, store: Store) -> None:
    # The poller and a reader advance the same task at once: the reader's copy
    # predates the poller's look, which saw the step under another task_state.
    tasks = engine(mappings, store, Clock(at(0.5)))
    stale = await running(store, "REBOOT", params={"start_vm_state": "active"})
    await tasks.advance(stale, ScriptedNova([]), server=server("active", "rebooting"), observed=True)
    await tasks.advance(
        stale, ScriptedNova([]), server=server("active", "reboot_started"), observed=True, may_write=False
    )
    assert [i.action for i in await store.items_for_task(TASK_ID)] == ["REBOOTING"]


async def test_two_steps_at_once_confirm_a_resize_once(mappings: MappingSet, store: Store) -> None:
    # The poll's cycle and a woken look both see the server awaiting the
    # confirm. A second confirmResize would fail in Nova's compute, and put
    # the server in ERROR.
    tasks = engine(mappings, store, Clock(at(5)))
    resize = await running(store, "RESIZE", params={"start_vm_state": "active", "type_id": "2"})
    confirming = asyncio.Event()

    async def send(call: PlannedCall) -> NovaAnswer:
        assert (call.method, call.path) == ("POST", f"/servers/{SERVER_ID}/action"), call
        assert not confirming.is_set(), "confirmed twice"
        confirming.set()
        await asyncio.sleep(0.05)  # Nova taking the confirm, while the other step looks
        return NovaAnswer(204, "req-confirm", b"")

    resized = server("resized")
    steps = await asyncio.gather(*(tasks.advance(resize, send, server=resized, observed=True) for _ in range(2)))
    assert confirming.is_set()
    assert [step.phase for step in steps] == ["confirming", "confirming"]
    saved = await store.get_task(TASK_ID)
    assert saved is not None
    assert saved.params["confirm_request_id"] == "req-confirm"
