"""The vNext JSON-Schema documents (mappings/schemas) are valid, and the spec's own examples match them.

Each ``tests/unit/spec_examples/<kind>__<description>.json`` is an example response from the API Blueprint
specs and is validated against ``mappings/schemas/<kind>.json``. Where the spec contradicts itself the case
is listed in ``SPEC_CONFLICTS`` (and in mappings/schemas/README.md) and marked xfail(strict=True); a
separate test pins the exact problems of each such example, so a new problem cannot hide behind the xfail.

It also checks tests/spec/server-{seed,later}.json, each revision's server schema as the spec wrote it, which
tests/devcloud/test_spec_conformance.py validates served servers against: they are the spec's text with only
the JSON syntax fixed, they are draft 3, and the published schema requires what either requires.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema.protocols import Validator
from jsonschema.validators import Draft3Validator, Draft4Validator, validator_for

from vnext_proxy.mapping.loader import packaged_mappings

# The schemas as the package ships them (a folder whenever tests run).
SCHEMAS = Path(str(packaged_mappings() / "schemas"))
EXAMPLES = Path(__file__).resolve().parent / "spec_examples"

KINDS = {"server_type", "server_group", "server_task", "server_task_item", "server", "tag", "property", "placement"}
#: Schemas of the proxy's extensions (mappings/schemas/README.md): the spec has no such object, nor examples.
EXTENSION_KINDS = {"keypair"}

# Each problem: where it is (required property: "<object path>.<name>"), then what the spec says.
# The errata in mappings/schemas/README.md settle the spec's other contradictions.
_NO_KEYPAIR = {"$.launch_keypair_id": "is required by the schema; the list members do not carry it"}
# The published server schema requires both revisions' name for the server's placement (the proxy serves
# both), so each revision's examples lack the other's.
_SEED_REGION = {"$.placement_id": "is required by the later revision; the seed example has region_id instead"}
_LATER_PLACEMENT = {"$.region_id": "is required by the seed revision; the later example has placement_id instead"}

SPEC_CONFLICTS: dict[str, dict[str, str]] = {
    "server__later_get_by_id.json": _LATER_PLACEMENT,
    "server__later_list_item_example_server_1.json": {**_NO_KEYPAIR, **_LATER_PLACEMENT},
    "server__later_list_item_example_server_2.json": {**_NO_KEYPAIR, **_LATER_PLACEMENT},
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
    assert {path.stem for path in SCHEMAS.glob("*.json")} == KINDS | EXTENSION_KINDS


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


# --- Each revision's server schema, as the spec wrote it -------------------------------------------------------------
#
# tests/spec/server-{seed,later}.json are the JSON of each revision's ``GET /schemas/server`` with only its JSON
# syntax fixed (tests/spec/README.md lists every fix). tests/devcloud/test_spec_conformance.py validates served
# servers against them. The test below rebuilds them from the spec's text, so no other edit can creep in.

SPEC = Path(str(packaged_mappings() / "spec"))  # copies of ../shared/spec/*.apib, line for line
REVISION_SCHEMAS = Path(__file__).resolve().parents[1] / "spec"
REVISIONS = {"seed": "apiary.apib", "later": "apiary-later.apib"}

#: (line in the .apib file, text on that line, what it becomes). Besides these, a string literal continued by
#: another on the next line ("abc " / "def") is joined into one (_join_continued_strings).
SERVER_SCHEMA_FIXES: dict[str, tuple[tuple[int, str, str], ...]] = {
    "seed": (
        (1395, '"server belongs to."', '"server belongs to.",'),  # missing comma after group_id.description
        (1401, '"UUID identifier of project that owns the server."', '"UUID identifier of project that owns the server.",'),
        (1447, '"to launch this server."', '"to launch this server.",'),  # template_id.description
        (1459, '(e.g. /dev/sda)."', '(e.g. /dev/sda).",'),  # block_devices.items.properties.device.description
        (1465, '"enum": {', '"enum": ['),  # block device type: { "EPHEMERAL", "PERSISTENT" } is not JSON
        (1468, "}", "]"),
        (1501, '"minimum": 0.1,', '"minimum": 0.1'),  # trailing comma (spec.rxtx_factor)
        (1507, '"minimum": 0,', '"minimum": 0'),  # trailing comma (spec.swap_mb)
        (1540, '(e.g. eth0)."', '(e.g. eth0).",'),  # missing comma (networking.interfaces name.description)
        (1557, "},", "}"),  # trailing comma after networking.interfaces
        (1628, "},", "}"),  # trailing comma after links[0].schema.properties.launched_by
        (1676, "},", "}"),  # trailing comma after links[1].schema.properties.launched_by
        (1775, '"Optional UUID identifier of the server type to use."', '"Optional UUID identifier of the server type to use.",'),
        (1781, '"base64-encoded string of user data to use.",', '"base64-encoded string of user data to use."'),
        (1789, "}", "]"),  # the links array was closed with }
    ),
    "later": (
        (1272, '"UUID identifier of project that owns the server."', '"UUID identifier of project that owns the server.",'),
        (1318, '"to launch this server."', '"to launch this server.",'),
        (1330, '(e.g. /dev/sda)."', '(e.g. /dev/sda).",'),
        (1336, '"enum": {', '"enum": ['),
        (1339, "}", "]"),
        (1372, '"minimum": 0.1,', '"minimum": 0.1'),
        (1378, '"minimum": 0,', '"minimum": 0'),
        (1411, '(e.g. eth0)."', '(e.g. eth0).",'),
        (1428, "},", "}"),
        (1499, "},", "}"),  # links[0] only: links[1]'s launched_by has no trailing comma here
        (1766, '"Optional UUID identifier of the server type to use."', '"Optional UUID identifier of the server type to use.",'),
        (1772, '"base64-encoded string of user data to use.",', '"base64-encoded string of user data to use."'),
        (1780, "}", "]"),
    ),
}  # fmt: skip

# A line that is a string literal alone (and perhaps a comma): the rest of the string on the line before.
_CONTINUATION = re.compile(r'^\s*"(?:[^"\\]|\\.)*"\s*,?\s*$')


def _fenced_json(text: str, heading: str) -> tuple[int, list[str]]:
    """The lines of the first ```json block after ``heading``, and the file line number of the first."""
    lines = text.split("\n")
    start = lines.index(heading)
    fence = next(i for i in range(start, len(lines)) if lines[i].strip() == "```json")
    end = next(i for i in range(fence + 1, len(lines)) if lines[i].strip() == "```")
    return fence + 2, lines[fence + 1 : end]


