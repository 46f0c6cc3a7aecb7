"""How tasks and task items look in the vNext API (pure)."""

from __future__ import annotations

from typing import Any

from vnext_proxy.mapping.compare import FieldRow
from vnext_proxy.tasks.model import Task, TaskItem
from vnext_proxy.templates import compile_template
from vnext_proxy.timeutil import show_time

# Each id quoted as one path segment, as every href the mappings render is.
_TASK = compile_template("/server_tasks/{id}")
_ITEMS = compile_template("/server_tasks/{id}/items")
_SERVER = compile_template("/servers/{id}")


def task_view(task: Task, *, admin: bool = False) -> dict[str, Any]:
    """``admin``: the reader is one, and sees what Nova shows admins only."""
    reason = task.reason
    if admin and task.admin_reason:
        reason = f"{reason} ({task.admin_reason})" if reason else task.admin_reason
    return {
        "id": task.id,
        "server_id": task.server_id,
        "action": task.action,
        "state": task.state,
        "created_at": show_time(task.created_at),
        "created_by": task.created_by,
        "updated_at": show_time(task.updated_at),
        "ended_at": show_time(task.ended_at),
        "reason": reason,
        # The x-openstack-request-id of the Nova call, which is also the
        # request_id of Nova's instance action: where to look on Nova's side.
        "nova_request_id": task.request_id,
        "_links": {
            # The spec's example puts the server id here; the task's is right.
            "self": {"href": _TASK.expand({"id": task.id})},
            "describedby": {"href": "/schemas/server_task"},
            "rel/server_task_items": {"href": _ITEMS.expand({"id": task.id})},
            "rel/server": {"href": _SERVER.expand({"id": task.server_id})},
        },
    }


def item_view(item: TaskItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "task_id": item.task_id,
        "action": item.action,
        "state": item.state,
        "created_at": show_time(item.created_at),
        "started_at": show_time(item.started_at),
        "ended_at": show_time(item.ended_at),
        "_links": {
            "self": {"href": f"/server_tasks/{item.task_id}/items#{item.id}"},
            "describedby": {"href": "/schemas/server_task_item"},
            "rel/server_task": {"href": f"/server_tasks/{item.task_id}"},
        },
    }


#: Each field of a task beside Nova's instance action (the record Nova
#: keeps of the call that started it): the action's field it matches, and
#: how the proxy comes to it. Nova has no task: this is the nearest view.
TASK_FIELDS: tuple[tuple[str, str | None, str], ...] = (
    ("id", None, "the proxy's own id for the task, kept in its store (Nova's actions have none)"),
    ("server_id", "instance_uuid", "as Nova shows it"),
    ("action", "action", "the task action whose Nova call recorded this instance action (mappings)"),
    (
        "state",
        None,
        "the task engine's verdict: the server's states the action's mapping says end it, "
        "and the instance action's events (Success, Error)",
    ),
    ("created_at", "start_time", "the proxy's own time of the request; time: ISO 8601 in UTC with a Z"),
    ("created_by", "user_id", "as Nova recorded it"),
    ("updated_at", "updated_at", "the proxy's last change to the task"),
    ("ended_at", None, "when the proxy saw the end: the last event's finish, or the poll that saw the end state"),
    ("reason", "message", "why it was ABORTED or TIMED_OUT: Nova's failed event or the proxy's deadline"),
    ("nova_request_id", "request_id", "the x-openstack-request-id of the Nova call: the same value"),
)


def task_compare_rows(
    view: dict[str, Any], nova_action: dict[str, Any] | None, declared_at: str | None
) -> list[FieldRow]:
    """A task's fields beside Nova's instance action for it (None: Nova
    shows none, e.g. a task whose call Nova refused)."""
    rows = []
    for name, nova_field, how in TASK_FIELDS:
        fields = (nova_field,) if nova_field is not None else ()
        values = {nova_field: (nova_action or {}).get(nova_field)} if nova_field is not None else {}
        rows.append(FieldRow(name, view.get(name), fields, values, how, declared_at if name == "action" else None))
    return rows


def instance_action_leftovers(nova_action: dict[str, Any] | None) -> dict[str, Any]:
    """The instance action's fields no task field matches (its events among them)."""
    matched = {nova_field for _, nova_field, _ in TASK_FIELDS if nova_field is not None}
    return {k: v for k, v in (nova_action or {}).items() if k not in matched}
