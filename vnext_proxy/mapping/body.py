"""Fill a declared Nova body with the request's variables (pure).

Used for task actions (their parameters) and mapped routes (their route
variables, and "body", the request's JSON: "{body.hostname}" reaches in)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_WHOLE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\}$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

_ABSENT = object()


def fill(template: Any, params: Mapping[str, Any]) -> Any:
    """A whole-string "{name}" takes the parameter's own value and type; a
    mapping key whose parameter is absent is left out."""
    value = _fill(template, params)
    return None if value is _ABSENT else value


def _fill(template: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(template, str):
        whole = _WHOLE.match(template)
        if whole:
            return _lookup(params, whole.group(1))
        return _PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), "")), template)
    if isinstance(template, dict):
        filled = {k: _fill(v, params) for k, v in template.items()}
        return {k: v for k, v in filled.items() if v is not _ABSENT}
    if isinstance(template, list):
        return [v for v in (_fill(x, params) for x in template) if v is not _ABSENT]
    return template


def _lookup(params: Mapping[str, Any], dotted_name: str) -> Any:
    value: Any = params
    for part in dotted_name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _ABSENT
        value = value[part]
    return value
