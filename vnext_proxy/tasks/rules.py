"""What Nova's state means for a task: pure decisions, no I/O.

Like openstacksdk's ``wait_for_status``, with explicit end states, failure
signs and a deadline; unlike it, each decision is one step, so the poller
(and tests) call it with whatever Nova showed, without sleeping.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from vnext_proxy.mapping.model import ActionVariant
from vnext_proxy.tasks.model import ABORTED, COMPLETED, FINAL_STATES, RUNNING, TIMED_OUT, Task, TaskItem
from vnext_proxy.timeutil import parse_time

FETCH_ACTION = "fetch_action"
CONFIRM = "confirm"


@dataclass(frozen=True)
class Verdict:
    state: str
    #: Why, in what Nova shows any reader: the failed step, the fault's message.
    reason: str | None = None
    #: What Nova shows admins only (an event's details): kept apart.
    admin_reason: str | None = None
    #: What the engine must do before it can decide: fetch Nova's instance
    #: action, or confirm a resize.
    next_step: str | None = None


def assess(
    task: Task,
    variant: ActionVariant,
    server: dict[str, Any] | None,
    action: dict[str, Any] | None,
    now: datetime,
) -> Verdict:
    """Decide a running task's state from the server (None: Nova says 404)
    and, when fetched, the instance action Nova recorded for it."""
    failure = _action_failure(action)
    if failure is not None:
        step, details = failure
        fault = _fault_message(server)
        return Verdict(ABORTED, f"{step}: {fault}" if fault else step, admin_reason=details)
    if (
        server is not None
        and server.get("OS-EXT-STS:vm_state") == "error"
        and task.params.get("start_vm_state") != "error"
    ):
        fault = _fault_message(server) or "no fault recorded"
        return Verdict(ABORTED, f"Nova put the server in ERROR: {fault}", admin_reason=_fault_details(server))
    if server is None and not any(m.gone for m in variant.done):
        return Verdict(ABORTED, "the server no longer exists")
    late = overdue(task, now)
    if late is not None:
        return late
    if server is None:
        return Verdict(COMPLETED)
    if variant.confirm and task.phase == "nova" and _awaits_confirm(server):
        return Verdict(RUNNING, next_step=CONFIRM)
    went_idle = task.last_task_state is not None and server.get("OS-EXT-STS:task_state") is None
    if not any(m.matches(server) for m in variant.done):
        # Idle again but not where it should be: a failure Nova reverted.
        if went_idle and action is None:
            return Verdict(RUNNING, next_step=FETCH_ACTION)
        return Verdict(RUNNING)
    if task.phase == "confirming":
        # The resize's own instance action finished before VERIFY_RESIZE.
        return Verdict(COMPLETED)
    if variant.trust_state and went_idle and action is None:
        # Seen going through its task states into its end state: conclusive
        # for this action, so no per-task read of Nova's instance action.
        return Verdict(COMPLETED)
    # Otherwise matching the end state is not enough (a reboot starts and ends
    # ACTIVE, a failed resize falls back to ACTIVE): Nova's instance action decides.
    if action is None:
        return Verdict(RUNNING, next_step=FETCH_ACTION)
    return Verdict(COMPLETED) if _finished(action) else Verdict(RUNNING)


def overdue(task: Task, now: datetime) -> Verdict | None:
    """TIMED_OUT once the deadline has passed: decided on the proxy's own
    clock, so it holds even while Nova cannot be read."""
    if now < task.deadline_at:
        return None
    return Verdict(TIMED_OUT, f"{task.action} did not finish by its deadline ({task.deadline_at:%Y-%m-%dT%H:%M:%SZ})")


def end_time(
    task: Task, verdict: Verdict, server: dict[str, Any] | None, action: dict[str, Any] | None, now: datetime
) -> datetime:
    """When the task ended, by Nova's clock: the last event of its instance
    action to finish, or else the server's last update. Only a deadline, or
    a server that is gone without a trace, ends on the proxy's clock."""
    if verdict.state == TIMED_OUT:
        return now
    finished = [t for e in (action or {}).get("events") or [] if (t := nova_time(e.get("finish_time"))) is not None]
    if finished:
        return max(finished)
    updated = nova_time((server or {}).get("updated"))
    if updated is not None:
        return max(updated, task.created_at)
    return now


def nova_time(value: Any) -> datetime | None:
    """A time as Nova writes it, or None."""
    return parse_time(value) if isinstance(value, str) else None


def _awaits_confirm(server: dict[str, Any]) -> bool:
    return server.get("OS-EXT-STS:vm_state") == "resized" and server.get("OS-EXT-STS:task_state") is None


def _finished(action: dict[str, Any]) -> bool:
    events = action.get("events") or []
    return bool(events) and all(e.get("finish_time") for e in events)


