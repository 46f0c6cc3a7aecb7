"""One endpoint for both APIs: with nova.passthrough, openstacksdk speaks
Nova's own API to the proxy (a real listening one, in front of devcloud),
and the vNext routes of the same proxy see what it made."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fuzz import serving
from users import auth, identity, token

from vnext_proxy.config import DEFAULT_ID_NAMESPACE, NovaSettings, Settings
from vnext_proxy.mapping.ids import keypair_id
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.app import create_app

IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
ALICE = "alice"
MV = {"OpenStack-API-Version": "compute 2.100"}
LIMIT = 16 * 1024


@pytest.fixture(scope="module")
def proxy_url(devcloud: str, mappings: MappingSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The proxy with nova.passthrough, listening on a port of its own."""
    store = tmp_path_factory.mktemp("passthrough") / "tasks.sqlite3"
    settings = Settings(
        nova=NovaSettings(endpoint=devcloud, passthrough=True), store_url=f"sqlite:///{store}", max_body_bytes=LIMIT
    )
    with serving() as thread:
        yield thread.serve(create_app(settings, mappings))


def public_key(comment: str) -> str:
    key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    return f"{key.decode()} {comment}"


def sdk_via(proxy_url: str, user: str = ALICE):  # type: ignore[no-untyped-def]
    """openstacksdk with the proxy as its compute endpoint, as a client author would set it."""
    import openstack
    from keystoneauth1 import session, token_endpoint

    endpoint = f"{proxy_url}/v2.1"
    sess = session.Session(auth=token_endpoint.Token(endpoint, token(user)))
    return openstack.connection.Connection(
        session=sess, compute_endpoint_override=endpoint, compute_api_version="2.100"
    )


def passthrough_counts(proxy_url: str) -> dict[tuple[str, str], float]:
    """The proxy's own count of passthrough requests, by (method, status)."""
    text = requests.get(f"{proxy_url}/metrics", timeout=10).text
    pattern = r'vnext_requests_total\{method="(\w+)",route="/v2\.1/\{tail\}",status="(\d+)"\} ([0-9.]+)'
    return {(m, s): float(n) for m, s, n in re.findall(pattern, text)}


def test_openstacksdk_through_the_proxy_and_vnext_sees_the_result(  # type: ignore[no-untyped-def]
    proxy_url: str, nova_as, forget_servers
) -> None:
    sdk, nova = sdk_via(proxy_url), nova_as(ALICE)
    before = passthrough_counts(proxy_url)
    assert [f.name for f in sdk.compute.flavors()] == [f.name for f in nova.compute.flavors()]
    assert {s.id for s in sdk.compute.servers()} == {s.id for s in nova.compute.servers()}

    name = f"pt-{uuid.uuid4().hex[:8]}"
    server_id = None
    try:
        made = sdk.compute.create_keypair(name=name, public_key=public_key(name))
        assert nova.compute.get_keypair(name).fingerprint == made.fingerprint

        server = sdk.compute.create_server(name=name, image_id=IMAGE, flavor_id="1", networks="none", key_name=name)
        server_id = server.id
        sdk.compute.wait_for_server(server, interval=0.5, wait=120)
        in_nova = nova.compute.get_server(server_id)
        assert (in_nova.name, in_nova.key_name, in_nova.status) == (name, name, "ACTIVE")
        assert server_id in {s.id for s in sdk.compute.servers()}

        # Every call above went through the proxy (none took a link to Nova).
        after = passthrough_counts(proxy_url)
        grown = {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)}
        # The keypair (201) and the server (202); flavors, servers, the
        # server's status until ACTIVE, servers again: 4 GETs at least.
        assert {key: n for key, n in grown.items() if key[0] != "GET"} == {("POST", "201"): 1, ("POST", "202"): 1}
        assert grown[("GET", "200")] >= 4

        # The vNext side of the same proxy: the keypair, by the id the
        # server shows it was launched with.
        vnext_key = keypair_id(DEFAULT_ID_NAMESPACE, identity(ALICE).user_id, name)
        listed = requests.get(f"{proxy_url}/keypairs", headers=auth(ALICE), timeout=30).json()
        (mine,) = (k for k in listed["keypairs"] if k["name"] == name)
        assert (mine["id"], mine["fingerprint"]) == (vnext_key, made.fingerprint)
        view = requests.get(f"{proxy_url}/servers/{server_id}", headers=auth(ALICE), timeout=30).json()
        assert view["launch_keypair_id"] == vnext_key

        sdk.compute.delete_keypair(name)
        assert nova.compute.find_keypair(name) is None
    finally:
        if server_id is not None:
            forget_servers([server_id])
        nova.compute.delete_keypair(name, ignore_missing=True)


