"""Side by side: a vNext object and Nova's view of it, and a task's
timeline. Each is made by serving the vNext read with the caller's token
(so it shows exactly what that token may read through the API) while
keeping Nova's answers."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from vnext_proxy.calls import NovaAnswer, PlannedCall
from vnext_proxy.errors import VNextError
from vnext_proxy.execution.context import Inbound, Services
from vnext_proxy.execution.named import executor_for
from vnext_proxy.execution.tasks import admin_reads, nova_get, visible_task
from vnext_proxy.mapping.compare import compare_fields, unshown_nova_fields
from vnext_proxy.mapping.engine import lookup
from vnext_proxy.mapping.model import Route
from vnext_proxy.nova import operations as ops
from vnext_proxy.tasks.model import Task
from vnext_proxy.tasks.views import instance_action_leftovers, item_view, task_compare_rows, task_view

#: What the compare page compares: its path's kind -> the vNext read's rel.
COMPARED = {"servers": "server", "server_types": "server_type"}


async def compare_object(services: Services, req: Inbound, kind: str, object_id: str) -> dict[str, Any]:
    """The vNext object at /{kind}/{object_id} beside the Nova object its
    mapping renders it from, field by field."""
    route = _read_route(services, COMPARED[kind])
    answers: dict[str, Any] = {}
    served = await executor_for(route, services.settings).execute(services, _reading(req, route, object_id, answers))
    assert route.response.object is not None
    spec = services.mappings.objects[route.response.object]
    nova_obj = lookup(answers, route.response.source)
    if not isinstance(nova_obj, Mapping):
        raise VNextError(502, "Nova's answer has no object to compare")
    rows = compare_fields(spec, {**nova_obj, "_calls": answers}, services.render_context)
    return {
        "kind": kind,
        "id": object_id,
        "vnext_href": f"/{kind}/{object_id}",
        "vnext": served.body,
        "nova_object": route.response.source[-1],
        "fields": [row.as_json() for row in rows],
        "nova_only": unshown_nova_fields(rows, nova_obj),
        "declared_at": str(spec.source),
    }


async def compare_task(services: Services, req: Inbound, task_id: str) -> dict[str, Any]:
    """A task beside Nova's instance action for it: the nearest thing Nova has."""
    task, view = await _task(services, req, task_id)
    nova_action = await _instance_action(req, task)
    spec = services.mappings.actions.get(task.action)
    declared = str(spec.source) if spec is not None and spec.source is not None else None
    rows = task_compare_rows(view, nova_action, declared)
    return {
        "kind": "server_tasks",
        "id": task_id,
        "vnext_href": f"/server_tasks/{task_id}",
        "vnext": view,
        "nova_object": "instanceAction",
        "fields": [row.as_json() for row in rows],
        "nova_only": instance_action_leftovers(nova_action),
        "declared_at": declared,
    }


async def task_timeline(services: Services, req: Inbound, task_id: str) -> dict[str, Any]:
    """A task's items on a time axis, each with the Nova states it stands for,
    beside Nova's instance action and its events (as Nova shows them to this
    caller: events' details are for admins)."""
    task, view = await _task(services, req, task_id)
    items = await services.tasks.items_of(task, req.send)
    nova_action = await _instance_action(req, task)
    server_answer = await req.send(ops.SERVER(server_id=task.server_id))
    server = server_answer.part("server", kind=dict) if server_answer.ok else None
    states_of: dict[str, list[str]] = {}
    for task_state, item_action in services.mappings.task_items.items():
        states_of.setdefault(item_action, []).append(task_state)
    events_of: dict[str, list[str]] = {}
    for event, item_action in services.mappings.event_items.items():
        events_of.setdefault(item_action, []).append(event)
    steps = [
        {
            **item_view(item),
            "seconds": _seconds(item.started_at, item.ended_at),
            # vNext shows times to the second; a time axis needs them exact.
            "exact": {"started_at": _exact(item.started_at), "ended_at": _exact(item.ended_at)},
            "nova_task_states": states_of.get(item.action, []),
            "nova_events": [item.nova_event] if item.nova_event else events_of.get(item.action, []),
        }
        for item in sorted(items, key=lambda i: i.started_at)
    ]
    return {
        "task": view,
        "seconds": _seconds(task.created_at, task.ended_at),
        "exact": {"created_at": _exact(task.created_at), "ended_at": _exact(task.ended_at)},
        "steps": steps,
        "server_now": None
        if server is None
        else {
            "status": server.get("status"),
            "vm_state": server.get("OS-EXT-STS:vm_state"),
            "task_state": server.get("OS-EXT-STS:task_state"),
            "power_state": server.get("OS-EXT-STS:power_state"),
        },
        "nova_action": nova_action,
    }


def _read_route(services: Services, rel: str) -> Route:
    return next(r for r in services.mappings.route_by_rel(rel) if r.method == "GET")


def _reading(req: Inbound, route: Route, object_id: str, answers: dict[str, Any]) -> Inbound:
    """``req`` as the vNext read of one object, keeping each Nova answer by call name."""

    async def send(call: PlannedCall) -> NovaAnswer:
        answer = await req.send(call)
        answers[call.name] = answer.body
        return answer

    (var,) = route.path_vars
    path = route.path.replace("{" + var + "}", object_id)
    return dataclasses.replace(req, send=send, path=path, path_qs=path, match={var: object_id})


async def _task(services: Services, req: Inbound, task_id: str) -> tuple[Task, dict[str, Any]]:
    reading = dataclasses.replace(req, match={"task_id": task_id})
    task = await visible_task(services, reading)
    return task, task_view(task, admin=await admin_reads(services, reading, [task]))


async def _instance_action(req: Inbound, task: Task) -> dict[str, Any] | None:
    if task.request_id is None:
        return None
    answer = await nova_get(req, ops.INSTANCE_ACTION(server_id=task.server_id, request_id=task.request_id))
    action: dict[str, Any] = answer.part("instanceAction", kind=dict)
    return action


def _exact(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


def _seconds(start: Any, end: Any) -> float | None:
    return round((end - start).total_seconds(), 3) if start is not None and end is not None else None
