"""Server type writes against a scripted Nova: each test lists, in order, the
Nova calls a request must make (with the bodies that matter) and what Nova
answers, so a failure can be put exactly between the delete and the create
of a PATCH that makes a flavor again, and the restore that follows checked
call by call. A call out of script fails the test."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from scripted_nova import SETTINGS, ScriptedNova, Step, execute
from scripted_nova import services as scripted_services

from vnext_proxy.calls import NovaAnswer, PlannedCall
from vnext_proxy.errors import VNextError
from vnext_proxy.execution.context import Services
from vnext_proxy.execution.flavors import FlavorIds
from vnext_proxy.mapping.engine import VNextResponse

TYPE_ID = "7220d0e6-b5c6-451e-b611-27254acf2a77"
FLAVOR = f"/flavors/{TYPE_ID}"
PROJECT_B = "b2f9c4a1d7e34f0c9a8b6e5d4c3b2a10"
PROJECT_C = "c3000000000040008000000000000c03"

OLD = {
    "id": TYPE_ID, "name": "good.enough", "ram": 1024, "vcpus": 2, "disk": 8, "swap": 2048,
    "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": False, "os-flavor-access:is_public": False,
    "rxtx_factor": 1.0, "description": "A good enough server type",
    "extra_specs": {"vnext:tags": "gpu", "hw:numa_nodes": "1"}, "links": [],
}  # fmt: skip
#: What POST /flavors is sent to make OLD again.
OLD_BODY = {
    "id": TYPE_ID, "name": "good.enough", "ram": 1024, "vcpus": 2, "disk": 8, "swap": 2048,
    "OS-FLV-EXT-DATA:ephemeral": 0, "os-flavor-access:is_public": False, "rxtx_factor": 1.0,
    "description": "A good enough server type",
}  # fmt: skip
OLD_SPECS = {"vnext:tags": "gpu", "hw:numa_nodes": "1"}


def services() -> Services:
    flavors = FlavorIds(SETTINGS.id_namespace)
    flavors.learn([OLD])  # the id is known: no flavor list read first
    return scripted_services(flavors)


async def run(method: str, path: str, body: Any, nova: Any) -> VNextResponse:
    return await execute(method, path, nova, services(), body=body)


def reads(flavor: dict[str, Any] = OLD, access: tuple[str, ...] = (PROJECT_B,)) -> list[Step]:
    """What a PATCH reads first: the flavor whole."""
    steps = [
        Step("GET", FLAVOR, answer={"flavor": flavor}),
        Step("GET", f"{FLAVOR}/os-extra_specs", answer={"extra_specs": flavor["extra_specs"]}),
    ]
    if not flavor["os-flavor-access:is_public"]:
        answer = {"flavor_access": [{"flavor_id": TYPE_ID, "tenant_id": p} for p in access]}
        steps.append(Step("GET", f"{FLAVOR}/os-flavor-access", answer=answer))
    return steps


def made(body: dict[str, Any], specs: dict[str, str], projects: tuple[str, ...], fail_at: int = -1) -> list[Step]:
    """Making a flavor: create, extra specs, access; the call ``fail_at`` answers 500."""
    steps = [
        Step("POST", "/flavors", sent={"flavor": body}, answer={"flavor": body}),
        Step("POST", f"{FLAVOR}/os-extra_specs", sent={"extra_specs": specs}, answer={"extra_specs": specs}),
        *(Step("POST", f"{FLAVOR}/action", sent={"addTenantAccess": {"tenant": p}}, answer={}) for p in projects),
    ]
    if fail_at >= 0:
        steps[fail_at].status, steps[fail_at].answer = 500, {"computeFault": {"code": 500, "message": "boom"}}
        del steps[fail_at + 1 :]
    return steps


def restored() -> list[Step]:
    """The old flavor made again, after a failure past the delete."""
    return [Step("DELETE", FLAVOR, status=404, answer={}), *made(OLD_BODY, OLD_SPECS, (PROJECT_B,))]


NEW_SPEC = {"memory_mb": 2048, "root_disk_gb": 8, "cpu_units": 2}
NEW_BODY = {**OLD_BODY, "name": "better", "ram": 2048}


# -- PATCH of name, spec, visibility: the flavor made again ----------------


async def test_a_spec_patch_makes_the_flavor_again_under_its_id_with_its_specs_and_access() -> None:
    nova = ScriptedNova([
        *reads(),
        Step("DELETE", FLAVOR, status=202),
        *made(NEW_BODY, OLD_SPECS, (PROJECT_B,)),
    ])  # fmt: skip
    answer = await run("PATCH", f"/server_types/{TYPE_ID}", {"name": "better", "spec": NEW_SPEC}, nova)
    nova.finished()
    assert (answer.status, answer.body) == (204, None)


async def test_the_later_example_changes_everything_at_once() -> None:
    body = {
        "description": "now public", "name": "better", "visibility": "PUBLIC",
        "spec": {"memory_mb": 2048, "root_disk_gb": 20, "cpu_units": 4, "rxtx_factor": 2.0, "swap_mb": 0},
        "tags": ["gpu", "hpc"],
    }  # fmt: skip
    public = {**OLD_BODY, "name": "better", "ram": 2048, "disk": 20, "vcpus": 4, "rxtx_factor": 2.0, "swap": 0,
              "description": "now public", "os-flavor-access:is_public": True}  # fmt: skip
    # Public: no access list to put back (Nova refuses one on a public flavor).
    nova = ScriptedNova([
        *reads(), Step("DELETE", FLAVOR, status=202),
        *made(public, {"vnext:tags": "gpu,hpc", "hw:numa_nodes": "1"}, ()),
    ])  # fmt: skip
    answer = await run("PATCH", f"/server_types/{TYPE_ID}", body, nova)
    nova.finished()
    assert answer.status == 204


async def test_public_to_private_takes_the_shares_given() -> None:
    flavor = {**OLD, "os-flavor-access:is_public": True, "extra_specs": {}}
    private = {**OLD_BODY, "os-flavor-access:is_public": False}
    nova = ScriptedNova([
        *reads(flavor), Step("DELETE", FLAVOR, status=202),
        Step("POST", "/flavors", sent={"flavor": private}, answer={"flavor": private}),
        Step("POST", f"{FLAVOR}/action", sent={"addTenantAccess": {"tenant": PROJECT_C}}, answer={}),
    ])  # fmt: skip
    body = {"visibility": "PRIVATE", "share": {"project_id": [PROJECT_C]}}
    assert (await run("PATCH", f"/server_types/{TYPE_ID}", body, nova)).status == 204
    nova.finished()


@pytest.mark.parametrize("fail_at", [0, 1, 2], ids=["create", "extra specs", "access"])
async def test_a_failure_after_the_delete_makes_the_old_flavor_again(fail_at: int) -> None:
    nova = ScriptedNova([
        *reads(),
        Step("DELETE", FLAVOR, status=202),
        *made(NEW_BODY, OLD_SPECS, (PROJECT_B,), fail_at=fail_at),
        *restored(),
    ])  # fmt: skip
    with pytest.raises(VNextError) as refused:
        await run("PATCH", f"/server_types/{TYPE_ID}", {"name": "better", "spec": NEW_SPEC}, nova)
    nova.finished()
    assert refused.value.status == 502
    assert "boom" in refused.value.message


async def test_a_name_nova_refuses_is_its_answer_once_the_old_flavor_is_back() -> None:
    taken = {"conflictingRequest": {"code": 409, "message": "Flavor with name m1.tiny already exists."}}
    nova = ScriptedNova([
        *reads(), Step("DELETE", FLAVOR, status=202),
        Step("POST", "/flavors", sent={"flavor": {**OLD_BODY, "name": "m1.tiny"}}, status=409, answer=taken),
        *restored(),
    ])  # fmt: skip
    with pytest.raises(VNextError) as refused:
        await run("PATCH", f"/server_types/{TYPE_ID}", {"name": "m1.tiny"}, nova)
    nova.finished()
    assert (refused.value.status, refused.value.message) == (409, "Flavor with name m1.tiny already exists.")


async def test_a_restore_that_fails_too_says_so() -> None:
    nova = ScriptedNova([
        *reads(), Step("DELETE", FLAVOR, status=202),
        *made(NEW_BODY, OLD_SPECS, (), fail_at=0),
        Step("DELETE", FLAVOR, status=404, answer={}),
        *made(OLD_BODY, OLD_SPECS, (), fail_at=0),
    ])  # fmt: skip
    with pytest.raises(VNextError) as refused:
        await run("PATCH", f"/server_types/{TYPE_ID}", {"name": "better", "spec": NEW_SPEC}, nova)
    nova.finished()
    assert refused.value.status == 502
    assert "so did restoring it" in refused.value.message
    assert TYPE_ID in refused.value.message


async def test_a_member_is_refused_at_the_delete_with_nothing_changed() -> None:
    """Nova checks flavor-manage policy before anything else on DELETE, so the
    first change is refused and nothing more is asked."""
    public = {**OLD, "os-flavor-access:is_public": True}
    forbidden = {"forbidden": {"code": 403, "message": "Policy doesn't allow os_compute_api:os-flavor-manage:delete"}}
    nova = ScriptedNova([*reads(public), Step("DELETE", FLAVOR, status=403, answer=forbidden)])
    with pytest.raises(VNextError) as refused:
        await run("PATCH", f"/server_types/{TYPE_ID}", {"visibility": "PRIVATE"}, nova)
    nova.finished()
    assert refused.value.status == 403


async def test_a_caller_hanging_up_does_not_stop_a_replacement_half_way() -> None:
    deleted, gate, done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    nova = ScriptedNova([*reads(), Step("DELETE", FLAVOR, status=202), *made(NEW_BODY, OLD_SPECS, (PROJECT_B,))])

    async def slow(call: PlannedCall) -> NovaAnswer:
        if call.method == "POST" and call.path == "/flavors":
            deleted.set()
            await gate.wait()
        answer = await nova(call)
        if not nova.steps:
            done.set()
        return answer

    patch = asyncio.ensure_future(run("PATCH", f"/server_types/{TYPE_ID}", {"name": "better", "spec": NEW_SPEC}, slow))
    await asyncio.wait_for(deleted.wait(), 5)
    patch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await patch
    gate.set()
    await asyncio.wait_for(done.wait(), 5)
    nova.finished()


# -- PATCH in place, and what is refused before any change -----------------


async def test_the_same_name_spec_and_visibility_change_nothing_but_what_differs() -> None:
    same = {"name": "good.enough", "visibility": "PRIVATE", "spec": {"memory_mb": 1024, "root_disk_gb": 8, "cpu_units": 2},
            "description": "changed", "id": TYPE_ID, "_links": {"self": {"href": f"/server_types/{TYPE_ID}"}}}  # fmt: skip
    nova = ScriptedNova([
        *reads(),
        Step("PUT", FLAVOR, sent={"flavor": {"description": "changed"}}, answer={"flavor": OLD}),
    ])  # fmt: skip
    assert (await run("PATCH", f"/server_types/{TYPE_ID}", same, nova)).status == 204
    nova.finished()


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"visibility": "PUBLIC", "shares": {"projects": [PROJECT_B]}}, 400, "shares"),
        ({"id": "00000000-0000-4000-8000-000000000001"}, 400, "id"),
    ],
)
async def test_refused_after_reading_before_any_change(body: dict[str, Any], status: int, field: str) -> None:
    nova = ScriptedNova(reads())
    with pytest.raises(VNextError) as refused:
        await run("PATCH", f"/server_types/{TYPE_ID}", body, nova)
    nova.finished()
    assert (refused.value.status, refused.value.field) == (status, field)


# -- bodies: both revisions' keys, and no other ----------------------------

NEW_TYPE = {"name": "good.enough", "spec": {"memory_mb": 1024, "root_disk_gb": 8, "cpu_units": 2}}


@pytest.mark.parametrize(
    ("method", "body", "status", "field"),
    [
        ("POST", {**NEW_TYPE, "colour": "red"}, 400, "colour"),
        ("POST", {**NEW_TYPE, "id": TYPE_ID}, 400, "id"),
        ("POST", {**NEW_TYPE, "properties": {}}, 400, "properties"),
        ("POST", {**NEW_TYPE, "spec": {**NEW_TYPE["spec"], "ephemeral_gb": 1}}, 400, "spec.ephemeral_gb"),
        ("POST", {**NEW_TYPE, "spec": {**NEW_TYPE["spec"], "memory_mb": 0}}, 400, "spec.memory_mb"),
        ("POST", {"name": "no.spec"}, 400, "spec"),
        ("POST", {**NEW_TYPE, "share": {"user_id": ["u1"], "project_id": []}}, 501, "share.user_id"),
        ("POST", {**NEW_TYPE, "shares": {"users": ["u1"]}}, 501, "shares.users"),
        ("POST", {**NEW_TYPE, "share": {"group_id": []}}, 400, "share.group_id"),
        ("POST", {**NEW_TYPE, "share": {"project_id": [PROJECT_B]}, "shares": {"projects": [PROJECT_C]}}, 400, "share"),
        ("POST", {**NEW_TYPE, "visibility": "PUBLIC", "share": {"project_id": [PROJECT_B]}}, 400, "shares"),
        ("POST", {**NEW_TYPE, "name": " padded"}, 400, "name"),
        ("PATCH", {"colour": "red"}, 400, "colour"),
        ("PATCH", {"share": {"user_id": ["u1"]}}, 501, "share.user_id"),
        ("PATCH", {"spec": {"memory_mb": 1}}, 400, "spec.root_disk_gb"),
    ],
)
async def test_a_body_is_refused_before_nova_is_asked(
    method: str, body: dict[str, Any], status: int, field: str
) -> None:
    path = "/server_types" if method == "POST" else f"/server_types/{TYPE_ID}"
    with pytest.raises(VNextError) as refused:
        await run(method, path, body, ScriptedNova([]))
    assert (refused.value.status, refused.value.field) == (status, field)
    assert field in refused.value.message


@pytest.mark.parametrize(
    "share",
    [
        {"share": {"user_id": [], "project_id": [PROJECT_B]}},
        {"share": {"project_id": [PROJECT_B]}, "shares": {"users": [], "projects": [PROJECT_B]}},
    ],
    ids=["seed", "both, agreeing"],
)
async def test_the_seeds_share_is_flavor_access(share: dict[str, Any]) -> None:
    created: dict[str, Any] = {}

    async def nova(call: PlannedCall) -> NovaAnswer:
        # The new flavor's id is the proxy's choice: learn it from the create.
        if call.path == "/flavors":
            created.update(call.body["flavor"])
            assert created["os-flavor-access:is_public"] is False
            return NovaAnswer(200, None, orjson.dumps({"flavor": created}))
        flavor = f"/flavors/{created['id']}"
        expected = {
            ("POST", f"{flavor}/action"): ({"addTenantAccess": {"tenant": PROJECT_B}}, {}),
            ("GET", flavor): (None, {"flavor": {**created, "extra_specs": {}}}),
            ("GET", f"{flavor}/os-flavor-access"): (None, {"flavor_access": [{"tenant_id": PROJECT_B}]}),
        }
        wanted_body, answer = expected[(call.method, call.path)]
        assert call.body == wanted_body
        seen.append((call.method, call.path))
        return NovaAnswer(200, None, orjson.dumps(answer))

    seen: list[tuple[str, str]] = []
    answer = await run("POST", "/server_types", {**NEW_TYPE, "_links": {}, **share}, nova)
    assert [m for m, _ in seen] == ["POST", "GET", "GET"]
    assert answer.status == 201
    type_id = created["id"]
    assert answer.body["shares"] == {"users": [], "projects": [PROJECT_B]}
    assert answer.body["_links"] == {
        "self": {"href": f"/server_types/{type_id}"},
        "describedby": {"href": "/schemas/server_type"},
        "tags": {"href": f"/server_types/{type_id}/tags"},
        "shares": {"href": f"/server_types/{type_id}/shares"},
    }
