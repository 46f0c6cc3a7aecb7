"""The request schemas the spec publishes: each object's create link."""

from __future__ import annotations

from typing import Any

from vnext_proxy.mapping.model import MappingSet


def link_schema(mappings: MappingSet, obj: str, method: str = "POST") -> dict[str, Any]:
    """The body schema of the ``method`` link of the published ``obj`` schema,
    to be validated by the draft the published schema names."""
    published = mappings.schemas[obj]
    found: dict[str, Any] = next(lk for lk in published.get("links", []) if lk.get("method") == method)["schema"]
    if "$schema" in published:
        found = {"$schema": published["$schema"], **found}
    return found


def without(schema: dict[str, Any], *names: str, required: list[str] | None = None) -> dict[str, Any]:
    """``schema`` less the properties ``names`` (which the URL gives), and with
    ``required`` replacing its required list when given."""
    trimmed = {**schema, "properties": {k: v for k, v in schema["properties"].items() if k not in names}}
    if required is not None:
        trimmed["required"] = required
    return trimmed
