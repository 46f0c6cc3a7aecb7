"""What the CLI prints: tables for people, JSON for scripts (``-f json``)."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table

from vnext_proxy.client.api import ApiError

#: A table column: its heading, and how to read it from an object.
Column = tuple[str, Callable[[dict[str, Any]], Any]]


def console(stream: TextIO | None = None) -> Console:
    """A rich console on ``stream``: no markup or emoji codes, which a
    hostname or a fingerprint (``91:ab:15``) would otherwise become. Not on
    a terminal it is plain, and as wide as a line needs, so a piped table
    is never wrapped or cut."""
    stream = stream if stream is not None else sys.stdout
    if Console(file=stream).is_terminal:
        return Console(file=stream, highlight=False, markup=False, emoji=False)
    return Console(file=_Unpadded(stream), width=100_000, no_color=True, highlight=False, markup=False, emoji=False)


class _Unpadded(io.StringIO):
    """Lines without the trailing spaces that pad a table's last column."""

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self.target = target

    def flush(self) -> None:
        complete, newline, pending = self.getvalue().rpartition("\n")
        if newline:
            self.target.write("".join(line.rstrip() + "\n" for line in complete.split("\n")))
            self.seek(0)
            self.truncate()
            self.write(pending)
        self.target.flush()


def field(*path: str) -> Callable[[dict[str, Any]], Any]:
    def read(obj: dict[str, Any]) -> Any:
        value: Any = obj
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    return read


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def print_json(value: Any, stream: TextIO | None = None) -> None:
    print(json.dumps(value, indent=2, sort_keys=False), file=stream if stream is not None else sys.stdout)


def print_table(objects: Iterable[dict[str, Any]], columns: Sequence[Column], out: Console) -> None:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for heading, _ in columns:
        table.add_column(heading, overflow="fold")
    for obj in objects:
        table.add_row(*(text(read(obj)) for _, read in columns))
    out.print(table)


def flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    """An object as dotted field/value rows (links left out: they are for programs)."""
    if isinstance(obj, dict) and (obj or not prefix):
        rows = []
        for key, value in obj.items():
            if key.startswith("_") and not prefix:
                continue
            rows += flatten(value, f"{prefix}.{key}" if prefix else key)
        return rows
    return [(prefix, text(obj))]


def print_object(obj: dict[str, Any], out: Console) -> None:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("FIELD")
    table.add_column("VALUE", overflow="fold")
    for key, value in flatten(obj):
        table.add_row(key, value)
    out.print(table)


def print_error(error: ApiError, stream: TextIO | None = None) -> None:
    """The proxy's error, as it said it, with the request id to quote to its operators."""
    stream = stream if stream is not None else sys.stderr
    print(f"error: {error}", file=stream)
    if error.field:
        print(f"  field: {error.field}", file=stream)
    for problem in error.problems:
        print(f"  {problem.get('field', '')}: {problem.get('message', '')}", file=stream)
    print(f"request id: {error.request_id or '(none given)'}", file=stream)


#: The most characters of a value a comparison's table shows (fewer on a
#: narrow terminal, never fewer than a quoted UUID); -f json has them all.
COMPARED_VALUE_CHARS = 120
SHORTEST_VALUE_CHARS = 40


