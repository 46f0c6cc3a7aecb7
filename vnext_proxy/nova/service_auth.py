"""The task poller's own Keystone credentials (optional).

Used only to read server and action status for the poller, never to serve a
user's request. keystoneauth1 caches the token and renews it before it
expires; it is synchronous, so it runs in a thread.
"""

from __future__ import annotations

import asyncio

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from vnext_proxy.config import NovaSettings, ServiceCredentials


class ServiceAuth:
    def __init__(self, credentials: ServiceCredentials, nova: NovaSettings) -> None:
        auth_url = credentials.auth_url or (nova.keystone.auth_url if nova.keystone else None)
        if auth_url is None:
            raise ValueError("tasks.service_credentials needs an auth_url (or nova.keystone.auth_url)")
        plugin = v3.Password(
            auth_url=auth_url,
            username=credentials.username,
            password=credentials.password,
            project_name=credentials.project_name,
            user_domain_name=credentials.user_domain_name,
            project_domain_name=credentials.project_domain_name,
        )
        self._session = ks_session.Session(auth=plugin, timeout=nova.connect_timeout)

    async def token(self) -> str | None:
        """A valid token, or None when Keystone cannot give one right now."""
        try:
            token: str | None = await asyncio.to_thread(self._session.get_token)
        except ks_exceptions.ClientException:
            return None
        return token

    def invalidate(self) -> None:
        """Nova refused the token: sign in afresh next time."""
        self._session.invalidate()
