"""Route execution against scripted Nova answers: each test lists, in order,
the Nova calls a vNext request must make and what Nova answers to each (as
openstacksdk's tests script their HTTP calls). A call out of script fails."""

from __future__ import annotations

from typing import Any

import pytest
from scripted_nova import ScriptedNova, Step, execute, services

from vnext_proxy.errors import VNextError
from vnext_proxy.mapping.engine import VNextResponse

PROJECT = "6f70656e737461636b20726f636b7321"
ADMIN_PROBE = ("GET", "/servers/detail", {"all_tenants": "1", "limit": "0"})


def server(number: int, vm_state: str = "active", launched: str = "2026-11-01T00:00:00Z") -> dict[str, Any]:
    return {
        "id": f"00000000-0000-4000-8000-{number:012d}",
        "tenant_id": PROJECT,
        "user_id": "u1",
        "OS-EXT-STS:vm_state": vm_state,
        "OS-EXT-STS:power_state": 1,
        "OS-SRV-USG:launched_at": launched,
        "flavor": {"ram": 512, "disk": 1, "vcpus": 1, "swap": 0},
    }


def servers_answer(numbers: range, **kwargs: Any) -> dict[str, Any]:
    return {"servers": [server(n, **kwargs) for n in numbers]}


def ids(answer: VNextResponse, key: str = "servers") -> list[str]:
    return [item["id"][-3:] for item in answer.body[key]]


# -- paging by Nova --------------------------------------------------------


async def test_an_unfiltered_page_asks_nova_for_exactly_the_limit_and_links_the_next() -> None:
    nova = ScriptedNova(
        [
            Step(*ADMIN_PROBE, status=403),
            Step("GET", "/servers/detail", {"limit": "2"}, 200, servers_answer(range(1, 3))),
        ]
    )
    answer = await execute("GET", "/servers?limit=2", nova)
    nova.finished()
    assert ids(answer) == ["001", "002"]
    assert answer.body["_links"]["next"]["href"] == "/servers?limit=2&marker=00000000-0000-4000-8000-000000000002"
    assert "X-VNext-Proxy-Filters" not in answer.headers


async def test_the_last_page_has_no_next_link() -> None:
    nova = ScriptedNova([
        Step(*ADMIN_PROBE, status=403),
        Step("GET", "/servers/detail", {"limit": "5", "marker": "m"}, 200, servers_answer(range(1, 3))),
    ])  # fmt: skip
    answer = await execute("GET", "/servers?limit=5&marker=m", nova)
    nova.finished()
    assert ids(answer) == ["001", "002"]
    assert "next" not in answer.body["_links"]


async def test_the_caller_facts_are_asked_once_per_token() -> None:
    given = services()
    listing = Step("GET", "/servers/detail", {"limit": "1"}, 200, servers_answer(range(1, 2)))
    first = ScriptedNova([Step(*ADMIN_PROBE, status=403), listing])
    await execute("GET", "/servers?limit=1", first, given)
    first.finished()
    second = ScriptedNova([listing])
    await execute("GET", "/servers?limit=1", second, given)
    second.finished()


async def test_an_admin_lists_every_project() -> None:
    nova = ScriptedNova([
        Step(*ADMIN_PROBE, status=200, answer={"servers": []}),
        Step("GET", "/servers/detail", {"all_tenants": "1", "limit": "20"}, 200, servers_answer(range(1, 2))),
    ])  # fmt: skip
    await execute("GET", "/servers", nova)
    nova.finished()


# -- filters: pushed down to Nova, or applied by the proxy -----------------


async def test_a_filter_nova_can_apply_is_pushed_down_in_its_nova_form() -> None:
    nova = ScriptedNova([
        Step(*ADMIN_PROBE, status=403),
        Step("GET", "/servers/detail", {"vm_state": "stopped", "limit": "20"}, 200, servers_answer(range(1, 2), vm_state="stopped")),
    ])  # fmt: skip
    answer = await execute("GET", "/servers?virt_state=STOPPED", nova)
    nova.finished()
    assert [s["virt_state"] for s in answer.body["servers"]] == ["STOPPED"]
    assert "X-VNext-Proxy-Filters" not in answer.headers


