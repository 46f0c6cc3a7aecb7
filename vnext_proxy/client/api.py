"""The HTTP calls to the proxy, through a keystoneauth1 session (which adds
the token, signs in again when it expires, and logs with tokens masked)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session

#: Ids in vNext are UUIDs; anything else the CLI is given is a name to look up.
UUID_LENGTH = 36


class ClientError(Exception):
    """A problem the CLI reports on one line and exits 1 for: no endpoint,
    the proxy unreachable, an answer that is not the vNext API's."""


class ApiError(Exception):
    """The proxy's error answer: {"error": {"code", "title", "message", "field"?, "request_id"}}."""

    def __init__(
        self,
        status: int,
        title: str,
        message: str,
        request_id: str | None,
        field: str | None = None,
        problems: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {message}")
        self.status = status
        self.title = title
        self.message = message
        self.request_id = request_id
        self.field = field
        #: A refused launch lists every problem, each naming its field.
        self.problems = problems or []


def is_uuid(value: str) -> bool:
    try:
        return len(value) == UUID_LENGTH and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def segment(value: str) -> str:
    """One path segment, quoted: a name with a slash stays one segment, and
    "." or ".." are escaped, or urllib3 would resolve them into another
    route (/projects/p/servers/.. into /projects/p); sent as they are, the
    proxy refuses them."""
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


def path(template: str, **values: str) -> str:
    """A vNext path from ``template`` ("/servers/{server}/tasks"), each value
    one quoted segment: the one place the client builds a path from input."""
    return template.format_map({name: segment(value) for name, value in values.items()})


class VNext:
    """The proxy at ``endpoint`` (its root URL: the vNext routes start at /)."""

    def __init__(self, session: ks_session.Session, endpoint: str, project_id: str | None = None) -> None:
        self.session = session
        self.endpoint = endpoint.rstrip("/")
        #: The project the credentials are scoped to, when they say (a static token does not).
        self.project_id = project_id

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        """The decoded JSON answer (None for an empty one); ApiError for an error status."""
        url = self.endpoint + path
        try:
            resp = self.session.request(
                url, method, json=body, headers={"Accept": "application/json", **(headers or {})}, raise_exc=False
            )
        except ks_exceptions.ClientException as exc:
            raise ClientError(f"cannot reach the vNext endpoint {self.endpoint}: {exc}") from exc
        request_id = resp.headers.get("X-OpenStack-Request-ID")
        try:
            decoded = resp.json() if resp.content else None
        except ValueError:
            decoded = None
        if resp.status_code >= 400:
            raise _api_error(resp.status_code, resp.reason or "", decoded, resp.text, request_id)
        if resp.content and decoded is None:
            raise ClientError(f"{method} {url} answered {resp.status_code} with something other than JSON")
        return decoded

    def get(self, path: str, **query: str | int | None) -> Any:
        given = {k: v for k, v in query.items() if v is not None}
        return self.request("GET", path + (f"?{urlencode(given)}" if given else ""))

    def post(self, path: str, body: Any, idempotency_key: str | None = None) -> Any:
        # A key makes a retry of the same command safe: the proxy answers
        # the first request's tasks or servers again instead of acting twice.
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self.request("POST", path, body, headers)

    def pages(self, path: str, key: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Every object of a paged list, following ``_links.next``; at most ``limit``."""
        page = self.get(path, limit=limit)
        given = 0
        while True:
            objects = page.get(key) if isinstance(page, dict) else None
            if not isinstance(objects, list):
                raise ClientError(f"GET {path}: the answer has no list {key!r}")
            for obj in objects:
                if limit is not None and given >= limit:
                    return
                given += 1
                yield obj
            following = ((page.get("_links") or {}).get("next") or {}).get("href")
            if not following or (limit is not None and given >= limit):
                return
            page = self.request("GET", following)

    # Lookups: the CLI takes names where a person would, and ids where the API does.

    def server_type_id(self, value: str) -> str:
        """A server type's id, given its id or name (the proxy resolves both)."""
        if is_uuid(value):
            return value
        return str(self.get(path("/server_types/{type}", type=value))["id"])

    def keypair_id(self, value: str) -> str:
        """A keypair's vNext id, given its id or Nova name (GET /keypairs/{id or name})."""
        if is_uuid(value):
            return value
        return str(self.get(path("/keypairs/{keypair}", keypair=value))["id"])

    def server_id(self, value: str, project: str | None) -> str:
        """A server's id, given its id or its hostname in ``project`` (or the credentials')."""
        if is_uuid(value):
            return value
        return str(self.server_by_hostname(value, project)["id"])

    def server_by_hostname(self, hostname: str, project: str | None) -> dict[str, Any]:
        project = project or self.project_id
        if project is None:
            raise ClientError(f"{hostname!r} is not a server id; to find it by hostname, name its --project")
        route = path("/projects/{project}/servers/{hostname}", project=project, hostname=hostname)
        found: dict[str, Any] = self.get(route)
        return found


def _api_error(status: int, reason: str, decoded: Any, text: str, request_id: str | None) -> ApiError:
    error = decoded.get("error") if isinstance(decoded, dict) else None
    if not isinstance(error, dict):
        # Not the proxy's answer (a load balancer's, say): show what came, briefly.
        return ApiError(status, reason, text.strip()[:200] or "(no message)", request_id)
    problems = error.get("problems")
    return ApiError(
        status=int(error.get("code") or status),
        title=str(error.get("title") or reason),
        message=str(error.get("message") or ""),
        request_id=error.get("request_id") or request_id,
        field=error.get("field"),
        problems=[p for p in problems if isinstance(p, dict)] if isinstance(problems, list) else [],
    )
