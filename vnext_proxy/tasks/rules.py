"""What Nova's state means for a task: pure decisions, no I/O.

Like openstacksdk's ``wait_for_status``, with explicit end states, failure
signs and a deadline; unlike it, each decision is one step, so the poller
(and tests) call it with whatever Nova showed, without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vnext_proxy.mapping.model import ActionVariant
from vnext_proxy.tasks.model import ABORTED, COMPLETED, RUNNING, TIMED_OUT, Task
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