async def test_a_value_two_nova_states_share_is_filtered_by_the_proxy() -> None:
    """TERMINATED is both soft-delete and deleted: Nova cannot be asked for it."""
    answer_body = {"servers": [server(1, "soft-delete"), server(2, "active"), server(3, "deleted")]}
    nova = ScriptedNova(
        [Step(*ADMIN_PROBE, status=403), Step("GET", "/servers/detail", {"limit": "50"}, 200, answer_body)]
    )
    answer = await execute("GET", "/servers?virt_state=TERMINATED", nova)
    nova.finished()
    assert ids(answer) == ["001", "003"]
    assert answer.headers["X-VNext-Proxy-Filters"] == "virt_state"


async def test_since_is_applied_by_the_proxy_reading_ahead() -> None:
    body = {"servers": [server(1, launched="2026-01-01T00:00:00Z"), server(2, launched="2026-06-01T00:00:00Z")]}
    nova = ScriptedNova([Step(*ADMIN_PROBE, status=403), Step("GET", "/servers/detail", {"limit": "50"}, 200, body)])
    answer = await execute("GET", "/servers?limit=1&since=2026-03-01T00:00:00Z", nova)
    nova.finished()
    assert ids(answer) == ["002"]
    assert answer.headers["X-VNext-Proxy-Filters"] == "since"
    assert "next" not in answer.body["_links"]  # Nova ran out: nothing more


@pytest.mark.parametrize("since", ["2026-03-01T00:00:00", "yesterday", "2026-13-01T00:00:00Z"])
async def test_a_since_without_its_zone_or_not_a_time_is_refused_before_nova_is_asked(since: str) -> None:
    nova = ScriptedNova([])
    with pytest.raises(VNextError) as caught:
        await execute("GET", f"/servers?since={since}", nova)
    assert (caught.value.status, caught.value.field) == (400, "since")


# -- max_scan ----------------------------------------------------------------


async def test_a_filtered_scan_stops_at_max_scan_and_says_so() -> None:
    """Nothing matches: the proxy reads 500 servers (the route's max_scan) in
    pages of 50, then answers what it found, the marker where it stopped, and
    X-VNext-Scan-Capped."""
    steps = [Step(*ADMIN_PROBE, status=403)]
    marker = None
    for page in range(10):
        numbers = range(page * 50 + 1, page * 50 + 51)
        query = {"limit": "50"} | ({"marker": marker} if marker else {})
        steps.append(Step("GET", "/servers/detail", query, 200, servers_answer(numbers, vm_state="active")))
        marker = server(numbers[-1])["id"]
    nova = ScriptedNova(steps)
    answer = await execute("GET", "/servers?since=2030-01-01T00:00:00Z", nova)
    nova.finished()
    assert answer.body["servers"] == []
    assert answer.headers["X-VNext-Scan-Capped"] == "500"
    assert answer.body["_links"]["next"]["href"].endswith("marker=" + server(500)["id"])


async def test_a_scan_that_fills_the_page_is_not_capped() -> None:
    body = {"servers": [server(1, launched="2031-01-01T00:00:00Z"), server(2, launched="2031-01-01T00:00:00Z")]}
    nova = ScriptedNova([Step(*ADMIN_PROBE, status=403), Step("GET", "/servers/detail", {"limit": "50"}, 200, body)])
    answer = await execute("GET", "/servers?limit=1&since=2030-01-01T00:00:00Z", nova)
    nova.finished()
    assert ids(answer) == ["001"]
    assert "X-VNext-Scan-Capped" not in answer.headers
    assert answer.body["_links"]["next"]["href"].endswith("marker=" + server(1)["id"])


# -- projects ------------------------------------------------------------------

OWNERSHIP = (
    "GET",
    f"/os-simple-tenant-usage/{PROJECT}",
    {"start": "2000-01-01T00:00:00", "end": "2000-01-01T00:00:01"},
)


