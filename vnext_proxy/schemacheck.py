"""Turn JSON-Schema validation errors into located, plain-words problems."""

from __future__ import annotations

from typing import Any

import jsonschema

from vnext_proxy.yamlsource import KeyPath, Problem, YamlDocument

_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def _describe_type(expected: Any) -> str:
    names = expected if isinstance(expected, list) else [expected]
    return " or ".join(_TYPE_WORDS.get(str(n), str(n)) for n in names)


def schema_problems(doc: YamlDocument, schema: dict[str, Any], base: KeyPath = ()) -> list[Problem]:
    """Validate ``doc.data`` (or the part at ``base``) and explain every error."""
    instance = doc.data
    for part in base:
        instance = instance[part]
    validator = jsonschema.Draft202012Validator(schema)
    problems: list[Problem] = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        problems.extend(_explain(doc, (*base, *error.absolute_path), error))
    return problems


def _explain(doc: YamlDocument, path: KeyPath, error: jsonschema.ValidationError) -> list[Problem]:
    kind = error.validator
    # The validator's schema and value are typed loosely by jsonschema.
    schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    expected: Any = error.validator_value
    if "propertyNames" in error.schema_path:
        return [doc.problem((*path, str(error.instance)), f"unknown key: {error.message}")]
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(schema.get("properties", {}))
        unknown = [k for k in error.instance if k not in allowed]
        hint = f" (known keys: {', '.join(sorted(allowed))})" if allowed else ""
        return [doc.problem((*path, k), f"unknown key{hint}") for k in unknown]
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [doc.problem(path, f"missing required key '{missing}'")]
    if kind == "type":
        return [doc.problem(path, f"must be {_describe_type(expected)}, got {error.instance!r}")]
    if kind == "enum":
        choices = ", ".join(str(c) for c in expected)
        return [doc.problem(path, f"must be one of {choices}; got {error.instance!r}")]
    if kind == "pattern":
        return [doc.problem(path, f"{error.instance!r} does not match {expected}")]
    if kind in ("oneOf", "anyOf") and "description" in schema:
        return [doc.problem(path, str(schema["description"]))]
    return [doc.problem(path, error.message)]
