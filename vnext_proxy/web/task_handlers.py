"""The task routes: thin HTTP wrappers around the task engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TypeVar

from aiohttp import web

from vnext_proxy.errors import VNextError, from_nova
from vnext_proxy.mapping.engine import PlannedCall
from vnext_proxy.nova import operations as ops
from vnext_proxy.nova.client import NovaAnswer
from vnext_proxy.tasks.history import merge_history
from vnext_proxy.tasks.model import FINAL_STATES, RUNNING, Task, TaskItem
from vnext_proxy.tasks.views import item_view, task_view
from vnext_proxy.timeutil import parse_time
from vnext_proxy.web.handlers import (
    Handler,
    caller_token,
    check_page_query,
    json_body,
    page_response,
    respond,
    send_for,
)
from vnext_proxy.web.keys import CALLER, MAPPINGS, SETTINGS, TASKS

_STATES = (RUNNING, *sorted(FINAL_STATES))


async def start_task(request: web.Request) -> web.StreamResponse:
    token = caller_token(request)
    body = await json_body(request)
    send = partial(_send, request, token)
    task = await request.app[TASKS].start(request.match_info["server_id"], body, token, send)
    return respond(request, task_view(task), 202, {"Location": f"/server_tasks/{task.id}"})


async def get_task(request: web.Request) -> web.StreamResponse:
    task = await _visible_task(request)
    return respond(request, task_view(task, admin=await _admin_reads(request, [task])), 200, {})


async def server_tasks(request: web.Request) -> web.StreamResponse:
    token = caller_token(request)
    wanted = _history_query(request)  # a bad query is 400 before Nova is asked
    server_id = request.match_info["server_id"]
    engine = request.app[TASKS]
    # Nova's action list shows the caller may see the server (and works after
    # it is deleted); 404 for anyone else.
    actions = await _nova_get(request, ops.INSTANCE_ACTIONS(server_id=server_id), token)
    server_answer = await send_for(request, ops.SERVER(server_id=server_id), token)
    server = server_answer.part("server", kind=dict) if server_answer.ok else None
    stored = [await _catch_up(request, t, token) for t in await engine.store.tasks_for_server(server_id)]
    settings = request.app[SETTINGS]
    merged = merge_history(
        stored, actions.part("instanceActions", kind=list), server, request.app[MAPPINGS], settings.id_namespace
    )
    # A task rebuilt from Nova's history is kept once it has ended, so its id
    # (known only from this listing) answers GET /server_tasks/{id} too. One
    # still running is not: the poller would treat it as the proxy's own.
    stored_ids = {t.id for t in stored}
    for task in merged:
        if task.id not in stored_ids and task.state != RUNNING:
            await engine.store.add_task(task)
    shown = wanted.keep(merged)
    admin = await _admin_reads(request, shown)
    return page_response(request, "tasks", [task_view(t, admin=admin) for t in shown])


async def task_items(request: web.Request) -> web.StreamResponse:
    wanted = _history_query(request)
    task = await _visible_task(request)
    items = await request.app[TASKS].store.items_for_task(task.id)
    return page_response(request, "items", [item_view(i) for i in wanted.keep(items)])


async def _visible_task(request: web.Request) -> Task:
    token = caller_token(request)
    task = await request.app[TASKS].store.get_task(request.match_info["task_id"])
    if task is None:
        raise VNextError(404, "No such task, or it is not yours")
    # Visible to whoever Nova lets read the server's actions.
    try:
        await _nova_get(request, ops.INSTANCE_ACTIONS(server_id=task.server_id), token)
    except VNextError as exc:
        if exc.status in (403, 404):
            raise VNextError(404, "No such task, or it is not yours") from None
        raise
    return await _catch_up(request, task, token)


async def _catch_up(request: web.Request, task: Task, token: str) -> Task:
    """A running task nobody polls (its creator's token is gone) advances
    now, with the reader's token, for reads only: a read never writes to
    Nova. The creator reading it hands the poller their token back."""
    engine = request.app[TASKS]
    if task.state == RUNNING and engine.token_for(task.id) is None and not engine.adopt_if_creator(task, token):
        return await engine.advance(task, partial(_send, request, token), may_write=False)
    return task


async def _admin_reads(request: web.Request, tasks: list[Task]) -> bool:
    """Whether the reader may see what Nova shows admins only; asked of
    Nova only when one of these tasks has such details."""
    if not any(t.admin_reason for t in tasks):
        return False
    token = caller_token(request)
    return await request.app[CALLER].is_admin(token, partial(_send, request, token))


async def _send(request: web.Request, token: str, call: PlannedCall) -> NovaAnswer:
    return await send_for(request, call, token)


async def _nova_get(request: web.Request, call: PlannedCall, token: str) -> NovaAnswer:
    answer = await send_for(request, call, token)
    if not answer.ok:
        error = from_nova(answer.status, answer.body)
        if answer.status in (403, 404):
            error = VNextError(404, "No such server, or it is not yours")
        raise error
    return answer


@dataclass(frozen=True)
class _HistoryQuery:
    """A task or item listing's filters, checked before Nova is asked anything."""

    states: tuple[str, ...]
    since: datetime | None

    def keep(self, records: list[_Record]) -> list[_Record]:
        return [
            r
            for r in records
            if (not self.states or r.state in self.states) and (self.since is None or r.created_at >= self.since)
        ]


_Record = TypeVar("_Record", Task, TaskItem)


def _history_query(request: web.Request) -> _HistoryQuery:
    check_page_query(request)
    states = tuple(request.query.getall("state", []))
    for value in states:
        if value not in _STATES:
            raise VNextError(400, f"state must be one of {', '.join(_STATES)}", field="state")
    since_raw = request.query.get("since")
    since = None
    if since_raw is not None:
        try:
            # A caller must say the zone, not have UTC assumed.
            since = parse_time(since_raw, zone_required=True)
        except ValueError:
            message = "since must be an ISO 8601 date and time with its zone (for example 2026-01-02T03:04:05Z)"
            raise VNextError(400, message, field="since") from None
    return _HistoryQuery(states, since)


TASK_HANDLERS: dict[str, Handler] = {
    "start_task": start_task,
    "get_task": get_task,
    "server_tasks": server_tasks,
    "task_items": task_items,
}
