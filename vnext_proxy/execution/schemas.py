"""The request schemas the spec publishes: each object's create link."""

from __future__ import annotations

from collections.abc import Mapping
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


#: The spec's own extension point in a write body: accepted, and ignored.
_EXTENSION_POINTS: dict[str, Any] = {"_links": {"type": "object"}}


def request_schema(
    schema: dict[str, Any], *, url: Mapping[str, str] | None = None, required: list[str] | None = None
) -> dict[str, Any]:
    """A link schema as a request body's: its own keys only (any other is a
    400 naming it, never ignored), ``_links`` open, a key the URL gives
    (``project``) accepted only with the URL's value, and ``required``
    replacing the required list when given."""
    properties = {**schema["properties"], **_EXTENSION_POINTS}
    for name, value in (url or {}).items():
        properties[name] = {"enum": [value]}  # draft-04 has no const
    closed = {**schema, "properties": properties, "additionalProperties": False}
    if required is not None:
        closed["required"] = required
    return closed
