"""The task routes: the task engine, and Nova's history of a server."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from vnext_proxy.calls import NovaAnswer, PlannedCall
from vnext_proxy.errors import VNextError, from_nova
from vnext_proxy.execution.context import Inbound, Services
from vnext_proxy.execution.paging import PageQuery, page_query, proxy_page
from vnext_proxy.mapping.engine import VNextResponse
from vnext_proxy.nova import operations as ops
from vnext_proxy.tasks.history import merge_history
from vnext_proxy.tasks.model import FINAL_STATES, RUNNING, Task, TaskItem
from vnext_proxy.tasks.views import item_view, task_view
from vnext_proxy.timeutil import since

_STATES = (RUNNING, *sorted(FINAL_STATES))
_NO_TASK = "No such task, or it is not yours"


async def start_task(services: Services, req: Inbound) -> VNextResponse:
    task = await services.tasks.start(req.match["server_id"], await req.json(), req.token, req.send)
    return VNextResponse(202, task_view(task), headers={"Location": f"/server_tasks/{task.id}"})


async def get_task(services: Services, req: Inbound) -> VNextResponse:
    task = await visible_task(services, req)
    return VNextResponse(200, task_view(task, admin=await admin_reads(services, req, [task])))


async def server_tasks(services: Services, req: Inbound) -> VNextResponse:
    wanted = _history_query(req)  # a bad query is 400 before Nova is asked
    server_id = req.match["server_id"]
    # Nova's action list shows the caller may see the server (and works after
    # it is deleted); 404 for anyone else.
    actions = await nova_get(req, ops.INSTANCE_ACTIONS(server_id=server_id))
    server_answer = await req.send(ops.SERVER(server_id=server_id))
    server = server_answer.part("server", kind=dict) if server_answer.ok else None
    stored = [await _catch_up(services, req, t) for t in await services.store.tasks_for_server(server_id)]
    merged = merge_history(
        stored,
        actions.part("instanceActions", kind=list),
        server,
        services.mappings,
        services.settings.id_namespace,
    )
    # A task rebuilt from Nova's history is kept once it has ended, so its id
    # (known only from this listing) answers GET /server_tasks/{id} too. One
    # still running is not: the poller would treat it as the proxy's own.
    stored_ids = {t.id for t in stored}
    for task in merged:
        if task.id not in stored_ids and task.state != RUNNING:
            await services.store.add_task(task)
    shown = wanted.keep(merged)
    admin = await admin_reads(services, req, shown)
    views = [task_view(t, admin=admin) for t in shown]
    return proxy_page("tasks", views, wanted.page, req.path, req.query, req.path_qs)


async def task_items(services: Services, req: Inbound) -> VNextResponse:
    wanted = _history_query(req)
    task = await visible_task(services, req)
    # An ended task without items (rebuilt from Nova's history) gets them
    # from its instance action: one Nova read, the first time only.
    items = await services.tasks.items_of(task, req.send)
    views = [item_view(i) for i in wanted.keep(items)]
    return proxy_page("items", views, wanted.page, req.path, req.query, req.path_qs)


async def visible_task(services: Services, req: Inbound) -> Task:
    task = await services.store.get_task(req.match["task_id"])
    if task is None:
        raise VNextError(404, _NO_TASK)
    # Visible to whoever Nova lets read the server's actions.
    try:
        await nova_get(req, ops.INSTANCE_ACTIONS(server_id=task.server_id))
    except VNextError as exc:
        if exc.status in (403, 404):
            raise VNextError(404, _NO_TASK) from None
        raise
    return await _catch_up(services, req, task)


async def _catch_up(services: Services, req: Inbound, task: Task) -> Task:
    """A running task nobody polls (its creator's token is gone) advances
    now, with the reader's token, for reads only: a read never writes to
    Nova. The creator reading it hands the poller their token back."""
    engine = services.tasks
    if task.state == RUNNING and engine.token_for(task.id) is None and not engine.adopt_if_creator(task, req.token):
        return await engine.advance(task, req.send, may_write=False)
    return task


async def admin_reads(services: Services, req: Inbound, tasks: list[Task]) -> bool:
    """Whether the reader may see what Nova shows admins only; asked of
    Nova only when one of these tasks has such details."""
    if not any(t.admin_reason for t in tasks):
        return False
    return await services.caller.is_admin(req.token, req.send)


async def nova_get(req: Inbound, call: PlannedCall) -> NovaAnswer:
    answer = await req.send(call)
    if not answer.ok:
        error = from_nova(answer.status, answer.body)
        if answer.status in (403, 404):
            error = VNextError(404, "No such server, or it is not yours")
        raise error
    return answer


_Record = TypeVar("_Record", Task, TaskItem)


@dataclass(frozen=True)
class _HistoryQuery:
    """A task or item listing's page and filters, checked before Nova is asked anything."""

    page: PageQuery
    states: tuple[str, ...]
    since: datetime | None

    def keep(self, records: list[_Record]) -> list[_Record]:
        return [
            r
            for r in records
            if (not self.states or r.state in self.states) and (self.since is None or r.created_at >= self.since)
        ]


def _history_query(req: Inbound) -> _HistoryQuery:
    page = page_query(req.query)
    states = tuple(req.query.getall("state", []))
    for value in states:
        if value not in _STATES:
            raise VNextError(400, f"state must be one of {', '.join(_STATES)}", field="state")
    raw = req.query.get("since")
    return _HistoryQuery(page, states, since(raw) if raw is not None else None)
