"""Task and task-item records, as the store keeps them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
ABORTED = "ABORTED"
TIMED_OUT = "TIMED_OUT"
WAITING = "WAITING"
FINAL_STATES = frozenset({COMPLETED, ABORTED, TIMED_OUT})


@dataclass(frozen=True)
class Task:
    id: str
    server_id: str
    project_id: str | None
    action: str
    state: str
    created_at: datetime
    #: The user who asked, as Nova recorded in its instance action (None
    #: when Nova recorded none, e.g. locking a locked server).
    created_by: str | None
    deadline_at: datetime
    #: x-openstack-request-id of the Nova call that started it; equals the
    #: request_id of Nova's instance action.
    request_id: str | None = None
    updated_at: datetime | None = None
    ended_at: datetime | None = None
    reason: str | None = None
    #: What the action was asked (e.g. RESIZE's type) and what it found
    #: (e.g. the flavor before a RESIZE, for REVERT_RESIZE).
    params: dict[str, Any] = field(default_factory=dict)
    #: Where the engine is in the action: "nova" (waiting on Nova), or a
    #: follow-up step such as "confirming".
    phase: str = "nova"
    #: The last Nova task_state seen, to turn transitions into items.
    last_task_state: str | None = None
    #: Raised by one at every save; a save names the version it read, so
    #: two writers (replicas, a poller and a reader) never overwrite each other.
    version: int = 0
    #: SHA-256 of the creator's token (never the token): recognises the
    #: creator reading their task after a restart, whose token may confirm.
    creator_token_sha256: str | None = None
    #: What Nova shows admins only (an event's details, a traceback's last
    #: line); ``reason`` is what any reader of the task may see.
    admin_reason: str | None = None

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class TaskItem:
    id: str
    task_id: str
    action: str
    state: str
    created_at: datetime
    started_at: datetime
    ended_at: datetime | None = None
    #: Nova's instance-action event behind it, when there is one.
    nova_event: str | None = None
