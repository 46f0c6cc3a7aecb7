"""The mapping loader refuses bad mappings with file, line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from vnext_proxy.mapping.loader import load_mappings
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.yamlsource import InputError

GOOD_ROUTE = """
  - rel: things
    method: GET
    uri: /things/{thing_id}
    summary: a thing
    status: mapped
    gap: Retrieve a thing
    nova:
      - method: GET
        path: /flavors/{thing_id}
        min_microversion: "2.1"
    response: {object: thing, from: nova.flavor}
"""
THING = """
objects:
  thing:
    fields:
      id: id
"""


GAP_TABLE = """
### Things

Purpose | v2/3 call | vNext call
--------|-----------|-----------
Retrieve a thing | `GET /{project}/things/{id}` | `GET /things/{id}`
"""


@pytest.fixture(autouse=True)
def gap_tables(tmp_path: Path) -> None:
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "gap-analysis.md").write_text(GAP_TABLE)
    (tmp_path / "spec" / "gap-analysis-later.md").write_text(GAP_TABLE)


def problems(tmp_path: Path, **files: str) -> list[str]:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    with pytest.raises(InputError) as info:
        load_mappings(tmp_path)
    return [str(p) for p in info.value.problems]


def test_project_mappings_load(mappings: MappingSet) -> None:
    assert {r.rel for r in mappings.routes} >= {"root", "server_types"}
    assert "server_type" in mappings.objects


def test_a_good_file_loads(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(THING + "routes:" + GOOD_ROUTE)
    loaded = load_mappings(tmp_path)
    (route,) = loaded.routes
    assert route.path_vars == ("thing_id",)
    assert route.source.line == 7


def test_unknown_key(tmp_path: Path) -> None:
    found = problems(tmp_path, a=THING + "routes:" + GOOD_ROUTE.replace("summary:", "sumary: x\n    summary:"))
    assert any(p.startswith(f"{tmp_path.name}/a.yaml:10: routes[0].sumary: unknown key") for p in found), found


def test_unbound_nova_placeholder(tmp_path: Path) -> None:
    found = problems(tmp_path, a=THING + "routes:" + GOOD_ROUTE.replace("/flavors/{thing_id}", "/flavors/{id}"))
    assert found == [
        f"{tmp_path.name}/a.yaml:15: routes[0].nova[0].path: placeholder '{{id}}' is not bound by the vNext route"
    ]


def test_unknown_hook_and_object(tmp_path: Path) -> None:
    text = THING.replace("id: id", "id: {hook: no_such_hook}") + "routes:" + GOOD_ROUTE.replace("thing,", "thang,")
    found = problems(tmp_path, a=text)
    assert f"{tmp_path.name}/a.yaml:5: objects.thing.fields.id.hook: unknown field hook 'no_such_hook'" in found
    assert any("response.object: unknown object 'thang'" in p for p in found), found


def test_bad_uri_template(tmp_path: Path) -> None:
    found = problems(tmp_path, a=THING + "routes:" + GOOD_ROUTE.replace("{thing_id}\n", "{thing-id}\n", 1))
    assert any("routes[0].uri" in p and "not a plain variable" in p for p in found), found


def test_colliding_routes_across_files(tmp_path: Path) -> None:
    other = "routes:" + GOOD_ROUTE.replace("{thing_id}", "{name}").replace("rel: things", "rel: things_by_name")
    other = other.replace("    gap: Retrieve a thing\n", "")
    found = problems(tmp_path, a=THING + "routes:" + GOOD_ROUTE, b=other)
    assert any(p.startswith(f"{tmp_path.name}/b.yaml:") and "collides with the route at" in p for p in found), found


def test_every_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, a="routes: 3\n", b="objects:\n  x: {fields: {}, extra: 1}\n", c="a: [\n")
    files = {p.split(":")[0] for p in found}
    assert files == {f"{tmp_path.name}/{n}.yaml" for n in "abc"}


def test_gap_rows_must_all_be_mapped_once(tmp_path: Path) -> None:
    (tmp_path / "spec" / "gap-analysis-later.md").write_text(GAP_TABLE + "Delete a thing | `DELETE x` | `DELETE y`\n")
    found = problems(tmp_path, a=THING + "routes:" + GOOD_ROUTE)
    assert found == [
        "spec/gap-analysis-later.md:7: Things: the gap row 'Delete a thing' (`DELETE y`) has no mapping entry"
    ]
    twice = problems(
        tmp_path,
        a=THING + "routes:" + GOOD_ROUTE + "gap_rows:\n  - {gap: Retrieve a thing, status: planned, note: x}\n",
    )
    assert any("already mapped at" in p for p in twice), twice
    unknown = problems(
        tmp_path, a=THING + "routes:" + GOOD_ROUTE.replace("gap: Retrieve a thing", "gap: Fetch a thing")
    )
    assert any("no gap-table row has the purpose 'Fetch a thing'" in p for p in unknown), unknown


def test_value_maps_must_be_total(tmp_path: Path) -> None:
    partial = (
        THING
        + """      state:
        from: OS-EXT-STS:vm_state
        enum: vm_state
        map: {active: ACTIVE, building: BUILDING}
"""
        + "routes:"
        + GOOD_ROUTE
    )
    (found,) = problems(tmp_path, a=partial)
    assert found.startswith(f"{tmp_path.name}/a.yaml:9: objects.thing.fields.state.map: not total over Nova's vm_state")
    assert "paused, suspended" in found


def test_placeholders_in_queries_and_when(tmp_path: Path) -> None:
    bad = GOOD_ROUTE.replace(
        'min_microversion: "2.1"', 'min_microversion: "2.1"\n        query: {name: "{nope}"}\n        when: other.x'
    )
    found = problems(tmp_path, a=THING + "routes:" + bad)
    assert any("nova[0].query.name: placeholder '{nope}' is not bound" in p for p in found), found
    assert any("nova[0].when: 'other' names no earlier nova call" in p for p in found), found


def test_every_handler_a_mapping_may_name_is_served() -> None:
    """The loader checks names against mapping.variables; the app serves web's functions: the same set."""
    from vnext_proxy.mapping.variables import ROUTE_HANDLERS as DECLARED
    from vnext_proxy.web.app import ROUTE_HANDLERS as SERVED

    assert set(DECLARED) == set(SERVED)


def test_a_secret_param_must_be_write_only(tmp_path: Path) -> None:
    """A password sent to Nova must never reach the store: the loader refuses
    an action param that looks like one unless it is marked writeOnly."""
    actions = """
actions:
  SET_PASSWORD:
    gap: []
    nova_action: changePassword
    params:
      admin_password: {type: string}
    required: [admin_password]
    call: {method: POST, path: "/servers/{server}/action", body: {changePassword: {adminPass: "{admin_password}"}}}
    done: [{vm_state: active}]
"""
    found = problems(tmp_path, a=THING + "routes:" + GOOD_ROUTE + actions)
    assert [p.split("/")[-1] for p in found] == [
        "a.yaml:24: actions.SET_PASSWORD.params.admin_password: 'admin_password' looks like a secret: "
        "mark it writeOnly: true, so it is never stored"
    ]
    marked = actions.replace("admin_password: {type: string}", "admin_password: {type: string, writeOnly: true}")
    (tmp_path / "a.yaml").write_text(THING + "routes:" + GOOD_ROUTE + marked)
    assert load_mappings(tmp_path).actions["SET_PASSWORD"].secret_params == {"admin_password"}
