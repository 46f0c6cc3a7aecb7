"""devcloud's real Keystone 30: real tokens from password sign-ins, Nova
validating them with keystonemiddleware, service credentials, and the proxy
finding Nova through Keystone's catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from aiohttp.test_utils import TestClient
from users import revoke, service_credentials, sign_in

from vnext_proxy.config import KeystoneSettings, NovaSettings, Settings, TaskSettings
from vnext_proxy.devcloud.identities import PROJECT_A
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.selfcheck import run_checks
from vnext_proxy.web.app import create_app

MV = {"OpenStack-API-Version": "compute 2.100"}


@dataclass(frozen=True)
class Cloud:
    nova: str  # …/v2.1
    keystone: str  # …/v3


@pytest.fixture
def cloud(devcloud: str, keystone: str) -> Cloud:
    return Cloud(devcloud, keystone)


def nova_get(cloud: Cloud, path: str, token: str) -> requests.Response:
    return requests.get(cloud.nova + path, headers={**MV, "X-Auth-Token": token}, timeout=60)


async def proxy_for(  # type: ignore[no-untyped-def]
    aiohttp_client, cloud: Cloud, mappings: MappingSet, tmp_path: Path, service: bool = True
) -> TestClient:
    """The proxy with no static endpoint: only Keystone's catalog says where
    Nova is, read as the service user (or, without ``service``, with each
    caller's own token)."""
    settings = Settings(
        nova=NovaSettings(keystone=KeystoneSettings(auth_url=cloud.keystone)),
        store_url=f"sqlite:///{tmp_path}/tasks.sqlite3",
        tasks=TaskSettings(service_credentials=service_credentials() if service else None),
    )
    client: TestClient = await aiohttp_client(create_app(settings, mappings))
    return client


async def test_a_signed_in_member_reaches_nova_and_the_proxy_through_the_catalog(
    cloud: Cloud, aiohttp_client, mappings: MappingSet, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    token = sign_in(cloud.keystone, "alice", PROJECT_A)
    assert nova_get(cloud, "/servers", token).status_code == 200
    flavors = nova_get(cloud, "/flavors/detail", token)
    assert flavors.status_code == 200, flavors.text
    proxy = await proxy_for(aiohttp_client, cloud, mappings, tmp_path)
    answer = await proxy.get("/server_types?limit=1000", headers={"X-Auth-Token": token})
    assert answer.status == 200, await answer.text()
    types = (await answer.json())["server_types"]
    assert sorted((t["name"], t["spec"]["memory_mb"]) for t in types) == sorted(
        (f["name"], f["ram"]) for f in flavors.json()["flavors"]
    )


async def test_a_token_revoked_in_keystone_is_refused_by_nova_and_the_proxy(
    cloud: Cloud, aiohttp_client, mappings: MappingSet, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    token = sign_in(cloud.keystone, "alice", PROJECT_A)
    proxy = await proxy_for(aiohttp_client, cloud, mappings, tmp_path)
    before = await proxy.get("/server_types", headers={"X-Auth-Token": token})
    assert before.status == 200, await before.text()
    revoke(cloud.keystone, token)
    after = await proxy.get("/server_types", headers={"X-Auth-Token": token})
    assert after.status == 401, await after.text()
    assert nova_get(cloud, "/servers", token).status_code == 401


async def test_the_service_user_signs_in_and_may_read_every_project(cloud: Cloud, mappings: MappingSet) -> None:
    def settings(username: str) -> Settings:
        return Settings(
            nova=NovaSettings(keystone=KeystoneSettings(auth_url=cloud.keystone)),
            tasks=TaskSettings(service_credentials=service_credentials(user=username)),
        )

    findings = [str(finding) for finding in await run_checks(settings("vnext-service"), mappings)]
    assert f"ok: Nova's endpoint is {cloud.nova}" in findings, findings
    assert "ok: Keystone signs in the service user 'vnext-service'" in findings, findings
    assert "ok: 'vnext-service' may list every project's servers" in findings, findings
    # alice may sign in to "service" too, as a member only: Nova's policy refuses her.
    findings = [str(finding) for finding in await run_checks(settings("alice"), mappings)]
    assert "ok: Keystone signs in the service user 'alice'" in findings, findings
    assert any(f.startswith("PROBLEM: 'alice' may not list every project's servers (Nova: 403)") for f in findings)


async def test_the_token_tables_literal_tokens_are_refused(
    cloud: Cloud, aiohttp_client, mappings: MappingSet, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    proxy = await proxy_for(aiohttp_client, cloud, mappings, tmp_path)
    for literal in ("devcloud-member-a", "devcloud-admin"):
        assert nova_get(cloud, "/servers", literal).status_code == 401
        answer = await proxy.get("/server_types", headers={"X-Auth-Token": literal})
        assert answer.status == 401, await answer.text()


# Without service credentials the proxy reads the catalog with each caller's
# own token (vnext_proxy/nova/endpoint.py): a real Keystone gives an unscoped
# token exchange no catalog, and answers an unknown token with 404.


async def test_the_callers_own_token_finds_nova_in_the_catalog(
    cloud: Cloud, aiohttp_client, mappings: MappingSet, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    proxy = await proxy_for(aiohttp_client, cloud, mappings, tmp_path, service=False)
    answer = await proxy.get("/server_types", headers={"X-Auth-Token": sign_in(cloud.keystone, "alice", PROJECT_A)})
    assert answer.status == 200, await answer.text()


async def test_an_unknown_token_reading_the_catalog_is_refused(
    cloud: Cloud, aiohttp_client, mappings: MappingSet, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    proxy = await proxy_for(aiohttp_client, cloud, mappings, tmp_path, service=False)
    answer = await proxy.get("/server_types", headers={"X-Auth-Token": "devcloud-member-a"})
    assert answer.status == 401, await answer.text()
