"""The mapping loader refuses bad mappings with file, line and reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vnext_proxy.mapping.jsonhome import build_json_home
from vnext_proxy.mapping.loader import load_mappings, packaged_mappings
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
    response: {object: thing, from_answer: nova.flavor}
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


def test_placeholders_in_queries_and_if_answer(tmp_path: Path) -> None:
    bad = GOOD_ROUTE.replace(
        'min_microversion: "2.1"',
        'min_microversion: "2.1"\n        query: {name: "{nope}"}\n        if_answer: other.x',
    )
    found = problems(tmp_path, a=THING + "routes:" + bad)
    assert any("nova[0].query.name: placeholder '{nope}' is not bound" in p for p in found), found
    assert any("nova[0].if_answer: 'other' names no earlier nova call" in p for p in found), found


def test_each_key_has_one_meaning(tmp_path: Path) -> None:
    """`from` is a key path in a Nova object and `when` a condition on it,
    for fields only: a response reads `from_answer`, a derived variable its
    `var`, a Nova call is conditional on `if_answer`. The old spellings are
    refused as unknown keys."""
    old = GOOD_ROUTE.replace("from_answer: nova.flavor", "from: nova.flavor")
    (found,) = problems(tmp_path, a=THING + "routes:" + old)
    assert found.startswith(f"{tmp_path.name}/a.yaml:17: routes[0].response.from: unknown key"), found
    old = GOOD_ROUTE.replace('min_microversion: "2.1"', 'min_microversion: "2.1"\n        when: nova.x')
    found = problems(tmp_path, a=THING + "routes:" + old)
    assert any("routes[0].nova[0].when: unknown key" in p for p in found), found
    derive = "    derive: {kind: {var: thing_id, map: {a: b}}}\n"
    (tmp_path / "a.yaml").write_text(THING + "routes:" + GOOD_ROUTE + derive)
    (route,) = load_mappings(tmp_path).routes
    assert [(d.name, d.source) for d in route.derived] == [("kind", "thing_id")]
    found = problems(tmp_path, a=THING + "routes:" + GOOD_ROUTE + derive.replace("{var:", "{from:"))
    assert any("routes[0].derive.kind.from: unknown key" in p for p in found), found
    found = problems(tmp_path, a=THING + "routes:" + GOOD_ROUTE + derive.replace("var: thing_id", "var: nope"))
    assert found == [f"{tmp_path.name}/a.yaml:18: routes[0].derive.kind.var: 'nope' is not a route variable"]


def test_an_object_from_the_route_variables(tmp_path: Path) -> None:
    route = GOOD_ROUTE.replace("from_answer: nova.flavor", "from_variables: true")
    (tmp_path / "a.yaml").write_text(THING + "routes:" + route)
    (loaded,) = load_mappings(tmp_path).routes
    assert loaded.response.source == ("request",)
    both = GOOD_ROUTE.replace("from_answer: nova.flavor", "from_answer: nova.flavor, from_variables: true")
    found = problems(tmp_path, a=THING + "routes:" + both)
    assert found == [f"{tmp_path.name}/a.yaml:17: routes[0].response: give from_answer or from_variables, not both"]


def test_list_filters_get_their_nova_values_from_the_field_map(mappings: MappingSet) -> None:
    """A filter Nova applies passes its value through the map of the field it
    tests, inverted; a value several Nova values give (SHUTDOWN: power_state
    0 and 4; TERMINATED: soft-delete and deleted) has none, so the proxy
    applies it. The same Nova values as the hand-written ones they replace."""
    virt_to_vm = (
        ("ACTIVE", "active"), ("BUILDING", "building"), ("PAUSED", "paused"), ("SUSPENDED", "suspended"),
        ("STOPPED", "stopped"), ("RESCUED", "rescued"), ("RESIZED", "resized"), ("SHELVED", "shelved"),
        ("SHELVED_OFFLOADED", "shelved_offloaded"), ("ERROR", "error"),
    )  # fmt: skip
    power = (("RUNNING", 1), ("PAUSED", 3), ("CRASHED", 6), ("SUSPENDED", 7))
    for rel in ("servers", "project_servers"):
        (route,) = [r for r in mappings.route_by_rel(rel) if r.method == "GET"]
        filters = {f.var: f for f in route.response.filters}
        assert filters["virt_state"].to_nova == virt_to_vm
        assert filters["power_state"].to_nova == power
        # Nova's own types: power_state is an integer.
        assert {type(nova) for _, nova in filters["power_state"].to_nova or ()} == {int}
        # Fields without a map: the values are Nova's own.
        assert filters["launched_by"].to_nova is None
        assert filters["since"].to_nova is None


LIST_ROUTE = """
  - rel: thing_list
    method: GET
    uri: /things{?limit,marker,state}
    summary: things
    status: mapped
    nova:
      - {method: GET, path: /flavors/detail, min_microversion: "2.1"}
    response:
      object: thing
      from_answer: nova.flavors
      list_key: things
      paging: {mode: proxy}
      filters:
        state:
          field: state
          nova: state
          min_microversion: "2.1"
