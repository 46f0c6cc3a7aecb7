"""Where Nova is: a static URL from config, or Keystone's service catalog."""

from __future__ import annotations

import asyncio

from cachetools import TTLCache
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.access.service_catalog import ServiceCatalogV3
from keystoneauth1.identity import v3

from vnext_proxy.config import KeystoneSettings, NovaSettings, ServiceCredentials
from vnext_proxy.errors import NovaUnavailable, VNextError


class EndpointResolver:
    """Finds Nova's base URL (ending in /v2.1) and caches what it finds."""

    def __init__(self, settings: NovaSettings, credentials: ServiceCredentials | None = None) -> None:
        self._settings = settings
        self._credentials = credentials
        # The catalog rarely changes; an hour keeps a moved endpoint from
        # sticking forever without asking Keystone on every request.
        self._cache: TTLCache[str, str] = TTLCache(maxsize=1, ttl=3600)
        self._lock = asyncio.Lock()

    async def endpoint(self, user_token: str | None = None) -> str:
        if self._settings.endpoint is not None:
            return self._settings.endpoint
        cached = self._cache.get("nova")
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._cache.get("nova")
            if cached is None:
                cached = await asyncio.to_thread(self._lookup, user_token)
                self._cache["nova"] = cached
            return cached

    def _lookup(self, user_token: str | None) -> str:
        keystone = self._settings.keystone
        assert keystone is not None  # config guarantees endpoint or keystone
        creds = self._credentials
        if creds is None:
            if not user_token:
                raise VNextError(401, "Authentication required: send an X-Auth-Token header")
            return self._lookup_with_token(keystone, user_token)
        auth = v3.Password(
            auth_url=creds.auth_url or keystone.auth_url,
            username=creds.username,
            password=creds.password,
            project_name=creds.project_name,
            user_domain_name=creds.user_domain_name,
            project_domain_name=creds.project_domain_name,
        )
        sess = ks_session.Session(auth=auth, timeout=self._settings.connect_timeout)
        try:
            url = sess.get_endpoint(
                service_type=keystone.service_type,
                interface=keystone.interface,
                region_name=keystone.region_name,
            )
        except ks_exceptions.Unauthorized as exc:
            raise VNextError(401, "Keystone refused the credentials used to read the catalog") from exc
        except ks_exceptions.ConnectFailure as exc:
            raise NovaUnavailable("Keystone is unreachable; cannot find Nova's endpoint") from exc
        except ks_exceptions.ClientException as exc:
            raise NovaUnavailable(f"cannot find Nova in the service catalog: {exc}") from exc
        if not url:
            raise NovaUnavailable("the service catalog has no compute endpoint for this interface and region")
        return _normalise(url)

    def _lookup_with_token(self, keystone: KeystoneSettings, user_token: str) -> str:
        """Without service credentials the caller's own token reads the
        catalog (GET /v3/auth/catalog: the token as it is, scoped as it is;
        re-authenticating with it would give an unscoped token, whose catalog
        is empty). It is never used for anything else."""
        base = keystone.auth_url.rstrip("/")
        url = base if base.endswith("/v3") else f"{base}/v3"
        sess = ks_session.Session(timeout=self._settings.connect_timeout)
        try:
            answer = sess.get(f"{url}/auth/catalog", headers={"X-Auth-Token": user_token}, raise_exc=False)
        except ks_exceptions.ConnectFailure as exc:
            raise NovaUnavailable("Keystone is unreachable; cannot find Nova's endpoint") from exc
        # Keystone answers 404 for a token it cannot read ("Could not recognize Fernet token").
        if answer.status_code in (401, 404):
            raise VNextError(401, "Keystone does not accept this token (expired, revoked or unknown)")
        if not answer.ok:
            raise NovaUnavailable(f"Keystone answered {answer.status_code} to a catalog read")
        catalog = ServiceCatalogV3(answer.json().get("catalog") or [])
        try:
            found = catalog.url_for(
                service_type=keystone.service_type, interface=keystone.interface, region_name=keystone.region_name
            )
        except ks_exceptions.EndpointNotFound:
            found = None
        if not found:
            raise NovaUnavailable("the service catalog has no compute endpoint for this interface and region")
        return _normalise(found)


def _normalise(url: str) -> str:
    """Catalog entries may carry the legacy /v2.1/{project_id} suffix."""
    url = url.rstrip("/")
    head, sep, _ = url.rpartition("/v2.1")
    return head + sep if sep else url
