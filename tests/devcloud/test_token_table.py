"""devcloud's fast mode (``--token-table``), which the benchmarks run: no
Keystone, a fixed token per user. It starts a devcloud of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from vnext_proxy.devcloud.identities import PROJECT_A, PROJECT_B
from vnext_proxy.devcloud.process import DevCloudProcess

pytestmark = pytest.mark.devcloud

ROOT = Path(__file__).resolve().parents[2]
MV = {"OpenStack-API-Version": "compute 2.100"}


@pytest.fixture(scope="module")
def fast() -> Iterator[str]:
    cloud = DevCloudProcess(port=0, log_path=ROOT / "var" / "test-devcloud-token-table.log", keystone=False)
    cloud.start()
    assert cloud.endpoint is not None
    assert cloud.keystone_url is None
    try:
        yield cloud.endpoint
    finally:
        cloud.stop()


def get(endpoint: str, path: str, headers: dict[str, str]) -> requests.Response:
    return requests.get(endpoint + path, headers={**MV, **headers}, timeout=60)


def test_a_tables_token_acts_as_its_user_and_nothing_else_does(fast: str) -> None:
    alice = get(fast, "/servers", {"X-Auth-Token": "devcloud-member-a"})
    assert alice.status_code == 200, alice.text
    # Nova's policy sees her roles: a member may not list every project's servers.
    assert get(fast, "/servers?all_tenants=1", {"X-Auth-Token": "devcloud-member-a"}).status_code == 403
    assert get(fast, "/servers?all_tenants=1", {"X-Auth-Token": "devcloud-admin"}).status_code == 200
    refused = get(fast, "/servers", {"X-Auth-Token": "devcloud-nobody"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == 401
    # Identity headers a caller sets are dropped, never believed.
    forged = {"X-Auth-Token": "devcloud-member-a", "X-Roles": "admin", "X-Project-Id": PROJECT_B}
    assert get(fast, "/servers?all_tenants=1", forged).status_code == 403
    assert get(fast, "/servers", {"X-Auth-Token": "nothing", "X-Roles": "admin"}).status_code == 401


def test_the_table_answers_whether_a_project_exists(fast: str) -> None:
    """Nova asks Keystone; in the fast mode the table answers (flavor access)."""
    admin = {"X-Auth-Token": "devcloud-admin"}
    known = get(fast, f"/os-quota-sets/{PROJECT_A}", admin)
    assert known.status_code == 200, known.text
    unknown = requests.put(
        f"{fast}/os-quota-sets/{'f' * 32}",
        json={"quota_set": {"instances": 5}},
        headers={**MV, **admin},
        timeout=60,
    )
    assert unknown.status_code == 400, unknown.text