"""
STATEFUL_THING = """      state:
        from: x
        map: {a: A, b: B, c: B, d: D}
        default: D
"""


def test_a_filter_names_a_field_of_the_list_object(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, a=THING + "routes:" + GOOD_ROUTE + LIST_ROUTE)
    where = f"{tmp_path.name}/a.yaml:33: routes[1].response.filters.state.field"
    assert found == f"{where}: 'state' is not a field of object 'thing'"
    (tmp_path / "a.yaml").write_text(THING + STATEFUL_THING + "routes:" + GOOD_ROUTE + LIST_ROUTE)
    (_, route) = load_mappings(tmp_path).routes
    # B has two Nova values and D is also the default: the proxy applies those.
    assert route.response.filters[0].to_nova == (("A", "a"),)


def test_nova_values_come_from_the_map_only(tmp_path: Path) -> None:
    written = LIST_ROUTE + "          to_nova: {A: a}\n"
    found = problems(tmp_path, a=THING + STATEFUL_THING + "routes:" + GOOD_ROUTE + written)
    assert any("filters.state.to_nova: unknown key" in p for p in found), found
    hooked = THING + "      state: {hook: flavor_swap_mb}\n"
    (found,) = problems(tmp_path, a=hooked + "routes:" + GOOD_ROUTE + LIST_ROUTE)
    assert found.startswith(f"{tmp_path.name}/a.yaml:35: routes[1].response.filters.state.nova: "), found
    assert "Nova cannot apply a filter on a field the proxy computes" in found


def test_server_groups_are_mapped_to_nova(mappings: MappingSet) -> None:
    groups = [r for r in mappings.routes if "server_group" in r.rel]
    assert len(groups) == 4
    assert {r.status for r in groups} == {"mapped"}
    assert all(r.handler is not None for r in groups)


def test_every_handler_a_mapping_may_name_is_served() -> None:
    """The loader checks names against mapping.variables; the app serves execution's functions: the same set."""
    from vnext_proxy.execution.named import NAMED as SERVED
    from vnext_proxy.mapping.variables import ROUTE_HANDLERS as DECLARED

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


EXTENSION_ROUTE = """
  - rel: gizmos
    method: GET
    uri: /gizmos/{gizmo_id}
    summary: a gizmo
    status: mapped
    extension: the spec launches with a gizmo_id but has no gizmo resource
    nova:
      - method: GET
        path: /flavors/{gizmo_id}
        min_microversion: "2.1"
    response: {object: thing, from_answer: nova.flavor}
"""


def test_an_extension_route_loads_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(THING + "routes:" + GOOD_ROUTE + EXTENSION_ROUTE)
    spec_route, extension = load_mappings(tmp_path).routes
    assert spec_route.extension is None
    assert extension.extension == "the spec launches with a gizmo_id but has no gizmo resource"
    assert extension.gap == ()


