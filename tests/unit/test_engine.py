"""The pure transforms: no I/O, so no Nova needed."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from vnext_proxy.config import DEFAULT_ID_NAMESPACE
from vnext_proxy.errors import VNextError
from vnext_proxy.mapping import engine, ids
from vnext_proxy.mapping.hooks import RenderContext
from vnext_proxy.mapping.model import Filter, KeptRenders, MappingSet, NovaCall

CTX = RenderContext(id_namespace=DEFAULT_ID_NAMESPACE)

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

# A server as Nova 34 shows it to an admin at 2.100 (trimmed to what is read).
NOVA_SERVER = {
    "id": "4bc17469-d2c0-40a3-8e4b-75b9271f97b2",
    "tenant_id": "6f70656e737461636b20342065766572",
    "user_id": "a1000000000040008000000000000a01",
    "OS-EXT-SRV-ATTR:hostname": "web-one",
    "OS-EXT-SRV-ATTR:host": "compute2",
    "OS-EXT-SRV-ATTR:root_device_name": "/dev/sda",
    "OS-SRV-USG:launched_at": "2026-11-27T07:47:32.277748",
    "OS-EXT-STS:vm_state": "soft-delete",
    "OS-EXT-STS:power_state": 0,
    "OS-EXT-AZ:availability_zone": "nova",
    "image": {"id": "155d900f-4e14-4e4c-a73d-069cbf4541e6"},
    "flavor": {"vcpus": 1, "ram": 512, "disk": 1, "swap": 0},
    "key_name": "k1",
    "accessIPv4": "203.0.113.9",
    "accessIPv6": "",
    "addresses": {
        "private": [
            {"version": 4, "addr": "10.0.0.5", "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"},
            {"version": 6, "addr": "fd00::5", "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"},
            {"version": 4, "addr": "198.51.100.7", "OS-EXT-IPS:type": "floating",
             "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"},
        ],
        "other": [
            {"version": 4, "addr": "10.1.0.9", "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:02"}
        ],
    },
    "metadata": {"role": "web"},
    "tags": ["linux"],
    "server_groups": ["2345d363-85ae-4700-bf89-a88414a00427"],
}  # fmt: skip


def route(mappings: MappingSet, rel: str, method: str = "GET"):  # type: ignore[no-untyped-def]
    (found,) = [r for r in mappings.routes if r.rel == rel and r.method == method]
    return found


def test_plan_expands_path_and_drops_absent_query() -> None:
    call = NovaCall("nova", "GET", "/flavors/{id}", (2, 61), (("limit", "{limit}"), ("name", "^{name}$")))
    planned = engine.plan_call(call, {"id": "a b", "name": "x.y"})
    assert planned.path == "/flavors/a%20b"
    # Query values go raw: the HTTP client encodes them once.
    assert planned.query == (("name", "^x.y$"),)


def test_ids_translate_to_stable_uuids_and_keep_uuids() -> None:
    one = ids.vnext_id(DEFAULT_ID_NAMESPACE, "flavor", "1")
    assert one == ids.vnext_id(DEFAULT_ID_NAMESPACE, "flavor", "1")
    assert one is not None
    assert uuid.UUID(one).version == 5
    assert one != ids.vnext_id(DEFAULT_ID_NAMESPACE, "availability_zone", "1")
    assert one != ids.vnext_id(uuid.uuid4(), "flavor", "1")
    kept = "7a6aba30-a3c0-11e3-a5e2-0800200c9a66"
    assert ids.vnext_id(DEFAULT_ID_NAMESPACE, "flavor", kept.upper()) == kept
    assert ids.vnext_id(DEFAULT_ID_NAMESPACE, "flavor", "") is None


def test_timestamps_become_utc_with_z() -> None:
    assert ids.format_timestamp("2026-11-27T07:47:32.277748") == "2026-11-27T07:47:32Z"
    assert ids.format_timestamp("2026-11-27T07:47:32Z") == "2026-11-27T07:47:32Z"
    assert ids.format_timestamp("2026-11-27T08:47:32+01:00") == "2026-11-27T07:47:32Z"
    assert ids.format_timestamp(None) is None


def test_server_type_renders_as_vnext(mappings: MappingSet) -> None:
    item = engine.render_object(mappings.objects["server_type"], NOVA_FLAVOR, CTX)
    flavor_uuid = ids.vnext_id(DEFAULT_ID_NAMESPACE, "flavor", "42")
    assert item == {
        "id": flavor_uuid,
        "name": "m1.test",
        "description": "a test flavor",
        "visibility": "PRIVATE",
        "spec": {"memory_mb": 1024, "root_disk_gb": 10, "cpu_units": 2, "swap_mb": 0, "rxtx_factor": 1.5},
        "tags": ["gpu", "hpc"],
        "_links": {
            "self": {"href": f"/server_types/{flavor_uuid}"},
            "describedby": {"href": "/schemas/server_type"},
            "tags": {"href": f"/server_types/{flavor_uuid}/tags"},
            "shares": {"href": f"/server_types/{flavor_uuid}/shares"},
        },
    }


def test_server_renders_every_attribute(mappings: MappingSet) -> None:
    attachments = {"volumeAttachments": [{"volumeId": "6ca404f3-d844-4169-bb96-bc792f37de98", "device": "/dev/sdb"}]}
    result = engine.render_response(
        route(mappings, "server"), mappings, {"nova": {"server": NOVA_SERVER}, "volumes": attachments}, "/x", CTX
    )
    server = result.body
    assert server["hostname"] == "web-one"
    assert server["project_id"] == NOVA_SERVER["tenant_id"]
    assert server["launched_by"] == NOVA_SERVER["user_id"]
    assert server["launched_at"] == "2026-11-27T07:47:32Z"
    assert server["virt_state"] == "TERMINATED"
    assert server["power_state"] == "SHUTDOWN"
    assert (
        server["region_id"] == server["placement_id"] == ids.vnext_id(DEFAULT_ID_NAMESPACE, "availability_zone", "nova")
    )
    assert server["launch_keypair_id"] == str(uuid.uuid5(DEFAULT_ID_NAMESPACE, f"keypair:{NOVA_SERVER['user_id']}:k1"))
    assert server["template_id"] == NOVA_SERVER["image"]["id"]  # type: ignore[index]
    assert server["spec"] == {"memory_mb": 512, "root_disk_gb": 1, "cpu_units": 1, "swap_mb": 0}
    assert server["networking"] == {
        "interfaces": {
            "eth0": {"mac": "fa:16:3e:00:00:01", "ip4": "10.0.0.5", "ip6": "fd00::5"},
            "eth1": {"mac": "fa:16:3e:00:00:02", "ip4": "10.1.0.9"},
        },
        "access": {"ip4": ["198.51.100.7", "203.0.113.9"], "ip6": []},
    }
    assert server["block_devices"] == [
        {"type": "EPHEMERAL", "device": "/dev/sda"},
        {"type": "PERSISTENT", "device": "/dev/sdb", "volume_id": "6ca404f3-d844-4169-bb96-bc792f37de98"},
    ]
    assert server["properties"] == {"role": "web"}
    assert server["tags"] == ["linux"]
    assert server["group_id"] == "2345d363-85ae-4700-bf89-a88414a00427"
    assert server["_elevated"] == {"compute_node_hostname": "compute2"}
    assert server["_links"]["rel/server_tasks"] == {"href": f"/servers/{NOVA_SERVER['id']}/tasks"}


def test_members_get_no_elevated_attributes(mappings: MappingSet) -> None:
    member_view = {k: v for k, v in NOVA_SERVER.items() if not k.startswith("OS-EXT-SRV-ATTR:h")}
    member_view["OS-EXT-SRV-ATTR:hostname"] = "web-one"
    del member_view["OS-EXT-SRV-ATTR:root_device_name"]
    server = engine.render_object(mappings.objects["server"], member_view, CTX)
    assert server["_elevated"] == {}
    assert server["block_devices"] == []


def test_head_answers_states_as_headers(mappings: MappingSet) -> None:
    result = engine.render_response(
        route(mappings, "server", "HEAD"), mappings, {"nova": {"server": NOVA_SERVER}}, "/x", CTX
    )
    assert result.body is None
    assert result.headers == {
        "X-OpenStack-Compute-Server-Virt-State": "TERMINATED",
        "X-OpenStack-Compute-Server-Power-State": "SHUTDOWN",
    }


def test_select_finds_by_a_rendered_field_and_404s(mappings: MappingSet) -> None:
    by_hostname = route(mappings, "project_server")
    servers = [{"id": "a", "OS-EXT-SRV-ATTR:hostname": "web-1"}, {"id": "b", "OS-EXT-SRV-ATTR:hostname": "web-10"}]
    bodies = {"nova": {"servers": servers}}
    found = engine.render_response(by_hostname, mappings, bodies, "/x", CTX, {"hostname": "web-10"}).body
    assert found["id"] == "b"
    with pytest.raises(VNextError) as info:
        engine.render_response(by_hostname, mappings, bodies, "/x", CTX, {"hostname": "web"})
    assert info.value.status == 404


def test_filters_split_between_nova_and_proxy() -> None:
    virt = Filter("virt_state", ("virt_state",), "vm_state", (2, 83), (("ACTIVE", "active"),))
    tag = Filter("tag", ("tags",), match="contains")
    values = {"virt_state": ["ACTIVE"], "tag": ["gpu"]}
    to_nova, in_proxy = engine.split_filters([virt, tag], (2, 100), values)
    assert to_nova == [("vm_state", "active")]
    assert in_proxy == [tag]
    # Too old a microversion, two values, or no Nova value: the proxy filters.
    assert engine.split_filters([virt], (2, 60), values) == ([], [virt])
    assert engine.split_filters([virt], (2, 100), {"virt_state": ["ACTIVE", "PAUSED"]}) == ([], [virt])
    assert engine.split_filters([virt], (2, 100), {"virt_state": ["TERMINATED"]}) == ([], [virt])


def test_proxy_paging_and_bad_filter_values() -> None:
    items = [{"id": str(n)} for n in range(5)]
    assert engine.page_in_proxy(items, None, 2) == ([{"id": "0"}, {"id": "1"}], True)
    assert engine.page_in_proxy(items, "2", 2) == ([{"id": "3"}, {"id": "4"}], False)
    with pytest.raises(VNextError):
        engine.page_in_proxy(items, "nope", 2)
    since = Filter("since", ("launched_at",), match="after")
    with pytest.raises(VNextError) as info:
        engine.check_filter_values([since], {"since": ["yesterday"]})
    assert info.value.field == "since"
    assert engine.page_href("/s", [("limit", "2"), ("marker", "a")], "b") == "/s?limit=2&marker=b"


def test_json_home_lists_every_route(mappings: MappingSet) -> None:
    home = engine.render_response(route(mappings, "root"), mappings, {}, "/", CTX).body
    rels = {f"rel/{r.rel}" for r in mappings.routes if r.status != "not_applicable"}
    assert set(home["resources"]) == rels
    types = home["resources"]["rel/server_types"]
    assert types["href-template"] == "/server_types{?limit,marker,tag}"
    assert types["href-vars"] == {"limit": "param/limit", "marker": "param/marker", "tag": "param/tag"}
    assert home["resources"]["rel/server"]["hints"]["allow"] == ["GET", "HEAD", "PATCH"]


def test_renders_are_kept_but_never_shared_or_stale(mappings: MappingSet) -> None:
    spec = mappings.objects["server_type"]
    first = engine.render_object(spec, NOVA_FLAVOR, CTX)
    first["shares"] = {"projects": ["p"]}  # a caller adding to its copy
    again = engine.render_object(spec, NOVA_FLAVOR, CTX)
    assert "shares" not in again
    assert again == {k: v for k, v in first.items() if k != "shares"}
    changed = engine.render_object(spec, {**NOVA_FLAVOR, "ram": 2048}, CTX)
    assert changed["spec"]["memory_mb"] == 2048
    other = engine.render_object(spec, NOVA_FLAVOR, RenderContext(id_namespace=uuid.uuid4()))
    assert other["id"] != again["id"]


def test_a_listing_pairs_novas_ids_with_the_rendered_items(mappings: MappingSet) -> None:
    flavors = route(mappings, "server_types")
    (call,) = flavors.nova
    spec = mappings.objects["server_type"]
    body = {"flavors": [NOVA_FLAVOR, {**NOVA_FLAVOR, "id": 7, "name": "m1.other"}]}
    listing = engine.render_listing(spec, call.name, flavors.response.source, body, CTX)
    assert [nova_id for nova_id, _ in listing] == ["42", "7"]
    assert [item for _, item in listing] == [engine.render_object(spec, f, CTX) for f in body["flavors"]]
    assert engine.render_listing(spec, call.name, flavors.response.source, {"flavors": None}, CTX) == ()
    # Availability zones have no id in Nova: the listing says so.
    zones = route(mappings, "placements")
    body = {"availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}]}
    ((zone_id, zone),) = engine.render_listing(
        mappings.objects["placement"], zones.nova[0].name, zones.response.source, body, CTX
    )
    assert zone_id is None
    assert zone["name"] == "nova"


def test_a_listing_of_something_other_than_objects_is_502(mappings: MappingSet) -> None:
    flavors = route(mappings, "server_types")
    with pytest.raises(VNextError) as raised:
        engine.render_listing(
            mappings.objects["server_type"], flavors.nova[0].name, flavors.response.source, {"flavors": ["x"]}, CTX
        )
    assert raised.value.status == 502


def test_kept_renders_are_bounded_by_bytes(mappings: MappingSet) -> None:
    """A tenant controls its servers' metadata: 64 KB each costs its bytes
    in the kept renders, which stay within their budget whatever the count."""
    spec = dataclasses.replace(mappings.objects["server_type"], renders=KeptRenders(1_000_000))
    for n in range(100):
        big = {**NOVA_FLAVOR, "id": str(n), "description": "x" * 65_536}
        engine.render_object(spec, big, CTX)
    assert 0 < spec.renders.size <= 1_000_000
