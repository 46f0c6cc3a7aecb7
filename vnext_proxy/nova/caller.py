"""Facts about the caller, learnt from Nova itself (the proxy has no Keystone
role data with a static endpoint): asked only when a route needs them, and
cached briefly per token (by its hash; tokens are never kept in clear)."""

from __future__ import annotations

import hashlib

from cachetools import TTLCache

from vnext_proxy.errors import from_nova
from vnext_proxy.mapping.engine import PlannedCall
from vnext_proxy.nova.client import NovaClient

# Listing every project's servers is admin-only by policy; limit=0 makes the
# probe cheap whatever the cloud's size.
_ADMIN_PROBE = PlannedCall("caller", "GET", "/servers/detail", (("all_tenants", "1"), ("limit", "0")))


class CallerFacts:
    def __init__(self, nova: NovaClient, ttl: float = 300.0) -> None:
        self._nova = nova
        self._admin: TTLCache[str, bool] = TTLCache(maxsize=10_000, ttl=ttl)

    async def is_admin(self, token: str, request_id: str | None = None) -> bool:
        key = hashlib.sha256(token.encode()).hexdigest()
        known = self._admin.get(key)
        if known is None:
            answer = await self._nova.send(_ADMIN_PROBE, token=token, request_id=request_id)
            if answer.status not in (200, 403):
                raise from_nova(answer.status, answer.body)
            known = self._admin[key] = answer.status == 200
        return known

    async def variables(self, names: set[str], token: str, request_id: str | None) -> dict[str, str]:
        found: dict[str, str] = {}
        if "caller_all_tenants" in names and await self.is_admin(token, request_id):
            found["caller_all_tenants"] = "1"
        return found
