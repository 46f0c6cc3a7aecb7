"""The comparison of a vNext object with the Nova object it is made from
(pure), and the median the coverage page shows from the latency histogram."""

from __future__ import annotations

import uuid

import pytest

from vnext_proxy.mapping.compare import compare_fields, describe_transform, unshown_nova_fields
from vnext_proxy.mapping.engine import render_object
from vnext_proxy.mapping.hooks import RenderContext
from vnext_proxy.mapping.model import FieldSpec, MappingSet
from vnext_proxy.web.metrics import Metrics, _median_ms

CTX = RenderContext(id_namespace=uuid.UUID("5f1d3b52-8c0e-4f4e-9a57-7d0f3c9e6a21"))
SERVER = {
    "id": "0e3d5b7c-1111-4222-8333-944455556666",
    "name": "web-1",
    "OS-EXT-STS:vm_state": "stopped",
    "OS-EXT-STS:power_state": 4,
    "OS-EXT-STS:task_state": None,
    "OS-EXT-AZ:availability_zone": "nova",
    "OS-EXT-SRV-ATTR:hostname": "web-1",
    "OS-SRV-USG:launched_at": "2026-11-30T10:00:00.000000",
    "tenant_id": "a",
    "user_id": "u",
    "key_name": None,
    "image": {"id": "155d900f-4e14-4e4c-a73d-069cbf4541e6"},
    "flavor": {"ram": 512, "disk": 1, "vcpus": 1, "swap": 0, "original_name": "m1.tiny"},
    "addresses": {},
    "metadata": {},
    "tags": [],
    "server_groups": [],
    "config_drive": "",
    "links": [{"rel": "self", "href": "http://nova.internal:8774/v2.1/servers/0e3d5b7c"}],
}


@pytest.fixture
def rows(mappings: MappingSet):  # type: ignore[no-untyped-def]
    return {r.field: r for r in compare_fields(mappings.objects["server"], SERVER, CTX)}


def test_each_field_is_shown_as_the_api_renders_it(mappings: MappingSet, rows) -> None:  # type: ignore[no-untyped-def]
    rendered = render_object(mappings.objects["server"], SERVER, CTX)
    for name, row in rows.items():
        value = rendered
        for part in name.split("."):
            value = value[part]
        assert row.value == value, name


def test_a_value_map_names_the_pair_that_applied(rows) -> None:  # type: ignore[no-untyped-def]
    virt = rows["virt_state"]
    assert virt.nova_fields == ("OS-EXT-STS:vm_state",)
    assert virt.nova_values == {"OS-EXT-STS:vm_state": "stopped"}
    assert virt.transform.startswith("value map: OS-EXT-STS:vm_state stopped → STOPPED (of active → ACTIVE, ")
    assert virt.transform.endswith("more)")
    assert rows["power_state"].transform.startswith("value map: OS-EXT-STS:power_state 4 → SHUTDOWN")


def test_ids_times_and_nested_fields_say_how_they_were_made(rows) -> None:  # type: ignore[no-untyped-def]
    assert "UUIDv5 of 'availability_zone:<Nova id>'" in rows["region_id"].transform
    assert rows["launched_at"].transform == "time: ISO 8601 in UTC with a Z, to the second"
    assert (rows["launched_at"].value, rows["launched_at"].nova_values) == (
        "2026-11-30T10:00:00Z",
        {"OS-SRV-USG:launched_at": "2026-11-30T10:00:00.000000"},
    )
    assert rows["spec.memory_mb"].nova_values == {"flavor.ram": 512}
    assert rows["spec.memory_mb"].transform == "as Nova shows it"
    assert rows["properties"].transform == "as Nova shows it; {} when Nova shows none"


def test_a_hooks_nova_fields_are_the_ones_it_read(mappings: MappingSet, rows) -> None:  # type: ignore[no-untyped-def]
    # No keypair: the hook looks no further than key_name.
    assert rows["launch_keypair_id"].nova_fields == ("key_name",)
    with_key = compare_fields(mappings.objects["server"], {**SERVER, "key_name": "k1"}, CTX)
    (keypair,) = [r for r in with_key if r.field == "launch_keypair_id"]
    assert set(keypair.nova_fields) == {"key_name", "user_id"}
    assert keypair.nova_values == {"key_name": "k1", "user_id": "u"}
    assert keypair.transform.startswith("hook server_keypair_id: launch_keypair_id: Nova knows a keypair")
    assert "addresses" in rows["networking"].nova_fields


def test_each_field_links_the_line_that_declares_it(rows) -> None:  # type: ignore[no-untyped-def]
    assert rows["virt_state"].declared_at is not None
    file, line = rows["virt_state"].declared_at.rsplit(":", 1)
    assert file == "mappings/servers.yaml"
    from importlib.resources import files

    text = (files("vnext_proxy") / "mappings" / "servers.yaml").read_text().splitlines()
    assert text[int(line) - 1].strip().startswith("virt_state:")


def test_novas_fields_no_vnext_field_comes_from_are_listed(rows) -> None:  # type: ignore[no-untyped-def]
    unshown = unshown_nova_fields(list(rows.values()), SERVER)
    assert unshown["name"] == "web-1"
    assert "config_drive" in unshown
    assert "OS-EXT-STS:vm_state" not in unshown
    assert "flavor" not in unshown
    assert "links" not in unshown  # they name Nova's own endpoint


def test_when_otherwise_and_constants_are_described() -> None:
    guarded = FieldSpec("host", source=("OS-EXT-SRV-ATTR:host",), when=("OS-EXT-SRV-ATTR:host",), otherwise=None)
    assert describe_transform(guarded, {}).startswith("only when Nova shows OS-EXT-SRV-ATTR:host, else None")
    assert describe_transform(FieldSpec("kind", const="SERVER"), {}) == "constant 'SERVER'"
    unmapped = FieldSpec("state", source=("s",), value_map=(("a", "A"),), default="UNKNOWN")
    assert describe_transform(unmapped, {"s": "b"}).startswith("value map: s b is not in the map, so UNKNOWN")


def test_the_median_is_read_from_the_histograms_buckets() -> None:
    assert _median_ms([]) is None
    assert _median_ms([(0.1, 0.0), (float("inf"), 0.0)]) is None
    # 10 requests: 4 under 5 ms, 6 more under 10 ms: the 5th is a sixth of the way into (5, 10].
    assert _median_ms([(0.005, 4.0), (0.01, 10.0), (float("inf"), 10.0)]) == pytest.approx(5.83, abs=0.01)
    metrics = Metrics()
    for seconds, status in ((0.002, 200), (0.003, 200), (0.004, 404), (0.2, 500)):
        metrics.request_done("/servers/{server_id}", "GET", status, seconds)
    figures = metrics.route_figures()[("/servers/{server_id}", "GET")]
    assert figures["requests"] == 4
    assert (figures["client_error_share"], figures["server_error_share"]) == (0.25, 0.25)
    assert 0 < figures["p50_ms"] <= 5
