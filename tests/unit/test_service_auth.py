"""The poller's service credentials: a Keystone token, never a user's request."""

from __future__ import annotations

import pytest
import requests_mock

from vnext_proxy.config import NovaSettings, ServiceCredentials, parse_settings
from vnext_proxy.nova.service_auth import ServiceAuth
from vnext_proxy.yamlsource import InputError

KEYSTONE = "http://keystone.test/v3"
CREDS = ServiceCredentials(username="vnext", password="s3cret", project_name="service", auth_url=KEYSTONE)


def token_body() -> dict[str, object]:
    return {"token": {"expires_at": "2099-01-01T00:00:00.000000Z", "catalog": [], "methods": ["password"],
                      "user": {"id": "u", "name": "vnext", "domain": {"id": "default", "name": "Default"}},
                      "project": {"id": "p", "name": "service", "domain": {"id": "default", "name": "Default"}}}}  # fmt: skip


async def test_service_token_comes_from_keystone_once() -> None:
    auth = ServiceAuth(CREDS, NovaSettings(endpoint="http://nova.test/v2.1"))
    with requests_mock.Mocker() as mock:
        mock.post(
            f"{KEYSTONE}/auth/tokens", json=token_body(), headers={"X-Subject-Token": "svc-token"}, status_code=201
        )
        assert await auth.token() == "svc-token"
        assert await auth.token() == "svc-token"
        assert mock.call_count == 1  # cached until it nears expiry
        sent = mock.request_history[0].json()["auth"]["identity"]["password"]["user"]
        assert sent["name"] == "vnext"


async def test_keystone_refusing_gives_no_token() -> None:
    auth = ServiceAuth(CREDS, NovaSettings(endpoint="http://nova.test/v2.1"))
    with requests_mock.Mocker() as mock:
        mock.post(f"{KEYSTONE}/auth/tokens", status_code=401, json={"error": {"code": 401}})
        assert await auth.token() is None


def test_service_credentials_need_somewhere_to_authenticate() -> None:
    with pytest.raises(InputError) as info:
        parse_settings(
            "nova: {endpoint: http://x}\ntasks:\n  service_credentials: {username: a, password: b, project_name: c}\n",
            "c.yaml",
        )
    assert str(info.value) == (
        "c.yaml:3: tasks.service_credentials: needs an auth_url, as nova.endpoint is static (no nova.keystone)"
    )
