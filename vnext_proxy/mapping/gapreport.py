"""The gap table, generated back from the mappings (``vnext-proxy mappings table``),
then the routes the proxy adds to the spec (``extension:``), with their reasons."""

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
    out += _extensions(mappings)
    return "\n".join(out)


def _extensions(mappings: MappingSet) -> list[str]:
    """The routes the proxy adds to the spec (``extension:``), each with its reason."""
    rows = [
        " | ".join((f"`{r.method} {r.uri}`", _cell(r.summary), r.status, _cell(r.extension)))
        for r in mappings.routes
        if r.extension is not None
    ]
    if not rows:
        return []
    return ["### Extensions", "", "Served by | Summary | Status | Why (not in the spec)", "---|---|---|---", *rows, ""]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
