"""The gap analysis tables (vNext call vs v2/v3 call), read from the spec.

Every row must be implemented by a mapping entry; the loader checks that,
and ``vnext-proxy mappings table`` prints the table back from the mappings.
A row that appears in both revisions is one row; the later text wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable

from vnext_proxy.yamlsource import Problem

SEED = "gap-analysis.md"
LATER = "gap-analysis-later.md"

_HEADING = re.compile(r"^#{2,4}\s+(.*\S)\s*$")
_SEPARATOR = re.compile(r"^[-|\s]+$")


@dataclass(frozen=True)
class GapRow:
    section: str
    purpose: str
    v2_call: str
    vnext_call: str
    revisions: tuple[str, ...]  # "seed", "later" or both
    file: str
    line: int


def read_gap_rows(directory: Traversable) -> tuple[dict[str, GapRow], list[Problem]]:
    """Rows keyed by purpose, from both revisions of the gap analysis."""
    rows: dict[str, GapRow] = {}
    problems: list[Problem] = []
    for revision, name in (("seed", SEED), ("later", LATER)):
        path = directory / name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            problems.append(Problem(f"{directory.name}/{name}", 0, "", f"cannot read the gap table: {exc.strerror}"))
            continue
        seen: set[str] = set()
        for section, purpose, v2, vnext, line in _table_rows(text):
            if purpose in seen:
                problems.append(Problem(f"{directory.name}/{name}", line, purpose, "purpose appears twice"))
            seen.add(purpose)
            earlier = rows.get(purpose)
            revisions = (*earlier.revisions, revision) if earlier else (revision,)
            rows[purpose] = GapRow(section, purpose, v2, vnext, revisions, f"{directory.name}/{name}", line)
    return rows, problems


def _table_rows(text: str) -> list[tuple[str, str, str, str, int]]:
    found = []
    section = ""
    in_table = False
    for number, line in enumerate(text.splitlines(), start=1):
        heading = _HEADING.match(line)
        if heading:
            section, in_table = heading.group(1), False
            continue
        if "|" not in line:
            in_table = False
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "Purpose":
            in_table = True
            continue
        if not in_table or _SEPARATOR.match(line) or len(cells) != 3:
            continue
        found.append((section, cells[0], cells[1], cells[2], number))
    return found
