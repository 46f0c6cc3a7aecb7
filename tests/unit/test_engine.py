"""The pure transforms: no I/O, so no Nova needed."""

from __future__ import annotations

from vnext_proxy.mapping.engine import plan_call, render_response
from vnext_proxy.mapping.model import MappingSet, NovaCall

# A flavor as Nova 34 shows it at 2.61.
NOVA_FLAVOR = {
    "id": "42",
    "name": "m1.test",
    "ram": 1024,
    "disk": 10,
    "vcpus": 2,
    "swap": "",
    "rxtx_factor": 1.5,
    "description": "a test flavor",
    "os-flavor-access:is_public": False,
    "extra_specs": {"vnext:tags": "gpu,hpc", "hw:numa_nodes": "1"},
}


def test_plan_expands_path_and_drops_absent_query() -> None:
    call = NovaCall("nova", "GET", "/flavors/{id}", (2, 61), (("limit", "{limit}"), ("marker", "{marker}")))
    planned = plan_call(call, {"id": "a b", "limit": "5"})
    assert planned.path == "/flavors/a%20b"
    assert planned.query == (("limit", "5"),)


def test_server_types_list_renders_vnext_objects(mappings: MappingSet) -> None:
    (route,) = [r for r in mappings.routes if r.rel == "server_types" and r.method == "GET"]
    result = render_response(route, mappings, {"nova": {"flavors": [NOVA_FLAVOR]}}, "/server_types?limit=1")
    assert result.status == 200
    (item,) = result.body["server_types"]
    assert item == {
        "id": "42",
        "name": "m1.test",
        "description": "a test flavor",
        "visibility": "PRIVATE",
        "spec": {"memory_mb": 1024, "root_disk_gb": 10, "cpu_units": 2, "swap_mb": 0, "rxtx_factor": 1.5},
        "tags": ["gpu", "hpc"],
        "_links": {"self": {"href": "/server_types/42"}, "describedby": {"href": "/schemas/server_type"}},
    }
    assert result.body["_links"] == {"self": {"href": "/server_types?limit=1"}}


def test_json_home_lists_every_route(mappings: MappingSet) -> None:
    (root,) = [r for r in mappings.routes if r.rel == "root"]
    home = render_response(root, mappings, {}, "/").body
    assert root.response.content_type == "application/json-home"
    rels = {f"rel/{r.rel}" for r in mappings.routes if r.status != "not_applicable"}
    assert set(home["resources"]) == rels
    types = home["resources"]["rel/server_types"]
    assert types["href-template"] == "/server_types{?limit,marker}"
    assert types["href-vars"] == {"limit": "param/limit", "marker": "param/marker"}
    assert types["hints"]["allow"] == ["GET"]
