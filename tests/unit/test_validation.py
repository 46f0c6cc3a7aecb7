"""validation.check_body: the one way a body is refused, naming the field
from jsonschema's structured error (never from its message text)."""

from __future__ import annotations

from typing import Any

import pytest

from vnext_proxy.errors import VNextError
from vnext_proxy.validation import check_body

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "spec"],
    "properties": {
        "name": {"type": "string", "maxLength": 10},
        "spec": {
            "type": "object",
            "required": ["memory_mb", "cpu_units"],
            "properties": {"memory_mb": {"type": "integer"}, "cpu_units": {"type": "integer"}},
        },
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "patternProperties": {"^x-": {}},
}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"spec": {"memory_mb": 1, "cpu_units": 1}}, "name"),
        ({"name": "a", "spec": {"memory_mb": 1}}, "spec.cpu_units"),
        ({"name": "a", "spec": {"memory_mb": 1, "cpu_units": 1}, "flavor": "x"}, "flavor"),
        ({"name": "a", "spec": {"memory_mb": "big", "cpu_units": 1}}, "spec.memory_mb"),
        ({"name": "a", "spec": {"memory_mb": 1, "cpu_units": 1}, "tags": ["ok", 3]}, "tags[1]"),
        # A key's name that quotes like a message would ("'a' is ...") changes nothing.
        ({"name": "a", "spec": {"memory_mb": 1, "cpu_units": 1}, "it's 'odd'": 1}, "it's 'odd'"),
        ([], "body"),
    ],
)
def test_the_field_named_is_the_one_at_fault(body: Any, field: str) -> None:
    with pytest.raises(VNextError) as caught:
        check_body(body, SCHEMA)
    assert (caught.value.status, caught.value.field) == (400, field)
    assert caught.value.message.startswith(f"{field}: ")


def test_a_key_a_pattern_allows_is_not_extra_and_a_good_body_passes() -> None:
    body = {"name": "a", "spec": {"memory_mb": 1, "cpu_units": 1}, "x-note": "kept"}
    assert check_body(body, SCHEMA) is body


def test_the_message_never_echoes_unbounded_input() -> None:
    with pytest.raises(VNextError) as caught:
        check_body({"name": "n" * 100_000, "spec": {"memory_mb": 1, "cpu_units": 1}}, SCHEMA)
    assert caught.value.field == "name"
    assert len(caught.value.message) < 1100


def test_about_prefixes_the_message() -> None:
    with pytest.raises(VNextError) as caught:
        check_body({}, SCHEMA, about="RESIZE")
    assert caught.value.message.startswith("RESIZE: name: ")
