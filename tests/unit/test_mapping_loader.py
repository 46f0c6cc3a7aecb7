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
        f"{tmp_path.name}/a.yaml:14: routes[0].nova[0].path: placeholder '{{id}}' is not bound by the vNext route"
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
    found = problems(tmp_path, a=THING + "routes:" + GOOD_ROUTE, b=other)
    assert any(p.startswith(f"{tmp_path.name}/b.yaml:") and "collides with the route at" in p for p in found), found


def test_every_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, a="routes: 3\n", b="objects:\n  x: {fields: {}, extra: 1}\n", c="a: [\n")
    files = {p.split(":")[0] for p in found}
    assert files == {f"{tmp_path.name}/{n}.yaml" for n in "abc"}
