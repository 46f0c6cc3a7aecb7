"""Named hooks: the few things a mapping cannot say in YAML.

A mapping refers to a hook by name; the loader refuses unknown names. Field
hooks take the Nova object being rendered and return the vNext value. Body
hooks build a whole response body from the route context (JSON-Home).
Each hook says which gap-table row or spec section it serves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FieldHook = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class BodyContext:
    """What a body hook may read: the whole mapping set and the request."""

    mappings: Any  # MappingSet; Any avoids an import cycle with model users
    path: str


BodyHook = Callable[[BodyContext], Any]

FIELD_HOOKS: dict[str, FieldHook] = {}
BODY_HOOKS: dict[str, BodyHook] = {}


def field_hook(fn: FieldHook) -> FieldHook:
    FIELD_HOOKS[fn.__name__] = fn
    return fn


def body_hook(fn: BodyHook) -> BodyHook:
    BODY_HOOKS[fn.__name__] = fn
    return fn


@field_hook
def flavor_swap_mb(flavor: dict[str, Any]) -> int:
    """Server type spec.swap_mb: Nova shows no swap as "" below 2.75."""
    swap = flavor.get("swap")
    return swap if isinstance(swap, int) else 0


@field_hook
def flavor_tags(flavor: dict[str, Any]) -> list[str]:
    """Server type tags: vNext types have tags, Nova keeps them in extra specs
    (``vnext:tags``, comma separated), as the gap table's extra-specs row says."""
    raw = (flavor.get("extra_specs") or {}).get("vnext:tags", "")
    return [t for t in str(raw).split(",") if t]


@body_hook
def json_home(ctx: BodyContext) -> dict[str, Any]:
    """GET / : the JSON-Home document, generated from the routes themselves."""
    from vnext_proxy.mapping.jsonhome import build_json_home

    return build_json_home(ctx.mappings)
