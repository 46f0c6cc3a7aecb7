"""The Nova calls the proxy's Python makes, named, in one place.

Routes served from the mappings declare their calls in ``mappings/*.yaml``;
these are the others (tasks, launches, server types, groups, the poller,
the self-check). Each is a path template with its minimum microversion, and
each template variable has a kind: a value is checked against its kind and
percent-encoded as one path segment here, and nowhere else. So no value a
caller sends (``..``, ``%2F``, ``?``, ``#``) can change the path Nova gets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from vnext_proxy.calls import PlannedCall, microversion
from vnext_proxy.errors import VNextError, shown
from vnext_proxy.templates import compile_template

#: What a value of each kind looks like: as Nova or Keystone would have it.
KINDS: dict[str, re.Pattern[str]] = {
    "uuid": re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"),
    # Keystone's id_string: letters, digits and dashes, at most 64.
    "project": re.compile(r"[A-Za-z0-9-]{1,64}"),
    # Nova's flavor ids: any printable text but a slash, at most 255.
    "flavor": re.compile(r"[A-Za-z0-9 ._-]{1,255}"),
    # Nova's keypair names (2.92): letters, digits, space and @._-
    "keypair": re.compile(r"[A-Za-z0-9 @._-]{1,255}"),
    "request_id": re.compile(r"req-[0-9a-fA-F-]{36}"),
    "extra_spec": re.compile(r"[A-Za-z0-9:_.-]{1,255}"),
    # Nova's server tags: no slash, no comma, at most 60 characters.
    "tag": re.compile(r"[^/,]{1,60}"),
}

#: What to call a value that is not of its kind, in the 404 answered.
_NAMES = {"uuid": "resource", "project": "project", "flavor": "server type", "keypair": "keypair"}


def segment(value: Any, kind: str) -> str:
    """``value`` checked against ``kind``; no such thing in Nova is a 404,
    and the dot segments, which a URL resolves away, never pass."""
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not KINDS[kind].fullmatch(text) or text in (".", ".."):
        raise VNextError(404, f"no {_NAMES.get(kind, kind)} {shown(value)}")
    return text


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    template: str
    #: Kind of each template variable.
    kinds: tuple[tuple[str, str], ...]
    min_microversion: tuple[int, int] = (2, 1)
    #: Always sent at this microversion (an API Nova dropped later).
    at: str | None = None
    #: Query parameters always sent, before the caller's.
    fixed_query: tuple[tuple[str, str], ...] = ()

    def __call__(self, *, query: tuple[tuple[str, str], ...] = (), body: Any = None, **values: Any) -> PlannedCall:
        checked = {name: segment(values[name], kind) for name, kind in self.kinds}
        path = compile_template(self.template).expand(checked)
        return PlannedCall(self.name, self.method, path, (*self.fixed_query, *query), body, microversion=self.at)


def _op(
    name: str,
    method: str,
    template: str,
    min_microversion: tuple[int, int] = (2, 1),
    at: str | None = None,
    fixed_query: tuple[tuple[str, str], ...] = (),
    **kinds: str,
) -> Operation:
    return Operation(name, method, template, tuple(kinds.items()), min_microversion, at, fixed_query)


SERVERS = _op("servers", "GET", "/servers/detail")
SERVER = _op("server", "GET", "/servers/{server_id}", server_id="uuid")
FLAVORS = _op("flavors", "GET", "/flavors/detail")
# A keypair's type (ssh, x509) is shown from 2.2.
KEYPAIRS = _op("keypairs", "GET", "/os-keypairs", (2, 2))
ZONES = _op("zones", "GET", "/os-availability-zone")
CREATE_SERVER = _op("launch", "POST", "/servers")
CREATE_FLAVOR = _op("flavor", "POST", "/flavors")
CREATE_SERVER_GROUP = _op("server group", "POST", "/os-server-groups")
SERVER_ACTION = _op("action", "POST", "/servers/{server_id}/action", server_id="uuid")
DELETE_SERVER = _op("delete server", "DELETE", "/servers/{server_id}", server_id="uuid")
INSTANCE_ACTIONS = _op("actions", "GET", "/servers/{server_id}/os-instance-actions", server_id="uuid")
INSTANCE_ACTION = _op(
    "action", "GET", "/servers/{server_id}/os-instance-actions/{request_id}", server_id="uuid", request_id="request_id"
)
# Nova's usage report is readable by the project's own members and by admins
# only (os-quota-sets would be too, but it asks Keystone whether the project
# exists, which a cloud may not allow Nova to do). Over a window long past,
# it is the policy check without reading any usage.
PROJECT_OWNERSHIP = _op(
    "project",
    "GET",
    "/os-simple-tenant-usage/{project_id}",
    (2, 40),
    fixed_query=(("start", "2000-01-01T00:00:00"), ("end", "2000-01-01T00:00:01")),
    project_id="project",
)
PROJECT_LIMITS = _op("limits", "GET", "/{project_id}/limits", project_id="project")
LIMITS = _op("limits", "GET", "/limits")
# Nova proxies images up to 2.35 only; a real cloud's Glance answers the same.
IMAGE = _op("image", "GET", "/images/{image_id}", at="2.35", image_id="uuid")
KEYPAIR = _op("keypair", "GET", "/os-keypairs/{keypair_name}", (2, 2), keypair_name="keypair")
SERVER_GROUP = _op("server group", "GET", "/os-server-groups/{group_id}", group_id="uuid")
DELETE_SERVER_GROUP = _op("server group", "DELETE", "/os-server-groups/{group_id}", group_id="uuid")
FLAVOR = _op("flavor", "GET", "/flavors/{flavor_id}", flavor_id="flavor")
UPDATE_FLAVOR = _op("flavor", "PUT", "/flavors/{flavor_id}", (2, 55), flavor_id="flavor")
DELETE_FLAVOR = _op("flavor", "DELETE", "/flavors/{flavor_id}", flavor_id="flavor")
FLAVOR_ACTION = _op("flavor access", "POST", "/flavors/{flavor_id}/action", flavor_id="flavor")
FLAVOR_ACCESS = _op("flavor access", "GET", "/flavors/{flavor_id}/os-flavor-access", flavor_id="flavor")
FLAVOR_EXTRA_SPECS = _op("extra specs", "POST", "/flavors/{flavor_id}/os-extra_specs", flavor_id="flavor")
LIST_FLAVOR_EXTRA_SPECS = _op("extra specs", "GET", "/flavors/{flavor_id}/os-extra_specs", flavor_id="flavor")
FLAVOR_EXTRA_SPEC = _op(
    "extra spec", "GET", "/flavors/{flavor_id}/os-extra_specs/{key}", flavor_id="flavor", key="extra_spec"
)
DELETE_FLAVOR_EXTRA_SPEC = _op(
    "extra spec", "DELETE", "/flavors/{flavor_id}/os-extra_specs/{key}", flavor_id="flavor", key="extra_spec"
)

#: Every operation, for the start-up microversion check.
OPERATIONS: tuple[Operation, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Operation))


def microversion_problems(configured: str) -> list[str]:
    """Operations that need a newer microversion than the configured one."""
    wanted = microversion(configured)
    return [
        f"{op.method} {op.template} needs compute {op.min_microversion[0]}.{op.min_microversion[1]}"
        for op in OPERATIONS
        if op.min_microversion > wanted
    ]
