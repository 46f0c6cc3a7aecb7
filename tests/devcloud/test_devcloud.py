"""devcloud behaves like a real cloud where the proxy depends on it."""

from __future__ import annotations

import aiohttp
import pytest

from vnext_proxy.devcloud.identities import PROJECT_A

IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"  # the first image of Nova's fake Glance
MV = {"OpenStack-API-Version": "compute 2.100"}


async def test_tokens_are_required_and_checked(devcloud: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(devcloud + "/flavors") as resp:
            assert resp.status == 401
        async with http.get(devcloud + "/flavors", headers={"X-Auth-Token": "forged"}) as resp:
            assert resp.status == 401
        # Identity headers from the caller are ignored, never trusted.
        forged = {"X-Auth-Token": "nope", "X-User-Id": "admin", "X-Roles": "admin", "X-Project-Id": PROJECT_A}
        async with http.get(devcloud + "/flavors", headers=forged) as resp:
            assert resp.status == 401
        async with http.get(devcloud + "/") as resp:  # version discovery is public, as in Nova
            assert resp.status == 200


def test_two_computes_for_moves(nova_as) -> None:  # type: ignore[no-untyped-def]
    admin = nova_as("admin")
    hosts = {s.host for s in admin.compute.services() if s.binary == "nova-compute"}
    assert hosts == {"compute", "compute2"}


def test_request_ids_policy_and_isolation(nova_as, forget_servers) -> None:  # type: ignore[no-untyped-def]
    member = nova_as("alice")
    server = member.compute.create_server(name="dc-honesty", image_id=IMAGE, flavor_id="1", networks="auto")
    try:
        server = member.compute.wait_for_server(server, interval=0.5, wait=120)
        # The fake Neutron gives addresses to PROJECT_A's servers.
        assert server.project_id == PROJECT_A
        assert server.addresses

        # An action's request_id is the x-openstack-request-id of its call.
        resp = member.compute.post(f"/servers/{server.id}/action", json={"lock": None}, headers=MV)
        assert resp.status_code == 202
        actions = {a.request_id: a.action for a in member.compute.server_actions(server)}
        assert actions[resp.headers["x-openstack-request-id"]] == "lock"
        member.compute.post(f"/servers/{server.id}/action", json={"unlock": None}, headers=MV)

        # Real policy defaults: readers read, migrations need admin or manager.
        reader = nova_as("rita")
        assert reader.compute.get(f"/servers/{server.id}", headers=MV).status_code == 200
        reboot = reader.compute.post(f"/servers/{server.id}/action", json={"reboot": {"type": "SOFT"}}, headers=MV)
        assert reboot.status_code == 403
        migrate = member.compute.post(f"/servers/{server.id}/action", json={"migrate": None}, headers=MV)
        assert migrate.status_code == 403

        # Another project sees nothing.
        other = nova_as("bob")
        assert other.compute.get(f"/servers/{server.id}", headers=MV).status_code == 404
    finally:
        forget_servers([server.id])


@pytest.mark.parametrize("action", [{"lock": None}, {"suspend": None}])
def test_sqlalchemy_warnings_do_not_break_actions(nova_as, forget_servers, action: dict[str, None]) -> None:  # type: ignore[no-untyped-def]
    """The fixtures' warnings-as-errors would turn these into 500s."""
    member = nova_as("alice")
    server = member.compute.create_server(name="dc-warn", image_id=IMAGE, flavor_id="1", networks="none")
    try:
        member.compute.wait_for_server(server, interval=0.5, wait=120)
        resp = member.compute.post(f"/servers/{server.id}/action", json=action, headers=MV)
        assert resp.status_code == 202, resp.text
    finally:
        member.compute.post(f"/servers/{server.id}/action", json={"unlock": None}, headers=MV)
        forget_servers([server.id])