def _action_failure(action: dict[str, Any] | None) -> tuple[str, str | None] | None:
    """The failed step, and its details (which Nova shows admins only)."""
    if action is None:
        return None
    for event in action.get("events") or []:
        if event.get("result") == "Error":
            details = event.get("details") or _last_line(event.get("traceback"))
            return f"Nova's {event.get('event')} step failed", details
    if action.get("message") == "Error" and _finished(action):
        return f"Nova's {action.get('action')} action ended in error", None
    return None


def _fault_message(server: dict[str, Any] | None) -> str | None:
    """A server fault's message: Nova shows it to every reader of the server."""
    message = ((server or {}).get("fault") or {}).get("message")
    return message if isinstance(message, str) and message else None


def _fault_details(server: dict[str, Any] | None) -> str | None:
    """A fault's details (a traceback): Nova shows them to admins only."""
    return _last_line(((server or {}).get("fault") or {}).get("details"))


def _last_line(text: Any) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    return text.strip().splitlines()[-1]


def item_action(task_state: str | None, items: dict[str, str]) -> str | None:
    """The vNext task item a Nova task_state shows as."""
    return items.get(task_state) if task_state else None


def action_items(
    task: Task, action: dict[str, Any], event_items: dict[str, str], *, span: bool, fallback: str | None
) -> list[TaskItem]:
    """The steps Nova's instance action recorded, as items of ``task`` (which
    has ended): one per item action its events map to (``event_items``),
    from the first such event's start to the last one's finish.

    ``span``: no poll saw a step, so these items are all the task shows and
    must account for the whole action: the first starts when Nova recorded
    the action, and when no event names a step, one item named ``fallback``
    (None: none) spans it. An event still unfinished at the task's end did
    not finish within the task: its item is left open, for ``frame_items``.
    Ids are derived from the task and the event (or the action), so two
    replicas, or the same one twice, write the same items."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    events = [e for e in action.get("events") or [] if isinstance(e, dict)]
    for event in sorted(events, key=lambda e: nova_time(e.get("start_time")) or task.created_at):
        name = event_items.get(str(event.get("event")))
        if name is not None:
            by_name.setdefault(name, []).append(event)
    started = nova_time(action.get("start_time")) or task.created_at
    items = [_step_item(task, name, steps) for name, steps in by_name.items()]
    if span and items:
        first = items[0]
        if started < first.started_at:
            items[0] = replace(first, created_at=started, started_at=started)
    elif span and fallback is not None:
        failed = action.get("message") == "Error" or any(e.get("result") == "Error" for e in events)
        ended = _finished_by(task, events) if events else None
        state = ABORTED if failed else COMPLETED if ended is not None else RUNNING
        key = f"instance-action:{action.get('request_id')}"
        items.append(TaskItem(_item_id(task, key), task.id, fallback, state, started, started, ended))
    return items


def _step_item(task: Task, name: str, events: list[dict[str, Any]]) -> TaskItem:
    """One item for the events (oldest first) that show as ``name``."""
    first = str(events[0]["event"])
    started = nova_time(events[0].get("start_time")) or task.created_at
    ended = _finished_by(task, events)
    failed = any(e.get("result") == "Error" for e in events)
    state = ABORTED if failed else COMPLETED if ended is not None else RUNNING
    return TaskItem(_item_id(task, first), task.id, name, state, started, started, ended, first)


def _finished_by(task: Task, events: list[dict[str, Any]]) -> datetime | None:
    """When the last of ``events`` finished, if all did by the task's end."""
    finished = [nova_time(e.get("finish_time")) for e in events]
    done = [t for t in finished if t is not None and (task.ended_at is None or t <= task.ended_at)]
    return max(done) if done and len(done) == len(finished) else None


def frame_items(task: Task, items: list[TaskItem]) -> list[TaskItem]:
    """The items of an ended task, each ended, within the task's own span:
    those that changed. An item still open ends with the task, in its state
    (unless it already had a final one, from a failed event); the times of
    the others are kept, except where they fall outside the task, as Nova's
    and the proxy's clocks may differ a little, and a poll may see a step
    end after Nova finished the action."""
    low = task.created_at
    high = max(task.ended_at or low, low)

    def inside(when: datetime) -> datetime:
        return min(max(when, low), high)

    framed = []
    for item in items:
        ended = inside(item.ended_at) if item.ended_at is not None else high
        state = item.state if item.ended_at is not None or item.state in FINAL_STATES else task.state
        started = min(inside(item.started_at), ended)
        moved = replace(
            item, state=state, created_at=min(inside(item.created_at), ended), started_at=started, ended_at=ended
        )
        if moved != item:
            framed.append(moved)
    return framed


def polled_item_id(task: Task, task_state: str) -> str:
    """The id of the item a poll records for a Nova task_state."""
    return _item_id(task, f"task_state:{task_state}")


def _item_id(task: Task, key: str) -> str:
    return str(uuid.uuid5(uuid.UUID(task.id), key))
