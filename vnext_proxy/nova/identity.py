"""Who a token stands for, when Keystone is known: its user id.

The caller validates their own token (GET /v3/auth/tokens with the token as
both X-Auth-Token and X-Subject-Token, which Keystone's policy allows a
token's subject), so the proxy needs no credentials for it. With a static
Nova endpoint and no Keystone in the config, nothing is asked and the token
itself stands for its user.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from cachetools import TTLCache

from vnext_proxy.config import Settings
from vnext_proxy.nova.caller import token_digest


def keystone_url(settings: Settings) -> str | None:
    """Keystone's v3 URL, from nova.keystone or the service credentials."""
    if settings.nova.keystone is not None:
        return settings.nova.keystone.auth_url
    creds = settings.tasks.service_credentials
    return creds.auth_url if creds is not None else None


class TokenOwners:
    def __init__(self, auth_url: str | None, timeout: float, ttl: float = 300.0) -> None:
        self._url = auth_url.rstrip("/") + "/auth/tokens" if auth_url else None
        self._owners: TTLCache[str, str] = TTLCache(maxsize=10_000, ttl=ttl)
        self._session = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=timeout)
        )

    async def __aenter__(self) -> TokenOwners:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._session.close()

    async def user_id(self, token: str) -> str | None:
        """The token's user id, or None when Keystone is not known or says nothing."""
        if self._url is None:
            return None
        key = token_digest(token)
        known = self._owners.get(key)
        if known is not None:
            return known
        headers = {"X-Auth-Token": token, "X-Subject-Token": token, "Accept": "application/json"}
        try:
            async with self._session.get(self._url, headers=headers) as resp:
                body: Any = await resp.json(content_type=None) if resp.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        user = ((body or {}).get("token") or {}).get("user") or {} if isinstance(body, dict) else {}
        user_id = user.get("id") if isinstance(user, dict) else None
        if not isinstance(user_id, str) or not user_id:
            return None
        self._owners[key] = user_id
        return user_id