async def test_a_project_is_checked_once_per_token_then_kept() -> None:
    given = services()
    # The project is also checked on each item (Nova drops project_id for
    # members), so the proxy reads ahead.
    listing = ("GET", "/servers/detail", {"project_id": PROJECT, "limit": "50"})
    first = ScriptedNova([
        Step(*OWNERSHIP, answer={"tenant_usage": {}}),
        Step(*ADMIN_PROBE, status=403),
        Step(*listing, answer=servers_answer(range(1, 2))),
    ])  # fmt: skip
    await execute("GET", f"/projects/{PROJECT}/servers", first, given)
    first.finished()
    second = ScriptedNova([Step(*listing, answer=servers_answer(range(1, 2)))])
    answer = await execute("GET", f"/projects/{PROJECT}/servers", second, given)
    second.finished()
    assert ids(answer) == ["001"]
    # Another token is asked afresh.
    third = ScriptedNova([Step(*OWNERSHIP, status=403, answer={"forbidden": {"message": "no"}})])
    with pytest.raises(VNextError) as caught:
        await execute("GET", f"/projects/{PROJECT}/servers", third, given, token="other")
    assert caught.value.status == 404
    third.finished()


async def test_a_project_filter_naming_a_project_not_yours_is_a_400() -> None:
    nova = ScriptedNova([Step(*ADMIN_PROBE, status=403), Step(*OWNERSHIP, status=403, answer={"forbidden": {}})])
    with pytest.raises(VNextError) as caught:
        await execute("GET", f"/servers?project={PROJECT}", nova)
    assert (caught.value.status, caught.value.field) == (400, "project")
    nova.finished()


# -- owner probe ---------------------------------------------------------------


async def test_a_403_on_a_server_no_one_shows_you_is_a_404() -> None:
    server_id = server(7)["id"]
    nova = ScriptedNova([
        Step("GET", f"/servers/{server_id}/diagnostics", {}, 403, {"forbidden": {"message": "policy"}}),
        Step("GET", f"/servers/{server_id}", {}, 404, {"itemNotFound": {"message": "no"}}),
    ])  # fmt: skip
    with pytest.raises(VNextError) as caught:
        await execute("GET", f"/servers/{server_id}/diagnostics", nova)
    assert caught.value.status == 404
    nova.finished()


async def test_a_403_on_your_own_server_stays_a_403() -> None:
    server_id = server(7)["id"]
    nova = ScriptedNova([
        Step("GET", f"/servers/{server_id}/diagnostics", {}, 403, {"forbidden": {"message": "policy"}}),
        Step("GET", f"/servers/{server_id}", {}, 200, {"server": server(7)}),
    ])  # fmt: skip
    with pytest.raises(VNextError) as caught:
        await execute("GET", f"/servers/{server_id}/diagnostics", nova)
    assert caught.value.status == 403
    nova.finished()


# -- server types: ids resolved from a kept map ----------------------------------


async def test_a_server_type_id_is_resolved_from_the_kept_map_after_the_first_time() -> None:
    flavor = {
        "id": "42",
        "name": "m1.tiny",
        "ram": 512,
        "disk": 1,
        "vcpus": 1,
        "swap": 0,
        "os-flavor-access:is_public": True,
    }
    given = services()
    type_id = given.flavors.vnext_id(flavor)
    listing = Step("GET", "/flavors/detail", {"is_public": "None"}, 200, {"flavors": [flavor]})
    one = Step("GET", "/flavors/42", {}, 200, {"flavor": flavor})
    first = ScriptedNova([listing, one])
    answer = await execute("GET", f"/server_types/{type_id}", first, given)
    first.finished()
    assert (answer.body["id"], answer.body["spec"]["memory_mb"]) == (type_id, 512)
    second = ScriptedNova([Step("GET", "/flavors/42", {}, 200, {"flavor": flavor})])
    await execute("GET", f"/server_types/{type_id}", second, given)
    second.finished()


async def test_an_unknown_server_type_is_a_404_after_one_look() -> None:
    nova = ScriptedNova([Step("GET", "/flavors/detail", {"is_public": "None"}, 200, {"flavors": []})])
    with pytest.raises(VNextError) as caught:
        await execute("GET", "/server_types/00000000-0000-4000-8000-000000000042", nova)
    assert caught.value.status == 404
    nova.finished()
