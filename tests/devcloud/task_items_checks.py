"""What every ended task's items promise, checked through the proxy: the
task modules against devcloud call it on each task they finish."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

FINAL = {"COMPLETED", "ABORTED", "TIMED_OUT"}


async def checked_items(
    proxy: TestClient[web.Request, web.Application], task: dict[str, Any], headers: dict[str, str]
) -> list[dict[str, Any]]:
    """The items of ``task`` (ended), after checking them: a COMPLETED task
    has at least one; every item has ended, no earlier than it started, and
    lies within the task's created_at and ended_at. vNext times are ISO 8601
    in UTC to the second, so they compare as strings; the proxy frames each
    item within its task before truncating, so no slack is needed."""
    assert task["state"] in FINAL, task
    resp = await proxy.get(f"/server_tasks/{task['id']}/items?limit=1000", headers=headers)
    assert resp.status == 200, await resp.text()
    items: list[dict[str, Any]] = (await resp.json())["items"]
    if task["state"] == "COMPLETED":
        assert items, f"a COMPLETED {task['action']} task shows no item"
    assert len({i["id"] for i in items}) == len(items), items
    for item in items:
        assert item["task_id"] == task["id"], item
        assert item["state"] in FINAL, (task["action"], item)
        assert item["started_at"] is not None, item
        assert item["ended_at"] is not None, item
        assert item["started_at"] <= item["ended_at"], item
        assert task["created_at"] <= item["started_at"], (task, item)
        assert item["ended_at"] <= task["ended_at"], (task, item)
    return items