def compact(value: Any, limit: int = COMPARED_VALUE_CHARS) -> str:
    """A value as compact JSON, so ``"1"`` and ``1`` or ``"null"`` and
    ``null`` read apart; cut short with an ellipsis past ``limit``."""
    shown = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def print_compare(page: dict[str, Any], out: Console) -> None:
    """GET /_compare/...: each vNext field beside the Nova field(s) it came
    from, then the Nova fields no vNext field shows."""
    source = f" ({page['declared_at']})" if page.get("declared_at") else ""
    out.print(f"{page.get('vnext_href')} beside Nova's {page.get('nova_object')}{source}")
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for heading in ("VNEXT FIELD", "VNEXT VALUE", "NOVA FIELD(S)", "NOVA VALUE", "HOW", "DECLARED AT"):
        table.add_column(heading, overflow="fold")
    limit = min(COMPARED_VALUE_CHARS, max(SHORTEST_VALUE_CHARS, out.width // 3))
    for row in page.get("fields") or []:
        for cells in _compare_rows(row, limit):
            table.add_row(*cells)
    out.print(table)
    nova_only = page.get("nova_only") or {}
    out.print()
    out.print("Nova fields vNext does not show" + ("" if nova_only else ": none"))
    if nova_only:
        leftovers = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        leftovers.add_column("NOVA FIELD", overflow="fold")
        leftovers.add_column("VALUE", overflow="fold")
        for key, value in nova_only.items():
            leftovers.add_row(key, compact(value, limit))
        out.print(leftovers)


def _compare_rows(row: dict[str, Any], limit: int) -> list[tuple[str, ...]]:
    """One vNext field's lines: the first with the field, its value, how and
    where declared; one more for each further Nova field it came from, so
    every Nova field stays on the line of its own value."""
    nova_fields = row.get("nova_fields") or [""]
    nova_values = row.get("nova_values") or {}

    def nova_value(name: str) -> str:
        # A field without a value of its own (other calls' answers) shows none.
        return compact(nova_values[name], limit) if name in nova_values else ""

    first = (
        str(row.get("field")),
        compact(row.get("value"), limit),
        nova_fields[0],
        nova_value(nova_fields[0]),
        text(row.get("transform")),
        text(row.get("declared_at")),
    )
    return [first, *(("", "", name, nova_value(name), "", "") for name in nova_fields[1:])]


def addresses(server: dict[str, Any]) -> list[str]:
    """A server's IP addresses: its access addresses, then its interfaces'."""
    networking = server.get("networking") or {}
    found: list[str] = []
    access = networking.get("access") or {}
    for family in ("ip4", "ip6"):
        found += [a for a in access.get(family) or [] if isinstance(a, str)]
    for interface in (networking.get("interfaces") or {}).values():
        for family in ("ip4", "ip6"):
            value = (interface or {}).get(family)
            if isinstance(value, str) and value not in found:
                found.append(value)
    return found


SERVER_COLUMNS: list[Column] = [
    ("ID", field("id")),
    ("HOSTNAME", field("hostname")),
    ("VIRT_STATE", field("virt_state")),
    ("POWER_STATE", field("power_state")),
    ("ADDRESSES", addresses),
    ("LAUNCHED_AT", field("launched_at")),
]
TYPE_COLUMNS: list[Column] = [
    ("ID", field("id")),
    ("NAME", field("name")),
    ("MEMORY_MB", field("spec", "memory_mb")),
    ("CPU_UNITS", field("spec", "cpu_units")),
    ("ROOT_DISK_GB", field("spec", "root_disk_gb")),
    ("VISIBILITY", field("visibility")),
]
GROUP_COLUMNS: list[Column] = [
    ("ID", field("id")),
    ("NAME", field("name")),
    ("DESCRIPTION", field("description")),
    ("TAGS", field("tags")),
]
KEYPAIR_COLUMNS: list[Column] = [
    ("ID", field("id")),
    ("NAME", field("name")),
    ("TYPE", field("type")),
    ("FINGERPRINT", field("fingerprint")),
]
TASK_COLUMNS: list[Column] = [
    ("ID", field("id")),
    ("ACTION", field("action")),
    ("STATE", field("state")),
    ("CREATED_AT", field("created_at")),
    ("ENDED_AT", field("ended_at")),
]
ITEM_COLUMNS: list[Column] = [
    ("ITEM", field("action")),
    ("STATE", field("state")),
    ("STARTED_AT", field("started_at")),
    ("ENDED_AT", field("ended_at")),
]
LAUNCH_COLUMNS: list[Column] = [
    ("SERVER", field("id")),
    ("TASK", field("task", "id")),
    ("STATE", field("task", "state")),
    ("LAUNCHED_AT", field("launched_at")),
]