def test_an_extension_claims_no_gap_row_and_is_served(tmp_path: Path) -> None:
    """An extension is a route the spec lacks: it cannot also be a gap row of
    the spec, nor a route the spec says vNext does without."""
    both = EXTENSION_ROUTE.replace("    extension:", "    gap: Retrieve a thing\n    extension:")
    found = problems(tmp_path, a=THING + "routes:" + both)
    assert found == [
        f"{tmp_path.name}/a.yaml:13: routes[0].extension: an extension is not in the spec, so it claims no gap row"
    ]
    refused = EXTENSION_ROUTE.replace("status: mapped", "status: not_applicable").replace(
        "    nova:", "    not_applicable: {reason: not here, answer: 404, use_instead: nothing}\n    nova:"
    )
    found = problems(tmp_path, a=THING + "routes:" + GOOD_ROUTE + refused)
    assert found == [
        f"{tmp_path.name}/a.yaml:24: routes[1].extension: an extension is a route the proxy serves: not not_applicable"
    ]


def test_an_extension_is_no_call_the_gap_table_names(tmp_path: Path) -> None:
    """GET /things/{id} is the gap table's own call (whatever its variable is
    called): it is served by claiming its row, never as an extension."""
    spec_call = EXTENSION_ROUTE.replace("/gizmos/{gizmo_id}", "/things/{gizmo_id}")
    found = problems(tmp_path, a=THING + "routes:" + spec_call + "gap_rows:\n"
                     "  - {gap: Retrieve a thing, status: planned, note: x}\n")  # fmt: skip
    assert found == [
        f"{tmp_path.name}/a.yaml:12: routes[0].extension: the spec has GET /things/{{id}} "
        "(gap row 'Retrieve a thing'): claim that row instead"
    ]


def test_keypairs_are_an_extension(mappings: MappingSet) -> None:
    """The spec launches with a keypair_id but has no keypair resource: the
    proxy's keypair routes say so, claim no gap row, and render the keypair
    object its published schema describes."""
    routes = {(r.method, r.uri): r for r in mappings.routes if r.rel in ("keypairs", "keypair")}
    assert set(routes) == {("GET", "/keypairs{?limit,marker}"), ("GET", "/keypairs/{keypair}")}
    reason = "the spec requires keypair_id to launch but has no keypair resource"
    assert {r.extension for r in routes.values()} == {reason}
    assert all(r.gap == () and r.status == "mapped" for r in routes.values())
    assert {r.handler for r in routes.values()} == {"list_keypairs", "get_keypair"}
    fields = [f.name for f in mappings.objects["keypair"].fields]
    assert fields == ["id", "name", "fingerprint", "type", "created_at"]
    assert set(fields) <= set(mappings.schemas["keypair"]["properties"])
    assert dict(mappings.objects["keypair"].links) == {"self": "/keypairs/{id}", "describedby": "/schemas/keypair"}
    home = build_json_home(mappings)["resources"]
    assert home["rel/keypairs"]["href-template"] == "/keypairs{?limit,marker}"
    assert home["rel/keypair"]["href-template"] == "/keypairs/{keypair}"


def test_task_and_item_actions_must_be_in_the_published_enums(tmp_path: Path) -> None:
    """A task action or item action the served schemas do not allow is refused, with where it is named."""
    copy = tmp_path / "mappings"
    shutil.copytree(str(packaged_mappings()), copy)
    item_schema = copy / "schemas" / "server_task_item.json"
    schema = json.loads(item_schema.read_text())
    schema["properties"]["action"]["enum"].remove("LOCKING")
    item_schema.write_text(json.dumps(schema))
    task_schema = copy / "schemas" / "server_task.json"
    schema = json.loads(task_schema.read_text())
    schema["properties"]["action"]["enum"].remove("UNLOCK")
    task_schema.write_text(json.dumps(schema))
    with pytest.raises(InputError) as caught:
        load_mappings(copy)
    text = str(caught.value)
    assert "mappings/server_tasks.yaml:" in text
    assert "'LOCKING' is not an action schemas/server_task_item.json allows" in text
    assert "'UNLOCK' is not an action schemas/server_task.json allows" in text
