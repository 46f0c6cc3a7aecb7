"""The mapping-format reference (docs/mappings.md), generated from the
format's JSON-Schema: every key with what it holds, its default and its
``description``. ``vnext-proxy mappings reference`` prints it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vnext_proxy.mapping.format import MAPPING_FILE_SCHEMA

#: The command that writes docs/mappings.md.
REGENERATE = "vnext-proxy mappings reference > docs/mappings.md"

_TYPE_WORDS = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "true or false",
    "object": "mapping",
    "array": "list",
    "null": "null",
}


@dataclass(frozen=True)
class _Section:
    """A mapping whose keys the reference lists: where it stands, and its schema."""

    title: str
    schema: dict[str, Any]


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The schema a ``$ref`` names (and the ref), or the schema itself."""
    ref = schema.get("$ref")
    if ref is None:
        return schema, None
    target: Any = root
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return target, ref


def _keys(schema: dict[str, Any]) -> dict[str, Any]:
    """The keys of a mapping schema (those of its ``then`` for a field's long form)."""
    properties: dict[str, Any] = schema.get("properties") or schema.get("then", {}).get("properties") or {}
    return properties


def _entry(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of each entry of a map keyed by names (objects, filters, actions)."""
    entry = schema.get("additionalProperties")
    return entry if isinstance(entry, dict) else None


def _child(schema: dict[str, Any], title: str, root: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """Where the keys of a key's value are listed, if it is (or holds) a mapping with keys."""
    target, _ = _resolve(schema, root)
    if _keys(target):
        return title, target
    items = target.get("items")
    if isinstance(items, dict):
        found = _child(items, f"{title}[]", root)
        if found is not None:
            return found
    entry = _entry(target)
    if entry is not None:
        resolved, _ = _resolve(entry, root)
        return _child(entry, f"{title}.<{resolved.get('title', 'name')}>", root)
    return None


def _sections(root: dict[str, Any]) -> Iterator[_Section]:
    """Every mapping with keys, depth first in key order; a definition once."""
    seen: set[int] = set()

    def walk(title: str, schema: dict[str, Any]) -> Iterator[_Section]:
        if id(schema) in seen:
            return
        seen.add(id(schema))
        yield _Section(title, schema)
        for key, value in _keys(schema).items():
            found = _child(value, f"{title}.{key}" if title else key, root)
            if found is not None:
                yield from walk(*found)

    yield from walk("", root)


def _title_of(schema: dict[str, Any], root: dict[str, Any]) -> str | None:
    for section in _sections(root):
        if section.schema is schema:
            return section.title or "the file"
    return None


def _value(schema: dict[str, Any], root: dict[str, Any]) -> str:
    """What a key holds, in words."""
    target, _ = _resolve(schema, root)
    if _keys(target):
        where = _title_of(target, root)
        short = "string, or " if target.get("type") == ["string", "object"] else ""
        return f"{short}mapping (see `{where}`)"
    if "enum" in target:
        return "one of " + ", ".join(
            f"`{json.dumps(v)}`" if not isinstance(v, str) else f"`{v}`" for v in target["enum"]
        )
    if "const" in target:
        return f"`{json.dumps(target['const'])}`"
    kinds = target.get("type")
    if kinds is None:
        return "any value"
    names = kinds if isinstance(kinds, list) else [kinds]
    words = []
    for name in names:
        word = _TYPE_WORDS[name]
        if name == "string" and "pattern" in target:
            word += f" matching `{target['pattern']}`"
        if name == "integer" and "minimum" in target:
            word += f" {target['minimum']}" + (f" to {target['maximum']}" if "maximum" in target else " or more")
        if name == "array" and isinstance(target.get("items"), dict):
            word = f"list of {_value(target['items'], root)}"
        if name == "object" and _entry(target) is not None:
            entry, _ = _resolve(_entry(target) or {}, root)
            word = f"mapping of <{entry.get('title', 'name')}> to {_value(_entry(target) or {}, root)}"
        words.append(word)
    return " or ".join(words)


def _default(key: str, schema: dict[str, Any], parent: dict[str, Any]) -> str:
    required = parent.get("required") or parent.get("then", {}).get("required") or []
    if key in required:
        return "required"
    if "default" in schema:
        return f"`{json.dumps(schema['default'])}`"
    return ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _description(schema: dict[str, Any], root: dict[str, Any]) -> str:
    if "description" in schema:
        return str(schema["description"])
    target, _ = _resolve(schema, root)
    return str(target.get("description", ""))


def render_format_reference(root: dict[str, Any] | None = None) -> str:
    """docs/mappings.md: the reference of the mapping-file format (of
    ``root``, by default MAPPING_FILE_SCHEMA)."""
    root = MAPPING_FILE_SCHEMA if root is None else root
    lines = [
        "# The mapping-file format",
        "",
        f"<!-- Generated from the format's JSON-Schema (vnext_proxy/mapping/format.py and task_actions.py) "
        f"by `{REGENERATE}`: edit the schema's descriptions, not this file. -->",
        "",
        "Every file in `vnext_proxy/mappings/*.yaml` (`mappings/` in the repository) is a YAML mapping "
        "with the keys below; `vnext-proxy mappings check` reports each key it does not know, and each "
        "value that does not fit, with file and line. A key path is dot-separated names (a number "
        "indexes a list); `<name>` stands for a key the file chooses; `[]` for each item of a list. "
        "Default: what leaving the key out means (blank: it is simply absent).",
        "",
    ]
    for section in _sections(root):
        target = section.schema
        lines += [f"## {'`' + section.title + '`' if section.title else 'A mapping file'}", ""]
        if target.get("description"):
            lines += [str(target["description"]), ""]
        lines += ["Key | Value | Default | Meaning", "----|-------|---------|--------"]
        for key, value in _keys(target).items():
            cells = (f"`{key}`", _value(value, root), _default(key, value, target), _description(value, root))
            lines.append(" | ".join(_cell(c) for c in cells))
        lines.append("")
    return "\n".join(lines)


def undescribed_keys(root: dict[str, Any] | None = None) -> list[str]:
    """Keys of the format (and the mappings whose keys the reference lists)
    that have no description."""
    root = MAPPING_FILE_SCHEMA if root is None else root
    missing = [section.title or "the file" for section in _sections(root) if not section.schema.get("description")]
    for section in _sections(root):
        for key, value in _keys(section.schema).items():
            if not _description(value, root):
                missing.append(f"{section.title}.{key}" if section.title else key)
    return missing
