"""``--wait``: follow tasks until they end, showing each task's state and
its items (GET /server_tasks/{id}/items) as they arrive.

On a terminal that is a rich Live display, redrawn in place; elsewhere
(a pipe, a log file, CI) one plain line per change, so the output of a
script reads as a log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from vnext_proxy.client.api import VNext, path

#: The states a task ends in; it never changes again after one.
ENDED = frozenset({"COMPLETED", "ABORTED", "TIMED_OUT"})
#: How often the proxy is asked, by default: gentle on it and on Nova behind it.
POLL_INTERVAL = 1.0
STYLES = {"COMPLETED": "green", "ABORTED": "red", "TIMED_OUT": "red", "RUNNING": "yellow", "WAITING": "cyan"}

Task = dict[str, Any]
Items = dict[str, list[dict[str, Any]]]


class Display(Protocol):
    def __enter__(self) -> Display: ...
    def __exit__(self, *exc: object) -> None: ...
    def show(self, tasks: list[Task], items: Items) -> None: ...


def wait_for(
    client: VNext,
    tasks: list[Task],
    display: Display,
    interval: float = POLL_INTERVAL,
) -> list[Task]:
    """Poll ``tasks`` (as last seen) every ``interval`` seconds until every
    one has ended; each task as it ended, with its ``items``."""
    items: Items = {task["id"]: [] for task in tasks}
    # Tasks whose items were read after they ended: those items are final.
    settled: set[str] = set()
    with display:
        while True:
            for task in tasks:
                if task["id"] not in settled:
                    items[task["id"]] = list(client.pages(path("/server_tasks/{task}/items", task=task["id"]), "items"))
                    if task.get("state") in ENDED:
                        settled.add(task["id"])
            display.show(tasks, items)
            if all(task.get("state") in ENDED for task in tasks):
                break
            pause(interval)
            tasks = [
                task if task.get("state") in ENDED else client.get(path("/server_tasks/{task}", task=task["id"]))
                for task in tasks
            ]
    return [{**task, "items": items[task["id"]]} for task in tasks]


def pause(seconds: float) -> None:
    """The pause between polls (tests replace it, to pause for no time or to press Ctrl-C)."""
    time.sleep(seconds)


def display_for(out: Console, clock: Callable[[], float] = time.monotonic) -> Display:
    return LiveBoard(out, clock) if out.is_terminal else PlainLines(out, clock)


class PlainLines:
    """One line per change: a task's state, an item seen or changed."""

    def __init__(self, out: Console, clock: Callable[[], float]) -> None:
        self.out = out
        self.clock = clock
        self.started = clock()
        self.seen: dict[str, str] = {}

    def __enter__(self) -> PlainLines:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def show(self, tasks: list[Task], items: Items) -> None:
        """A running task's line before its items, an ended task's after
        them: the lines read in order however late a poll first sees them."""
        elapsed = f"{self.clock() - self.started:6.1f}s"
        for task in tasks:
            changed = self.seen.get(task["id"]) != task.get("state")
            if changed and task.get("state") not in ENDED:
                self._task_line(elapsed, task)
            for item in items.get(task["id"], []):
                key = f"item {item.get('id')}"
                if self.seen.get(key) != item.get("state"):
                    self.seen[key] = str(item.get("state"))
                    self._line(f"{elapsed}  item {item.get('action')} of task {task['id']}: {item.get('state')}")
            if changed and task.get("state") in ENDED:
                self._task_line(elapsed, task)

    def _task_line(self, elapsed: str, task: Task) -> None:
        self.seen[task["id"]] = str(task.get("state"))
        reason = f" ({task['reason']})" if task.get("reason") else ""
        self._line(
            f"{elapsed}  task {task['id']} {task.get('action')} on server {task.get('server_id')}: "
            f"{task.get('state')}{reason}"
        )

    def _line(self, line: str) -> None:
        # print(), not the console: a plain line must never be wrapped or styled.
        print(line, file=self.out.file, flush=True)


class LiveBoard:
    """A live display: each task's state, with a spinner while it runs and
    the time spent waiting, and its items beneath it."""

    def __init__(self, out: Console, clock: Callable[[], float]) -> None:
        self.out = out
        self.clock = clock
        self.started = clock()
        self.ended_at: dict[str, float] = {}
        # Replaced whole, never changed in place: the Live thread renders them.
        self.tasks: list[Task] = []
        self.items: Items = {}
        self.live = Live(self, console=out, refresh_per_second=8, transient=False)

    def __enter__(self) -> LiveBoard:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.refresh()
        self.live.__exit__(None, None, None)

    def show(self, tasks: list[Task], items: Items) -> None:
        now = self.clock()
        for task in tasks:
            if task.get("state") in ENDED:
                self.ended_at.setdefault(task["id"], now)
        self.tasks, self.items = list(tasks), dict(items)
        self.live.refresh()

    def __rich__(self) -> RenderableType:
        now = self.clock()
        rows: list[RenderableType] = []
        for task in self.tasks:
            state = str(task.get("state"))
            elapsed = self.ended_at.get(task["id"], now) - self.started
            head = Table.grid(padding=(0, 1))
            head.add_row(
                Spinner("dots", style="yellow") if state not in ENDED else Text("✔" if state == "COMPLETED" else "✘"),
                Text(str(task.get("action")), style="bold"),
                Text(state, style=STYLES.get(state, "")),
                Text(f"{elapsed:.1f}s"),
                Text(f"task {task['id']}  server {task.get('server_id')}", style="dim"),
            )
            rows.append(head)
            if task.get("reason"):
                rows.append(Text(f"    {task['reason']}", style="red"))
            lines = Table.grid(padding=(0, 2))
            for item in self.items.get(task["id"], []):
                item_state = str(item.get("state"))
                lines.add_row(
                    Text("   "),
                    Text(str(item.get("action"))),
                    Text(item_state, style=STYLES.get(item_state, "")),
                    Text(_span(item), style="dim"),
                )
            rows.append(lines)
        return Group(*rows)


def _span(item: dict[str, Any]) -> str:
    """When an item started, and how long it took once it has ended (Nova's clock, to the second)."""
    started, ended = _time(item.get("started_at")), _time(item.get("ended_at"))
    if started is None:
        return ""
    shown = f"started {started:%H:%M:%S}"
    if ended is not None:
        shown += f", took {max(0, int((ended - started).total_seconds()))}s"
    return shown


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
