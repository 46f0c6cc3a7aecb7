"""Facts about the caller, learnt from Nova itself (the proxy has no Keystone
role data with a static endpoint): asked only when a route needs them, and
cached briefly per token (by its hash; tokens are never kept in clear)."""

from __future__ import annotations

import hashlib

from cachetools import TTLCache

from vnext_proxy.calls import Send
from vnext_proxy.nova.operations import SERVERS

# Listing every project's servers is admin-only by policy; limit=0 makes the
# probe cheap whatever the cloud's size.
_ADMIN_PROBE = SERVERS(query=(("all_tenants", "1"), ("limit", "0")))


def token_digest(token: str) -> str:
    """What the proxy keeps of a token (cache keys, the store): enough to
    recognise it, never to use it."""
    return hashlib.sha256(token.encode()).hexdigest()


class CallerFacts:
    """``send`` is the request's own way to Nova (its token, request id and
    explain record); a 403 must come back as an answer, not an error."""

    def __init__(self, ttl: float = 300.0) -> None:
        self._admin: TTLCache[str, bool] = TTLCache(maxsize=10_000, ttl=ttl)
        self._user: TTLCache[str, str] = TTLCache(maxsize=10_000, ttl=ttl)

    def user_id(self, token: str) -> str | None:
        """The token's Nova user id, if it was learnt (``learn_user_id``)."""
        return self._user.get(token_digest(token))

    def learn_user_id(self, token: str, user_id: str) -> None:
        """Remember whose token this is, from an answer of Nova that names the
        caller (a keypair's detail names its owner, who is the caller). A
        token never changes hands, so what is learnt stays true."""
        self._user[token_digest(token)] = user_id

    async def is_admin(self, token: str, send: Send) -> bool:
        key = token_digest(token)
        known = self._admin.get(key)
        if known is None:
            answer = await send(_ADMIN_PROBE)
            known = self._admin[key] = answer.status == 200
        return known

    async def variables(self, names: set[str], token: str, send: Send) -> dict[str, str]:
        found: dict[str, str] = {}
        if "caller_all_tenants" in names and await self.is_admin(token, send):
            found["caller_all_tenants"] = "1"
        return found
