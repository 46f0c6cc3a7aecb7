"""A WSGI stand-in for keystonemiddleware's auth_token, in front of Nova.

It turns ``X-Auth-Token`` into the ``X-User-Id``/``X-Project-Id``/``X-Roles``
headers that auth_token sets, so Nova builds its request context the real way
(``RequestContext.from_environ``: request id, roles, policy-derived is_admin).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from vnext_proxy.devcloud.identities import ADMIN_PROJECT, IDENTITIES, PASSWORDS, TOKENS, Identity

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


KEYSTONE_PREFIX = "/identity/v3"
_UNAUTHENTICATED = "The request you have made requires authentication."

#: Tokens issued by sign-ins, until revoked (DELETE /identity/v3/auth/tokens,
#: as in Keystone): how tests make a token stop working while the proxy holds it.
_ISSUED: dict[str, Identity] = {}


def identity_of(token: str) -> Identity | None:
    return TOKENS.get(token) or _ISSUED.get(token)


def _keystone(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Just enough of Keystone v3 for keystoneauth1: password or token sign-in
    (POST /identity/v3/auth/tokens), answering with a devcloud token and a
    catalog whose compute endpoint is this devcloud."""

    def answer(status: str, body: dict[str, Any], token: str | None = None) -> Iterable[bytes]:
        data = json.dumps(body).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        if token:
            headers.append(("X-Subject-Token", token))
        start_response(status, headers)
        return [data]

    if environ.get("PATH_INFO") == f"{KEYSTONE_PREFIX}/auth/tokens" and environ.get("REQUEST_METHOD") == "DELETE":
        if identity_of(environ.get("HTTP_X_AUTH_TOKEN", "")) is None:
            return answer("401 Unauthorized", {"error": {"code": 401, "message": _UNAUTHENTICATED}})
        if _ISSUED.pop(environ.get("HTTP_X_SUBJECT_TOKEN", ""), None) is None:
            return answer("404 Not Found", {"error": {"code": 404, "message": "no such token"}})
        start_response("204 No Content", [])
        return []
    if environ.get("PATH_INFO") == f"{KEYSTONE_PREFIX}/auth/tokens" and environ.get("REQUEST_METHOD") == "GET":
        # Validate a token: its own subject may, as Keystone's policy allows.
        caller = environ.get("HTTP_X_AUTH_TOKEN", "")
        subject = environ.get("HTTP_X_SUBJECT_TOKEN", "")
        asker, found = identity_of(caller), identity_of(subject)
        if asker is None:
            return answer("401 Unauthorized", {"error": {"code": 401, "message": _UNAUTHENTICATED}})
        if found is None or (subject != caller and not asker.is_admin):
            return answer("404 Not Found", {"error": {"code": 404, "message": "no such token"}})
        return answer("200 OK", _token_body(found, ["token"], environ), token=subject)
    if environ.get("PATH_INFO") != f"{KEYSTONE_PREFIX}/auth/tokens" or environ.get("REQUEST_METHOD") != "POST":
        return answer("404 Not Found", {"error": {"code": 404, "message": "devcloud's Keystone has no such route"}})
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        identity = json.loads(environ["wsgi.input"].read(length))["auth"]["identity"]
    except (ValueError, KeyError, TypeError):
        return answer("400 Bad Request", {"error": {"code": 400, "message": "malformed auth request"}})
    found = None
    if "password" in identity.get("methods", []):
        user = identity.get("password", {}).get("user", {})
        if PASSWORDS.get(user.get("name", "")) == user.get("password"):
            found = next((i for i in IDENTITIES if i.user_name == user.get("name")), None)
    elif "token" in identity.get("methods", []):
        found = identity_of(identity.get("token", {}).get("id", ""))
    if found is None:
        return answer(
            "401 Unauthorized",
            {"error": {"code": 401, "message": _UNAUTHENTICATED}},
        )
    issued = f"{found.token}-{secrets.token_hex(8)}"
    _ISSUED[issued] = found
    return answer("201 Created", _token_body(found, identity["methods"], environ), token=issued)


def _token_body(found: Identity, methods: list[str], environ: dict[str, Any]) -> dict[str, Any]:
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    domain = {"id": "default", "name": "Default"}
    return {
        "token": {
            "methods": methods,
            "expires_at": "2099-01-01T00:00:00.000000Z",
            "user": {"id": found.user_id, "name": found.user_name, "domain": domain},
            "project": {"id": found.project_id, "name": found.project_name, "domain": domain},
            "roles": [{"id": r, "name": r} for r in found.roles],
            "catalog": [
                {"type": "compute", "name": "nova", "id": "nova", "endpoints": [
                    {"id": f"nova-{i}", "interface": i, "region": "RegionOne", "region_id": "RegionOne",
                     "url": f"http://{host}/v2.1"} for i in ("public", "internal", "admin")]},
                {"type": "identity", "name": "keystone", "id": "keystone", "endpoints": [
                    {"id": "ks", "interface": "public", "region": "RegionOne", "region_id": "RegionOne",
                     "url": f"http://{host}{KEYSTONE_PREFIX}"}]},
            ],
        }
    }  # fmt: skip


def token_auth(app: WSGIApp) -> WSGIApp:
    """Wrap ``app`` so that only requests with a known token reach it."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(KEYSTONE_PREFIX):
            return _keystone(environ, start_response)
        for header in _IDENTITY_HEADERS:
            environ.pop(header, None)
        identity = identity_of(environ.get("HTTP_X_AUTH_TOKEN", ""))
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
