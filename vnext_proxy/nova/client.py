"""The async Nova client: every HTTP call to Nova goes through ``NovaClient``."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import aiohttp
from yarl import URL

from vnext_proxy.calls import NovaAnswer, PlannedCall
from vnext_proxy.config import NovaSettings
from vnext_proxy.errors import NovaUnavailable, VNextError
from vnext_proxy.nova.endpoint import EndpointResolver

log = logging.getLogger(__name__)


class NovaClient:
    """Sends planned calls to Nova with the caller's token and a microversion.

    Owns its HTTP session (``async with NovaClient(...) as nova``): one pool
    of kept-alive connections to Nova, shared by every caller's requests.
    """

    def __init__(
        self,
        settings: NovaSettings,
        resolver: EndpointResolver,
        observe: Callable[[str, int], None] | None = None,
    ) -> None:
        self._settings = settings
        self._resolver = resolver
        #: Told (method, status) of every answer; status 0 when none came.
        self._observe = observe or (lambda method, status: None)
        self._session = aiohttp.ClientSession(
            # Every request carries its own caller's token, so nothing Nova
            # (or a balancer before it) sets as a cookie may reach another
            # caller: no cookie jar at all.
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"Accept": "application/json", "OpenStack-API-Version": f"compute {settings.microversion}"},
            timeout=aiohttp.ClientTimeout(total=settings.request_timeout, sock_connect=settings.connect_timeout),
        )

    async def __aenter__(self) -> NovaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._session.close()

    async def send(
        self,
        call: PlannedCall,
        *,
        token: str,
        request_id: str | None = None,
    ) -> NovaAnswer:
        base = await self._resolver.endpoint(token)
        # Accept and the configured microversion are the session's headers.
        headers = {"X-Auth-Token": token}
        if call.microversion is not None:
            headers["OpenStack-API-Version"] = f"compute {call.microversion}"
        if request_id is not None:
            # Nova records it as the global request id, so logs line up.
            headers["X-OpenStack-Request-ID"] = request_id
        data = None
        if call.method in ("POST", "PUT", "PATCH"):
            # Nova refuses a write without a JSON content type, body or not.
            headers["Content-Type"] = "application/json"
            data = json.dumps(call.body) if call.body is not None else None
        # A GET changes nothing, so one that met a dropped connection or a
        # timeout is tried once more; a write is never repeated.
        attempts = 2 if call.method == "GET" else 1
        for attempt in range(attempts):
            try:
                return await self._request(call.method, base + call.path, call.query, data, headers)
            except NovaUnavailable:
                if attempt + 1 == attempts:
                    raise
                log.info("retrying nova call %s %s once", call.method, call.path)
        raise AssertionError("unreachable")  # pragma: no cover

    async def versions(self) -> NovaAnswer:
        """Nova's version document (the unversioned root; no token needed)."""
        base = await self._resolver.endpoint(None)
        root = base.rsplit("/v2.1", 1)[0] + "/"
        return await self._request("GET", root, (), None, {})

    async def _request(
        self,
        method: str,
        url: str,
        query: tuple[tuple[str, str], ...],
        data: str | None,
        headers: dict[str, str],
    ) -> NovaAnswer:
        try:
            # encoded=True: the path goes as built, each value quoted once by
            # nova.operations or the mappings; nothing re-encodes or resolves it.
            target = URL(url, encoded=True)
            async with self._session.request(method, target, params=query or None, data=data, headers=headers) as resp:
                raw = await resp.read()
                self._observe(method, resp.status)
                if 200 <= resp.status < 300 and raw and resp.content_type != "application/json":
                    # Nova answers JSON or nothing; anything else is not Nova
                    # (a misrouted endpoint, a proxy's error page).
                    raise VNextError(502, f"the compute endpoint answered {resp.content_type}, not Nova's JSON")
                return NovaAnswer(resp.status, resp.headers.get("x-openstack-request-id"), raw, resp.content_type)
        except TimeoutError as exc:
            self._observe(method, 0)
            log.warning("nova call %s %s timed out", method, url)
            raise NovaUnavailable(f"Nova did not answer within {self._settings.request_timeout:g}s") from exc
        except aiohttp.ClientError as exc:
            self._observe(method, 0)
            log.warning("nova call %s %s failed: %s", method, url, exc.__class__.__name__)
            raise NovaUnavailable("Nova is unreachable") from exc
