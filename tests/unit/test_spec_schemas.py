"""The vNext JSON-Schema documents (mappings/schemas) are valid, and the spec's own examples match them.

Each ``tests/unit/spec_examples/<kind>__<description>.json`` is an example response from the API Blueprint
specs and is validated against ``mappings/schemas/<kind>.json``. Where the spec contradicts itself the case
is listed in ``SPEC_CONFLICTS`` (and in mappings/schemas/README.md) and marked xfail(strict=True); a
separate test pins the exact problems of each such example, so a new problem cannot hide behind the xfail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema.validators import validator_for

from vnext_proxy.mapping.loader import packaged_mappings

# The schemas as the package ships them (a folder whenever tests run).
SCHEMAS = Path(str(packaged_mappings() / "schemas"))
EXAMPLES = Path(__file__).resolve().parent / "spec_examples"

KINDS = {"server_type", "server_group", "server_task", "server_task_item", "server", "tag", "property", "placement"}

# Each problem: where it is (required property: "<object path>.<name>"), then what the spec says.
# The errata in mappings/schemas/README.md settle the spec's other contradictions.
_NO_KEYPAIR = {"$.launch_keypair_id": "is required by the schema; the list members do not carry it"}
_SEED_REGION = {"$.placement_id": "is required by the later revision; the seed example has region_id instead"}

SPEC_CONFLICTS: dict[str, dict[str, str]] = {
    "server__later_list_item_example_server_1.json": _NO_KEYPAIR,
    "server__later_list_item_example_server_2.json": _NO_KEYPAIR,
    "server__seed_get_by_id.json": _SEED_REGION,
    "server__seed_list_item_example_server_1.json": {**_NO_KEYPAIR, **_SEED_REGION},
    "server__seed_list_item_example_server_2.json": {**_NO_KEYPAIR, **_SEED_REGION},
}


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _schema_for(example: Path) -> Any:
    kind = example.name.split("__", 1)[0]
    return _load(SCHEMAS / f"{kind}.json")


def _problems(schema: Any, instance: Any) -> set[str]:
    """Every validation error, as a path; a missing required property as "<object path>.<name>"."""
    problems: set[str] = set()
    for error in validator_for(schema)(schema).iter_errors(instance):
        required = error.validator_value
        if error.validator == "required" and isinstance(required, list) and isinstance(error.instance, dict):
            problems.update(f"{error.json_path}.{name}" for name in required if name not in error.instance)
        else:
            problems.add(error.json_path)
    return problems


def _schema_params() -> list[Any]:
    return [pytest.param(path, id=path.stem) for path in sorted(SCHEMAS.glob("*.json"))]


def _example_params() -> list[Any]:
    params = []
    for path in sorted(EXAMPLES.glob("*__*.json")):
        conflict = SPEC_CONFLICTS.get(path.name)
        marks = []
        if conflict is not None:
            why = "; ".join(f"{where.removeprefix('$.')} {what}" for where, what in conflict.items())
            reason = f"spec example contradicts its schema: {why}"
            marks.append(pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason))
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


def test_there_is_a_schema_for_every_kind() -> None:
    assert {path.stem for path in SCHEMAS.glob("*.json")} == KINDS


def test_every_example_is_of_a_known_kind() -> None:
    examples = list(EXAMPLES.glob("*.json"))
    assert examples
    assert {path.name.split("__", 1)[0] for path in examples} <= KINDS
    assert all("__" in path.name for path in examples)


@pytest.mark.parametrize("path", _schema_params())
def test_schema_is_valid(path: Path) -> None:
    schema = _load(path)
    assert "$schema" in schema, "without $schema, validator_for() silently picks the newest draft"
    cls = validator_for(schema)
    cls.check_schema(schema)
    # The meta-schema does not look inside hyper-schema links; their request schemas must be valid too.
    for link in schema.get("links", []):
        cls.check_schema(link["schema"])


@pytest.mark.parametrize("path", _example_params())
def test_spec_example_matches_its_schema(path: Path) -> None:
    problems = _problems(_schema_for(path), _load(path))
    assert not problems, f"{path.name} does not match its schema at: {', '.join(sorted(problems))}"


@pytest.mark.parametrize("name", sorted(SPEC_CONFLICTS))
def test_spec_conflict_is_exactly_as_documented(name: str) -> None:
    path = EXAMPLES / name
    assert _problems(_schema_for(path), _load(path)) == set(SPEC_CONFLICTS[name])
