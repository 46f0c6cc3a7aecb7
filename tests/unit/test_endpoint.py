"""Finding Nova in Keystone's service catalog (keystoneauth1), and caching it."""

from __future__ import annotations

import pytest
import requests_mock

from vnext_proxy.config import KeystoneSettings, NovaSettings, ServiceCredentials
from vnext_proxy.errors import VNextError
from vnext_proxy.nova.endpoint import EndpointResolver

KEYSTONE = "http://keystone.test/v3"


def token_with_catalog() -> dict[str, object]:
    endpoints = [
        {"interface": "public", "region": "RegionOne", "region_id": "RegionOne",
         "url": "https://nova.example.com/v2.1/6f70656e737461636b20342065766572", "id": "e1"},
        {"interface": "internal", "region": "RegionOne", "region_id": "RegionOne",
         "url": "http://nova.internal:8774/v2.1", "id": "e2"},
        {"interface": "public", "region": "RegionTwo", "region_id": "RegionTwo",
         "url": "https://nova.two.example.com/v2.1", "id": "e3"},
    ]  # fmt: skip
    return {"token": {"expires_at": "2099-01-01T00:00:00.000000Z", "methods": ["token"],
                      "catalog": [{"type": "compute", "name": "nova", "id": "c", "endpoints": endpoints}],
                      "user": {"id": "u", "name": "u", "domain": {"id": "default", "name": "Default"}},
                      "project": {"id": "p", "name": "p", "domain": {"id": "default", "name": "Default"}}}}  # fmt: skip


def settings(interface: str, region: str) -> NovaSettings:
    return NovaSettings(keystone=KeystoneSettings(auth_url=KEYSTONE, interface=interface, region_name=region))


def catalog_of(request, context):  # type: ignore[no-untyped-def]
    """GET /v3/auth/catalog: the catalog of the token sent, as it is scoped."""
    return {"catalog": token_with_catalog()["token"]["catalog"]}  # type: ignore[index]


async def test_catalog_lookup_by_interface_and_region_is_cached() -> None:
    with requests_mock.Mocker() as mock:
        mock.get(f"{KEYSTONE}/auth/catalog", json=catalog_of)
        public = EndpointResolver(settings("public", "RegionOne"))
        # The legacy /v2.1/{project_id} suffix is dropped: calls add their own paths.
        assert await public.endpoint("user-token") == "https://nova.example.com/v2.1"
        assert await public.endpoint("another-token") == "https://nova.example.com/v2.1"
        assert mock.call_count == 1  # cached
        # Read with the caller's token as it is: never exchanged for another (unscoped, catalog-less) one.
        assert mock.request_history[0].headers["X-Auth-Token"] == "user-token"
        assert (
            await EndpointResolver(settings("internal", "RegionOne")).endpoint("t") == "http://nova.internal:8774/v2.1"
        )
        assert (
            await EndpointResolver(settings("public", "RegionTwo")).endpoint("t") == "https://nova.two.example.com/v2.1"
        )


async def test_service_credentials_read_the_catalog_when_given() -> None:
    creds = ServiceCredentials(username="svc", password="pw", project_name="service")
    with requests_mock.Mocker() as mock:
        mock.post(
            f"{KEYSTONE}/auth/tokens", json=token_with_catalog(), headers={"X-Subject-Token": "t"}, status_code=201
        )
        resolver = EndpointResolver(settings("public", "RegionOne"), creds)
        assert await resolver.endpoint(None) == "https://nova.example.com/v2.1"
        assert mock.request_history[0].json()["auth"]["identity"]["password"]["user"]["name"] == "svc"


async def test_no_catalog_entry_is_503() -> None:
    with requests_mock.Mocker() as mock:
        mock.get(f"{KEYSTONE}/auth/catalog", json=catalog_of)
        with pytest.raises(VNextError) as info:
            await EndpointResolver(settings("admin", "RegionOne")).endpoint("t")
        assert info.value.status == 503
        assert "catalog" in info.value.message


@pytest.mark.parametrize("status", [401, 404])
async def test_a_token_keystone_does_not_accept_is_401(status: int) -> None:
    """Keystone answers 404 for a token it cannot read at all ("Could not recognize Fernet token")."""
    with requests_mock.Mocker() as mock:
        mock.get(f"{KEYSTONE}/auth/catalog", status_code=status, json={"error": {"code": status}})
        with pytest.raises(VNextError) as info:
            await EndpointResolver(settings("public", "RegionOne")).endpoint("bad")
        assert info.value.status == 401
