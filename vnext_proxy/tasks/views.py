"""How tasks and task items look in the vNext API (pure)."""

from __future__ import annotations

from typing import Any

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
