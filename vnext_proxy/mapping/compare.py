"""A vNext object beside the Nova object it was made from, field by field,
as its mapping declares it (pure): what the compare page and
``vnext-proxy compare`` show."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from vnext_proxy.mapping.engine import lookup, render_field
from vnext_proxy.mapping.hooks import FIELD_HOOKS, RenderContext
from vnext_proxy.mapping.model import FieldSpec, ObjectSpec

#: Key under which a hook finds the other Nova calls' answers.
_OTHER_CALLS = "_calls"
#: The most characters of a value map the transform column spells out.
_MAP_SHOWN = 6


@dataclass(frozen=True)
class FieldRow:
    """One vNext field: its value, and where and how it came from Nova."""

    field: str
    value: Any
    nova_fields: tuple[str, ...]
    nova_values: dict[str, Any]
    transform: str
    declared_at: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": self.value,
            "nova_fields": list(self.nova_fields),
            "nova_values": self.nova_values,
            "transform": self.transform,
            "declared_at": self.declared_at,
        }


class _Reads(Mapping[str, Any]):
    """A Nova object that notes the keys a hook reads: a hook is Python, so
    where its value came from is what it looked at."""

    def __init__(self, obj: Mapping[str, Any]) -> None:
        self._obj = obj
        self.read: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self._note(key)
        return self._obj[key]

    def get(self, key: str, default: Any = None) -> Any:
        self._note(key)
        return self._obj.get(key, default)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._note(key)
        return key in self._obj

    def __iter__(self) -> Iterator[str]:
        return iter(self._obj)

    def __len__(self) -> int:
        return len(self._obj)

    def _note(self, key: str) -> None:
        if key not in self.read:
            self.read.append(key)


def compare_fields(spec: ObjectSpec, nova_obj: Mapping[str, Any], ctx: RenderContext) -> list[FieldRow]:
    """Every field of ``spec`` (nested ones by dotted name), rendered from
    ``nova_obj`` exactly as the API renders it."""
    return list(_rows(spec.fields, nova_obj, ctx, prefix=""))


def _rows(
    fields: tuple[FieldSpec, ...], nova_obj: Mapping[str, Any], ctx: RenderContext, prefix: str
) -> Iterator[FieldRow]:
    for spec in fields:
        name = f"{prefix}{spec.name}"
        if spec.fields is not None and spec.when is None:
            yield from _rows(spec.fields, nova_obj, ctx, prefix=f"{name}.")
            continue
        paths = _nova_paths(spec, nova_obj, ctx)
        # Other calls' answers are whole Nova documents: named, not repeated.
        values = {path: lookup(nova_obj, path.split(".")) for path in paths if path != _OTHER_CALLS}
        yield FieldRow(
            field=name,
            value=render_field(spec, nova_obj, ctx),
            nova_fields=tuple(p if p != _OTHER_CALLS else "(other Nova calls' answers)" for p in paths),
            nova_values=values,
            transform=describe_transform(spec, nova_obj),
            declared_at=str(spec.declared) if spec.declared is not None else None,
        )


def _nova_paths(spec: FieldSpec, nova_obj: Mapping[str, Any], ctx: RenderContext) -> tuple[str, ...]:
    paths: list[str] = []
    if spec.when is not None:
        paths.append(".".join(spec.when))
    if spec.source is not None:
        paths.append(".".join(spec.source))
    if spec.hook is not None:
        reads = _Reads(nova_obj)
        FIELD_HOOKS[spec.hook](reads, ctx)
        paths += reads.read
    if spec.fields is not None:
        paths += [p for f in spec.fields for p in _nova_paths(f, nova_obj, ctx)]
    return tuple(dict.fromkeys(paths))


def describe_transform(spec: FieldSpec, nova_obj: Mapping[str, Any]) -> str:
    """What was done to Nova's value, in words: the value map's pair that
    applied, the id or time conversion, the hook and what it does."""
    parts: list[str] = []
    if spec.when is not None:
        parts.append(f"only when Nova shows {'.'.join(spec.when)}, else {spec.otherwise!r}")
    if spec.hook is not None:
        doc = (FIELD_HOOKS[spec.hook].__doc__ or "").strip().split("\n\n")[0]
        parts.append(f"hook {spec.hook}: {' '.join(doc.split())}")
    elif spec.fields is not None:
        parts.append("an object of the fields " + ", ".join(f.name for f in spec.fields))
    elif spec.source is None:
        parts.append(f"constant {spec.const!r}")
    elif spec.value_map is not None:
        parts.append(_value_map(spec, lookup(nova_obj, spec.source)))
    elif spec.translate is not None:
        parts.append(f"id: kept if a UUID, else the UUIDv5 of '{spec.translate}:<Nova id>'")
    elif spec.format == "timestamp":
        parts.append("time: ISO 8601 in UTC with a Z, to the second")
    else:
        parts.append("as Nova shows it")
    if spec.source is not None and spec.value_map is None and spec.default is not None:
        parts.append(f"{spec.default!r} when Nova shows none")
    return "; ".join(parts)


def _value_map(spec: FieldSpec, value: Any) -> str:
    assert spec.value_map is not None
    assert spec.source is not None
    name = ".".join(spec.source)
    for nova_value, vnext_value in spec.value_map:
        if nova_value == value and type(nova_value) is type(value):
            applied = f"value map: {name} {_word(nova_value)} → {_word(vnext_value)}"
            break
    else:
        applied = f"value map: {name} {_word(value)} is not in the map, so {_word(spec.default)}"
    pairs = [f"{_word(n)} → {_word(v)}" for n, v in spec.value_map[:_MAP_SHOWN]]
    more = f", and {len(spec.value_map) - _MAP_SHOWN} more" if len(spec.value_map) > _MAP_SHOWN else ""
    return f"{applied} (of {', '.join(pairs)}{more})"


def _word(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


#: Nova's own links name Nova's endpoint, which a cloud need not show its
#: users (vNext renders links of its own).
_NOT_SHOWN = frozenset({_OTHER_CALLS, "links"})


def unshown_nova_fields(rows: list[FieldRow], nova_obj: Mapping[str, Any]) -> dict[str, Any]:
    """Nova's top-level fields that no vNext field was made from (but its links)."""
    used = {path.split(".")[0] for row in rows for path in row.nova_fields}
    return {key: value for key, value in nova_obj.items() if key not in used and key not in _NOT_SHOWN}
