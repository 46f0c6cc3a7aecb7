"""The gap table, generated back from the mappings (``vnext-proxy mappings table``)."""

from __future__ import annotations

from vnext_proxy.mapping.model import MappingSet

_REVISIONS = {("seed", "later"): "both", ("seed",): "seed", ("later",): "later"}


def gap_table_markdown(mappings: MappingSet) -> str:
    served: dict[str, tuple[str, str]] = {}
    for route in mappings.routes:
        for purpose in route.gap:
            served[purpose] = (route.status, f"`{route.method} {route.uri}`")
    for action in mappings.actions.values():
        for purpose in action.gap:
            served[purpose] = ("mapped", f"task action `{action.name}`")
    for entry in mappings.gap_entries:
        for purpose in entry.gap:
            served[purpose] = (entry.status, entry.note)
    sections: dict[str, list[str]] = {}
    for purpose, row in mappings.gap_rows.items():
        status, by = served.get(purpose, ("**unmapped**", ""))
        line = " | ".join(
            (_cell(purpose), _cell(row.v2_call), _cell(row.vnext_call), status, _cell(by), _REVISIONS[row.revisions])
        )
        sections.setdefault(row.section, []).append(line)
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
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
