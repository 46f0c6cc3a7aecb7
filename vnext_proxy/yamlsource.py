"""YAML documents that remember where each value came from.

Config and mapping errors must name file, line and key, so loading keeps a
line index beside the plain data. Duplicate keys, which PyYAML silently
collapses, are reported as problems here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Any

import yaml

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file."""

    file: str
    line: int
    where: str
    reason: str

    def __str__(self) -> str:
        location = f"{self.file}:{self.line}" if self.line else self.file
        return f"{location}: {self.where}: {self.reason}" if self.where else f"{location}: {self.reason}"


class InputError(Exception):
    """Raised with every problem found in one or more input files."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def dotted(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass
class YamlDocument:
    file: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: KeyPath) -> int:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 0)

    def problem(self, path: KeyPath, reason: str) -> Problem:
        return Problem(self.file, self.line_of(path), dotted(path), reason)


def load_yaml(path: Traversable, display_name: str | None = None) -> YamlDocument:
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return YamlDocument(name, None, problems=[Problem(name, 0, "", f"cannot read: {exc.strerror}")])
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> YamlDocument:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        doc = YamlDocument(name, None)
        if node is not None:
            _index(node, (), doc, loader)
            doc.data = loader.construct_document(node)
        return doc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(exc, "problem", None) or str(exc)
        return YamlDocument(name, None, problems=[Problem(name, line, "", f"invalid YAML: {reason}")])
    finally:
        loader.dispose()


def _index(node: yaml.Node, path: KeyPath, doc: YamlDocument, loader: yaml.SafeLoader) -> None:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<: *anchor": the anchor's own lines are indexed where it stands
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | bool | float) or key is None:
                doc.problems.append(Problem(doc.file, key_node.start_mark.line + 1, dotted(path), "bad key"))
                continue
            child = (*path, str(key) if not isinstance(key, str) else key)
            if key in seen:
                doc.problems.append(Problem(doc.file, key_node.start_mark.line + 1, dotted(child), "duplicate key"))
            seen.add(key)
            doc.lines[child] = key_node.start_mark.line + 1
            _index(value_node, child, doc, loader)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), doc, loader)