def test_novas_links_name_nova_and_are_passed_unchanged(proxy_url: str, devcloud: str) -> None:
    """Documented: the proxy rewrites nothing, so Nova's links name Nova
    (openstacksdk follows a next link there: see the README)."""
    via = requests.get(f"{proxy_url}/v2.1/flavors?limit=1", headers=auth(ALICE), timeout=30)
    direct = requests.get(f"{devcloud}/flavors?limit=1", headers=auth(ALICE), timeout=30)
    assert via.status_code == 200
    assert via.content == direct.content
    assert via.json()["flavors_links"][0]["href"].startswith(f"{devcloud}/flavors?")


def test_the_version_documents(proxy_url: str, devcloud: str) -> None:
    nova_root = devcloud.removesuffix("/v2.1")
    root = requests.get(f"{nova_root}/", timeout=30).json()
    assert requests.get(f"{proxy_url}/compute/", timeout=30).json() == root
    assert [v["id"] for v in root["versions"]] == ["v2.0", "v2.1"]
    version = requests.get(f"{devcloud}/", timeout=30).json()
    for path in ("/v2.1", "/v2.1/"):
        resp = requests.get(f"{proxy_url}{path}", timeout=30)
        assert resp.json() == version
        assert resp.json()["version"]["version"] == "2.104"
    # / stays vNext's JSON-Home.
    home = requests.get(f"{proxy_url}/", timeout=30)
    assert home.headers["Content-Type"].startswith("application/json-home")


def test_the_request_id_is_kept_and_novas_returned(proxy_url: str) -> None:
    mine = f"req-{uuid.uuid4()}"
    resp = requests.get(
        f"{proxy_url}/v2.1/servers", headers={**auth(ALICE), "X-OpenStack-Request-ID": mine, **MV}, timeout=30
    )
    assert resp.status_code == 200
    assert resp.headers["X-OpenStack-Request-ID"] == mine
    novas = resp.headers["x-compute-request-id"]
    assert novas.startswith("req-")
    assert novas != mine
    assert resp.headers["X-VNext-Backend-Request-Ids"] == novas
    assert resp.headers["OpenStack-API-Version"] == "compute 2.100"


def test_no_token_is_novas_own_401(proxy_url: str, devcloud: str) -> None:
    """Nova's answer, not the proxy's: the passthrough adds no check of its own."""
    via = requests.get(f"{proxy_url}/v2.1/servers", timeout=30)
    direct = requests.get(f"{devcloud}/servers", timeout=30)
    assert via.status_code == 401
    assert via.content == direct.content
    assert via.headers["WWW-Authenticate"] == direct.headers["WWW-Authenticate"]


def keypair_body(name: str, size: int) -> bytes:
    """A keypair create whose body is ``size`` bytes (the key's comment pads it)."""
    body: dict[str, Any] = {"keypair": {"name": name, "public_key": public_key("")}}
    short = len(json.dumps(body).encode())
    body["keypair"]["public_key"] += "x" * (size - short)
    raw = json.dumps(body).encode()
    assert len(raw) == size
    return raw


def test_a_body_over_max_body_bytes_is_413_and_nova_unchanged(proxy_url: str, nova_as) -> None:  # type: ignore[no-untyped-def]
    name = f"pt-big-{uuid.uuid4().hex[:8]}"
    headers = {**auth(ALICE), "Content-Type": "application/json", **MV}
    raw = keypair_body(name, LIMIT + 1)
    resp = requests.post(f"{proxy_url}/v2.1/os-keypairs", data=raw, headers=headers, timeout=30)
    assert resp.status_code == 413
    assert resp.json()["error"]["message"] == f"The request body is {LIMIT + 1} bytes; at most {LIMIT} are accepted"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for start in range(0, len(raw), 4096):
            yield raw[start : start + 4096]

    resp = requests.post(f"{proxy_url}/v2.1/os-keypairs", data=chunks(), headers=headers, timeout=30)
    assert resp.status_code == 413
    assert nova_as(ALICE).compute.find_keypair(name) is None


async def test_passthrough_off_is_the_vnext_404(proxy: TestClient) -> None:
    """The conftest's proxy has no passthrough: Nova's paths are no route."""
    for path in ("/v2.1/servers", "/v2.1/", "/compute/"):
        resp = await proxy.get(path, headers=auth(ALICE))
        assert resp.status == 404
        error = (await resp.json())["error"]
        assert error["message"] == "No such route in the vNext API; GET / lists them all"
        assert "X-VNext-Backend-Request-Ids" not in resp.headers
