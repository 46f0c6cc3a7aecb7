"""devcloud's fast mode (``--token-table``): a WSGI stand-in for
keystonemiddleware's auth_token in front of Nova, with a fixed token table
instead of a Keystone.

It turns ``X-Auth-Token`` into the ``X-User-Id``/``X-Project-Id``/``X-Roles``
headers that auth_token sets, so Nova builds its request context the real way
(``RequestContext.from_environ``: request id, roles, policy-derived is_admin).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from vnext_proxy.devcloud.identities import ADMIN_PROJECT, TOKENS

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Headers a caller must never be able to set for itself.
_IDENTITY_HEADERS = (
    "HTTP_X_USER_ID",
    "HTTP_X_USER",
    "HTTP_X_USER_NAME",
    "HTTP_X_PROJECT_ID",
    "HTTP_X_PROJECT_NAME",
    "HTTP_X_TENANT_ID",
    "HTTP_X_TENANT",
    "HTTP_X_ROLES",
    "HTTP_X_ROLE",
    "HTTP_X_SERVICE_ROLES",
    "HTTP_X_IS_ADMIN_PROJECT",
    "HTTP_X_IDENTITY_STATUS",
    "HTTP_X_AUTH_USER",
    "HTTP_X_AUTH_PROJECT_ID",
)

# Version discovery is unauthenticated in real Nova too.
_PUBLIC_PATHS = frozenset({"", "/", "/v2.1", "/v2.1/"})


_UNAUTHENTICATED = "The request you have made requires authentication."


def token_auth(app: WSGIApp) -> WSGIApp:
    """Wrap ``app`` so that only requests with a known token reach it."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        for header in _IDENTITY_HEADERS:
            environ.pop(header, None)
        identity = TOKENS.get(environ.get("HTTP_X_AUTH_TOKEN", ""))
        if identity is None:
            if environ.get("PATH_INFO", "") in _PUBLIC_PATHS:
                return app(environ, start_response)
            body = json.dumps({"error": {"code": 401, "message": _UNAUTHENTICATED}}).encode()
            start_response(
                "401 Unauthorized",
                [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(body))),
                    ("WWW-Authenticate", 'Keystone uri="http://127.0.0.1/identity"'),
                ],
            )
            return [body]
        environ.update(
            {
                "HTTP_X_IDENTITY_STATUS": "Confirmed",
                "HTTP_X_USER_ID": identity.user_id,
                "HTTP_X_USER_NAME": identity.user_name,
                "HTTP_X_PROJECT_ID": identity.project_id,
                "HTTP_X_PROJECT_NAME": identity.project_name,
                "HTTP_X_ROLES": ",".join(identity.roles),
                "HTTP_X_IS_ADMIN_PROJECT": str(identity.project_id == ADMIN_PROJECT).lower(),
            }
        )
        return app(environ, start_response)

    return middleware