def _join_continued_strings(lines: list[str]) -> tuple[list[str], list[int]]:
    """Join "abc " / "def" (two literals, the second alone on its line) into "abc def"; the emptied lines
    stay, so line numbers keep their meaning. Also the indexes of the lines joined onto."""
    out = list(lines)
    joined: list[int] = []
    for i in range(len(out) - 1):
        if not out[i]:
            continue
        j = i + 1
        while j < len(out) and out[i].rstrip().endswith('"') and _CONTINUATION.match(out[j]):
            out[i] = out[i].rstrip()[:-1] + out[j].strip()[1:]
            out[j] = ""
            j += 1
        if j > i + 1:
            joined.append(i)
    return out, joined


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    assert not duplicated, f"duplicate keys {duplicated}: json.loads would keep only the last"
    return dict(pairs)


def server_schema_from_spec(revision: str) -> tuple[Any, int]:
    """The revision's ``GET /schemas/server`` JSON with SERVER_SCHEMA_FIXES applied and continued strings
    joined; and how many strings were joined."""
    text = (SPEC / REVISIONS[revision]).read_text(encoding="utf-8")
    first, lines = _fenced_json(text, "## GET /schemas/server")
    for line, old, new in SERVER_SCHEMA_FIXES[revision]:
        index = line - first
        assert lines[index].count(old) == 1, f"{REVISIONS[revision]}:{line} is not {old!r}: {lines[index]!r}"
        lines[index] = lines[index].replace(old, new)
    joined, where = _join_continued_strings(lines)
    return json.loads("\n".join(joined), object_pairs_hook=_no_duplicate_keys), len(where)


def revision_server_schema(revision: str) -> Any:
    """tests/spec/server-<revision>.json, as the spec wrote it (JSON syntax fixed, nothing else)."""
    return _load(REVISION_SCHEMAS / f"server-{revision}.json")


def lengths_as_integers(schema: Any) -> Any:
    """The schema with minLength/maxLength written as strings ("36") read as the integers they mean: a
    validator cannot compare a length with a string (jsonschema raises TypeError), and dropping them would
    check less than the spec says."""
    if isinstance(schema, dict):
        lengths = {k: int(v) for k, v in schema.items() if k in ("minLength", "maxLength") and isinstance(v, str)}
        return {key: lengths.get(key, lengths_as_integers(value)) for key, value in schema.items()}
    if isinstance(schema, list):
        return [lengths_as_integers(item) for item in schema]
    return schema


def revision_validator(revision: str) -> Validator:
    """A validator for the revision's server schema in its own draft. The spec declares no ``$schema``;
    ``"required": true`` on a property is draft 3's form (draft 4 made ``required`` a list), so draft 3 is
    the default validator_for() is given (test_revision_server_schema_is_draft_3 checks it)."""
    schema = lengths_as_integers(revision_server_schema(revision))
    cls = validator_for(schema, default=Draft3Validator)
    cls.check_schema(schema)
    return cls(schema)


@pytest.mark.parametrize("revision", sorted(REVISIONS))
def test_revision_server_schema_is_the_spec_text_with_only_syntax_fixed(revision: str) -> None:
    rebuilt, joined = server_schema_from_spec(revision)
    assert revision_server_schema(revision) == rebuilt
    # As tests/spec/README.md counts them.
    assert joined == {"seed": 24, "later": 35}[revision]


@pytest.mark.parametrize("revision", sorted(REVISIONS))
def test_revision_server_schema_is_draft_3(revision: str) -> None:
    schema = revision_server_schema(revision)
    assert "$schema" not in schema
    assert validator_for(schema, default=Draft3Validator) is Draft3Validator
    # Draft 4's meta-schema refuses the boolean "required" of every required property: not draft 4.
    draft4 = [list(e.path) for e in Draft4Validator(Draft4Validator.META_SCHEMA).iter_errors(schema)]
    assert ["properties", "id", "required"] in draft4
    # As written, draft 3's meta-schema refuses only the string lengths; read as integers, nothing.
    wrong = {e.path[-1] for e in Draft3Validator(Draft3Validator.META_SCHEMA).iter_errors(schema)}
    assert wrong == {"minLength", "maxLength"}
    Draft3Validator.check_schema(lengths_as_integers(schema))


def test_published_server_schema_requires_what_either_revision_requires() -> None:
    """The proxy serves both revisions, so its schema requires each one's required properties (region_id
    from the seed, placement_id from the later revision)."""
    required = {
        name
        for revision in REVISIONS
        for name, spec in revision_server_schema(revision)["properties"].items()
        if spec.get("required") is True
    }
    assert {"region_id", "placement_id"} <= required
    assert required <= set(_load(SCHEMAS / "server.json")["required"])
