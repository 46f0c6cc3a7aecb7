"""The gap table, generated back from the mappings (``vnext-proxy mappings table``),
then the routes the proxy adds to the spec (``extension:``), with their reasons.
The coverage page shows the same rows, with live figures per route."""

from __future__ import annotations

from dataclasses import dataclass

from vnext_proxy.mapping.model import MappingSet, Route

_REVISIONS = {("seed", "later"): "both", ("seed",): "seed", ("later",): "later"}


@dataclass(frozen=True)
class CoverageRow:
    """One row of the gap analysis, and what serves it."""

    section: str
    purpose: str
    v2_call: str
    vnext_call: str
    #: mapped, proxy, not_applicable, planned, or **unmapped**.
    status: str
    served_by: str
    #: Which revisions of the spec have the row: both, seed or later.
    spec: str
    #: The route that serves it (a task action's: the task route).
    route: Route | None
    #: Why not, for a not_applicable row: the reason and what to use instead.
    reason: str | None
    #: Where the mapping declares it.
    declared_at: str | None


def coverage_rows(mappings: MappingSet) -> list[CoverageRow]:
    """Every gap-table row of both revisions, in the tables' order."""
    served: dict[str, tuple[str, str, Route | None, str | None, str | None]] = {}
    for served_by in mappings.routes:
        na = served_by.not_applicable
        reason = f"{na.reason} Use instead: {na.use_instead}" if na is not None else None
        by = f"`{served_by.method} {served_by.uri}`"
        for purpose in served_by.gap:
            served[purpose] = (served_by.status, by, served_by, reason, str(served_by.source))
    task_route = next((r for r in mappings.routes if r.handler == "start_task"), None)
    for action in mappings.actions.values():
        where = str(action.source) if action.source is not None else None
        for purpose in action.gap:
            served[purpose] = ("mapped", f"task action `{action.name}`", task_route, action.refuse, where)
    for entry in mappings.gap_entries:
        for purpose in entry.gap:
            reason = entry.note if entry.status != "mapped" else None
            served[purpose] = (entry.status, entry.note, None, reason, str(entry.source))
    rows = []
    for purpose, row in mappings.gap_rows.items():
        status, by, route, reason, where = served.get(purpose, ("**unmapped**", "", None, None, None))
        calls = (row.v2_call, row.vnext_call)
        spec = _REVISIONS[row.revisions]
        rows.append(CoverageRow(row.section, purpose, *calls, status, by, spec, route, reason, where))
    return rows


def extension_routes(mappings: MappingSet) -> list[Route]:
    """The routes the proxy adds to the spec (``extension:``)."""
    return [r for r in mappings.routes if r.extension is not None]


def gap_table_markdown(mappings: MappingSet) -> str:
    sections: dict[str, list[str]] = {}
    for row in coverage_rows(mappings):
        cells = (_cell(row.purpose), _cell(row.v2_call), _cell(row.vnext_call), row.status, _cell(row.served_by))
        sections.setdefault(row.section, []).append(" | ".join((*cells, row.spec)))
    out: list[str] = []
    for section, lines in sections.items():
        out += [
            f"### {section}",
            "",
            "Purpose | v2/3 call | vNext call | Status | Served by | Spec",
            "---|---|---|---|---|---",
        ]
        out += lines
        out.append("")
    out += _extensions(mappings)
    return "\n".join(out)


def _extensions(mappings: MappingSet) -> list[str]:
    """The routes the proxy adds to the spec (``extension:``), each with its reason."""
    rows = [
        " | ".join((f"`{r.method} {r.uri}`", _cell(r.summary), r.status, _cell(r.extension or "")))
        for r in extension_routes(mappings)
    ]
    if not rows:
        return []
    return ["### Extensions", "", "Served by | Summary | Status | Why (not in the spec)", "---|---|---|---", *rows, ""]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
