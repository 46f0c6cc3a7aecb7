"""A request body against a JSON-Schema: the one way a body is refused.

The field named in the 400 comes from jsonschema's structured error (its
path, and for ``required`` and ``additionalProperties`` the key concerned),
never from its message text, and the message never echoes unbounded input.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import jsonschema
import orjson

from vnext_proxy.errors import VNextError
from vnext_proxy.yamlsource import dotted


def check_body(body: Any, schema: dict[str, Any], *, about: str = "") -> Any:
    """``body`` if it matches ``schema``; else 400 naming the first field that
    does not (``about`` prefixes the message, e.g. the task action)."""
    error = jsonschema.exceptions.best_match(_validator(schema).iter_errors(body))
    if error is None:
        return body
    path = tuple(error.absolute_path)
    key = _key_concerned(error)
    field = dotted((*path, key) if key is not None else path) or "body"
    # VNextError bounds the message: jsonschema quotes the offending value.
    message = f"{field}: {error.message}"
    raise VNextError(400, f"{about}: {message}" if about else message, field=field)


def _key_concerned(error: jsonschema.ValidationError) -> str | None:
    """The key a ``required`` or ``additionalProperties`` error is about."""
    instance = error.instance
    if not isinstance(instance, dict):
        return None
    if error.validator == "required" and isinstance(error.validator_value, list):
        missing = [k for k in error.validator_value if k not in instance]
        return str(missing[0]) if missing else None
    schema = error.schema
    if error.validator == "additionalProperties" and error.validator_value is False and isinstance(schema, dict):
        known = set(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        extra = sorted(k for k in instance if k not in known and not _matches_any(patterns, k))
        return extra[0] if extra else None
    return None


def _matches_any(patterns: list[str], key: str) -> bool:
    return any(re.search(p, key) for p in patterns)


def _validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    # Schemas are built per route at start-up and kept; the key is their JSON.
    return _compiled(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))


@lru_cache(maxsize=256)
def _compiled(schema_json: bytes) -> jsonschema.protocols.Validator:
    schema = orjson.loads(schema_json)
    validator: jsonschema.protocols.Validator = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft202012Validator
    )(schema)
    return validator
