"""Server type writes: Nova flavors plus what vNext adds to them.

vNext's tags live in the flavor's extra spec ``vnext:tags`` and its shares
are Nova's flavor access (projects only: Nova has no per-user access).
Creating one takes several Nova calls; if a later one fails, the flavor is
deleted again, so a refused request leaves nothing behind.

Both spec revisions let PATCH change a type's name, spec and visibility, but
a Nova flavor is fixed once made (only its description can change, 2.55).
So such a PATCH replaces the flavor: read it whole (fields, extra specs,
access), delete it, create it again under the same flavor id (so the vNext
id stays), put back its extra specs and access. Servers keep their own copy
of a flavor (shown from 2.47), so they are not touched. If a step after the
delete fails, the old flavor is made again the same way.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from vnext_proxy.aio import spawn
from vnext_proxy.calls import NovaAnswer, PlannedCall
from vnext_proxy.errors import VNextError, from_nova
from vnext_proxy.execution.context import Inbound, Services
from vnext_proxy.execution.schemas import link_schema
from vnext_proxy.mapping import engine
from vnext_proxy.mapping.engine import VNextResponse
from vnext_proxy.nova import operations as ops
from vnext_proxy.validation import check_body

log = logging.getLogger(__name__)

TAGS_SPEC = "vnext:tags"
_TAGS = {"type": "array", "maxItems": 50, "items": {"type": "string", "minLength": 1, "pattern": "^[^,]+$"}}
_NO_USER_SHARES = "Nova shares flavors with projects only: share with the user's project instead"
#: Nova's own limits on a flavor, checked before anything changes (a PATCH
#: that Nova would refuse after the delete costs a delete and a restore).
_MAX_INT = 2147483647
_NAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^\S(.*\S)?$"}


@dataclass(frozen=True)
class _Flavor:
    """A flavor whole, as it can be made again: the create body (id
    included), every extra spec, and the projects it is shared with."""

    body: dict[str, Any]
    extra_specs: dict[str, str] = field(default_factory=dict)
    projects: tuple[str, ...] = ()

    @property
    def public(self) -> bool:
        return bool(self.body["os-flavor-access:is_public"])


def _create_body(flavor: dict[str, Any]) -> dict[str, Any]:
    """What POST /flavors needs to make ``flavor`` (a GET /flavors/{id} view) again."""
    body: dict[str, Any] = {"id": flavor.get("id")}
    for key in ("name", "ram", "vcpus", "disk"):
        body[key] = flavor.get(key)
    # Below 2.75 Nova shows no swap as "".
    body["swap"] = flavor.get("swap") or 0
    body["OS-FLV-EXT-DATA:ephemeral"] = flavor.get("OS-FLV-EXT-DATA:ephemeral") or 0
    body["os-flavor-access:is_public"] = flavor.get("os-flavor-access:is_public")
    # Gone from Nova's answers at 2.102 (and refused in a create there).
    if flavor.get("rxtx_factor") is not None:
        body["rxtx_factor"] = flavor["rxtx_factor"]
    # Settable at create from 2.55, as is the PUT this proxy already needs.
    if flavor.get("description") is not None:
        body["description"] = flavor["description"]
    numbers = ("ram", "vcpus", "disk", "swap", "OS-FLV-EXT-DATA:ephemeral")
    wrong = [k for k in ("id", "name") if not isinstance(body[k], str)]
    wrong += [k for k in numbers if not isinstance(body[k], int) or isinstance(body[k], bool)]
    wrong += [k for k in ("os-flavor-access:is_public",) if not isinstance(body[k], bool)]
    if wrong:
        # Before anything is deleted: a flavor that cannot be read whole cannot be made again.
        raise VNextError(502, f"Nova's flavor has no usable {', '.join(wrong)}")
    return body


class _Flavors:
    """What a server type request does with Nova, with the caller's token."""

    def __init__(self, services: Services, req: Inbound) -> None:
        self.services = services
        self.req = req

    async def call(self, call: PlannedCall, ok: tuple[int, ...] = ()) -> NovaAnswer:
        answer = await self.req.send(call)
        if not answer.ok and answer.status not in ok:
            raise from_nova(answer.status, answer.body)
        return answer

    async def flavor_id(self) -> str:
        """The Nova flavor of the server type the path names."""
        return await self.services.flavors.resolve(self.req.match["server_type"], self.req.send)

    async def view(self, flavor_id: str, status: int = 200) -> VNextResponse:
        flavor = (await self.call(ops.FLAVOR(flavor_id=flavor_id))).part("flavor", kind=dict)
        services = self.services
        rendered = engine.render_object(services.mappings.objects["server_type"], flavor, services.render_context)
        rendered["shares"] = await self.shares(flavor_id, flavor)
        return VNextResponse(status, rendered, headers={"Location": rendered["_links"]["self"]["href"]})

    async def shares(self, flavor_id: str, flavor: dict[str, Any] | None = None) -> dict[str, list[str]]:
        if flavor is None:
            flavor = (await self.call(ops.FLAVOR(flavor_id=flavor_id))).part("flavor", kind=dict)
        if flavor.get("os-flavor-access:is_public"):
            return {"users": [], "projects": []}
        access = await self.call(ops.FLAVOR_ACCESS(flavor_id=flavor_id))
        return {"users": [], "projects": sorted(a["tenant_id"] for a in access.part("flavor_access", kind=list))}

    async def tags(self, flavor_id: str) -> list[str]:
        answer = await self.call(ops.FLAVOR_EXTRA_SPEC(flavor_id=flavor_id, key=TAGS_SPEC), ok=(404,))
        return [t for t in str(answer.body.get(TAGS_SPEC, "")).split(",") if t] if answer.ok else []

    async def set_tags(self, flavor_id: str, tags: list[str]) -> None:
        unique = list(dict.fromkeys(tags))
        if unique:
            spec = {"extra_specs": {TAGS_SPEC: ",".join(unique)}}
            await self.call(ops.FLAVOR_EXTRA_SPECS(flavor_id=flavor_id, body=spec))
        else:
            await self.call(ops.DELETE_FLAVOR_EXTRA_SPEC(flavor_id=flavor_id, key=TAGS_SPEC), ok=(404,))

    async def share(self, flavor_id: str, project: str, on: bool) -> None:
        action = "addTenantAccess" if on else "removeTenantAccess"
        # 409: shared already; 404: not shared. Either way it is as asked.
        share = ops.FLAVOR_ACTION(flavor_id=flavor_id, body={action: {"tenant": project}})
        await self.call(share, ok=(409, 404))

    async def replace_shares(self, flavor_id: str, projects: list[str]) -> None:
        current = set((await self.shares(flavor_id))["projects"])
        for project in sorted(set(projects) - current):
            await self.share(flavor_id, project, on=True)
        for project in sorted(current - set(projects)):
            await self.share(flavor_id, project, on=False)

    async def read(self, flavor_id: str) -> _Flavor:
        """The flavor whole. Reads only: a caller who may not read it all
        (flavor access is admin-only) is refused here, before any change."""
        shown = (await self.call(ops.FLAVOR(flavor_id=flavor_id))).part("flavor", kind=dict)
        body = _create_body(shown)
        specs = (await self.call(ops.LIST_FLAVOR_EXTRA_SPECS(flavor_id=flavor_id))).part("extra_specs", kind=dict)
        projects: tuple[str, ...] = ()
        if not body["os-flavor-access:is_public"]:
            access = await self.call(ops.FLAVOR_ACCESS(flavor_id=flavor_id))
            projects = tuple(sorted(str(a["tenant_id"]) for a in access.part("flavor_access", kind=list)))
        return _Flavor(body, {str(k): str(v) for k, v in specs.items()}, projects)

    async def make(self, flavor: _Flavor) -> None:
        """Create ``flavor`` under its id, with its extra specs and access."""
        await self.call(ops.CREATE_FLAVOR(body={"flavor": flavor.body}))
        flavor_id = flavor.body["id"]
        if flavor.extra_specs:
            await self.call(ops.FLAVOR_EXTRA_SPECS(flavor_id=flavor_id, body={"extra_specs": flavor.extra_specs}))
        for project in flavor.projects:
            await self.share(flavor_id, project, on=True)

    async def replace(self, old: _Flavor, new: _Flavor) -> None:
        """``old`` becomes ``new`` under the same flavor id; on any failure
        after the delete, ``old`` is made again and the failure answered."""
        flavor_id = old.body["id"]
        # The first change. Nova checks its policy before anything else here,
        # so a caller who may not manage flavors gets its 403 with nothing changed.
        await self.call(ops.DELETE_FLAVOR(flavor_id=flavor_id))
        try:
            await self.make(new)
        except Exception as failure:
            await self.restore(old, failure)
            raise

    async def restore(self, old: _Flavor, failure: Exception) -> None:
        try:
            # What the failed attempt made of the new flavor, if anything.
            await self.call(ops.DELETE_FLAVOR(flavor_id=old.body["id"]), ok=(404,))
            await self.make(old)
        except Exception as again:
            log.error("server type %s: replacing it failed (%s) and restoring it failed too (%s); "
                      "it was: %r", old.body["id"], failure, again, old)  # fmt: skip
            raise VNextError(
                502,
                f"changing the server type failed ({failure}), and so did restoring it ({again}): "
                f"Nova flavor {old.body['id']!r} may be missing or incomplete",
            ) from failure


def _shares_schema(services: Services) -> dict[str, Any]:
    schema = link_schema(services.mappings, "server_type")
    return {**schema["properties"]["shares"], **({"$schema": schema["$schema"]} if "$schema" in schema else {})}


def _write_schema(services: Services, method: str) -> dict[str, Any]:
    """The body a POST or PATCH of a server type may have: the published
    (later) link's, with what the seed revision's link adds (``share``,
    ``tags``; PATCH also took both there), ``shares`` on PATCH too (the
    proxy keeps it, as it keeps ``tags``), ``_links`` (a view sent back),
    and nothing else: a key the proxy would not carry out is a 400."""
    published = link_schema(services.mappings, "server_type", method)
    shares = _shares_schema(services)
    shares.pop("$schema", None)
    users, projects = shares["properties"]["users"], shares["properties"]["projects"]
    # The seed's name for shares: {"user_id": [...], "project_id": [...]}.
    share = {"type": "object", "properties": {"user_id": users, "project_id": projects}, "additionalProperties": False}
    spec = published["properties"]["spec"]
    spec = {**spec, "additionalProperties": False, "properties": {
        **spec["properties"],
        # Nova needs at least 1 MB and 1 CPU; it keeps each in a 32-bit integer.
        "memory_mb": {**spec["properties"]["memory_mb"], "minimum": 1, "maximum": _MAX_INT},
        "cpu_units": {**spec["properties"]["cpu_units"], "maximum": _MAX_INT},
        "root_disk_gb": {**spec["properties"]["root_disk_gb"], "maximum": _MAX_INT},
        "swap_mb": {**spec["properties"]["swap_mb"], "maximum": _MAX_INT},
    }}  # fmt: skip
    properties = {
        **published["properties"],
        "name": {**published["properties"]["name"], **_NAME},
        # Nova's flavor description may be cleared (null), and is at most 65535 characters.
        "description": {"type": ["string", "null"], "maxLength": 65535},
        "spec": spec,
        "shares": shares,
        "share": share,
        "tags": _TAGS,
        "_links": {"type": "object"},
    }
    # POST: the spec's prose makes spec.memory_mb and cpu_units required, so
    # spec is. PATCH: the spec's link requires the id in the body too, but it
    # is in the path: a PATCH without it is taken, one with another is not.
    required = ["name", "spec"] if method == "POST" else []
    return {**published, "properties": properties, "additionalProperties": False, "required": required}


def _given_shares(body: dict[str, Any]) -> dict[str, list[str]] | None:
    """The shares a body asks for, in either revision's form; 400 when it
    gives both and they differ, 501 for a user share (Nova has none)."""
    later = body.get("shares")
    seed = body.get("share")
    forms: list[tuple[str, dict[str, list[str]]]] = []
    if later is not None:
        forms.append(("shares", {"users": later.get("users", []), "projects": later.get("projects", [])}))
    if seed is not None:
        forms.append(("share", {"users": seed.get("user_id", []), "projects": seed.get("project_id", [])}))
    if not forms:
        return None
    if len(forms) == 2 and {k: sorted(set(v)) for k, v in forms[0][1].items()} != {
        k: sorted(set(v)) for k, v in forms[1][1].items()
    }:
        raise VNextError(400, "share (the seed revision's shares) and shares disagree: give one of them", field="share")
    name, shares = forms[0]
    if shares["users"]:
        users = "shares.users" if name == "shares" else "share.user_id"
        raise VNextError(501, f"{users}: {_NO_USER_SHARES}", field=users)
    return {"users": [], "projects": list(dict.fromkeys(shares["projects"]))}


def _not_public_and_shared(public: bool, shares: dict[str, list[str]] | None) -> None:
    if public and shares and shares["projects"]:
        raise VNextError(
            400, "shares: a PUBLIC server type is visible to everyone: it cannot be shared", field="shares"
        )


async def create_server_type(services: Services, req: Inbound) -> VNextResponse:
    nova = _Flavors(services, req)
    body = check_body(await req.json(), _write_schema(services, "POST"))
    shares = _given_shares(body)
    public = body.get("visibility", "PRIVATE") == "PUBLIC"
    _not_public_and_shared(public, shares)
    spec = body["spec"]
    flavor: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": body["name"],
        "ram": spec["memory_mb"],
        "vcpus": spec["cpu_units"],
        "disk": spec.get("root_disk_gb", 10),
        "swap": spec.get("swap_mb", 0),
        "os-flavor-access:is_public": public,
    }
    if "rxtx_factor" in spec:
        flavor["rxtx_factor"] = spec["rxtx_factor"]
    if body.get("description") is not None:
        flavor["description"] = body["description"]
    created = await nova.call(ops.CREATE_FLAVOR(body={"flavor": flavor}))
    flavor_id = str(created.part("flavor", "id"))
    try:
        if body.get("tags"):
            await nova.set_tags(flavor_id, body["tags"])
        for project in (shares or {}).get("projects", []):
            await nova.share(flavor_id, project, on=True)
    except VNextError:
        await nova.call(ops.DELETE_FLAVOR(flavor_id=flavor_id), ok=(404,))
        raise
    return await nova.view(flavor_id, status=201)


def _changed(old: _Flavor, body: dict[str, Any], shares: dict[str, list[str]] | None) -> _Flavor:
    """``old`` with what a PATCH body asks for."""
    fields = dict(old.body)
    if "name" in body:
        fields["name"] = body["name"]
    if "visibility" in body:
        fields["os-flavor-access:is_public"] = body["visibility"] == "PUBLIC"
    if "description" in body:
        fields.pop("description", None)
        if body["description"] is not None:
            fields["description"] = body["description"]
    spec = body.get("spec", {})
    # The spec link requires memory, disk and CPUs; what it leaves out is kept.
    for vnext, nova in (("memory_mb", "ram"), ("cpu_units", "vcpus"), ("root_disk_gb", "disk"),
                        ("swap_mb", "swap"), ("rxtx_factor", "rxtx_factor")):  # fmt: skip
        if vnext in spec:
            fields[nova] = spec[vnext]
    extra_specs = dict(old.extra_specs)
    if "tags" in body:
        extra_specs.pop(TAGS_SPEC, None)
        if body["tags"]:
            extra_specs[TAGS_SPEC] = ",".join(dict.fromkeys(body["tags"]))
    projects = old.projects if shares is None else tuple(shares["projects"])
    # A public flavor has no access list (Nova refuses one).
    return _Flavor(fields, extra_specs, () if fields["os-flavor-access:is_public"] else projects)


async def update_server_type(services: Services, req: Inbound) -> VNextResponse:
    nova = _Flavors(services, req)
    body = check_body(await req.json(), _write_schema(services, "PATCH"))
    shares = _given_shares(body)
    flavor_id = await nova.flavor_id()
    old = await nova.read(flavor_id)
    if "id" in body and body["id"] != services.flavors.vnext_id(old.body):
        raise VNextError(400, "id: a server type's id cannot change", field="id")
    new = _changed(old, body, shares)
    _not_public_and_shared(new.public, shares)
    fixed = {k: v for k, v in new.body.items() if k != "description"}
    if fixed != {k: v for k, v in old.body.items() if k != "description"}:
        # Shielded: a caller hanging up must not stop it between the delete
        # and the re-create (or the restore).
        await asyncio.shield(spawn(nova.replace(old, new), name=f"replace flavor {flavor_id}"))
        return VNextResponse(204, None)
    # Name, spec and visibility as they are: what can change in place does.
    if new.body.get("description") != old.body.get("description"):
        description = new.body.get("description")
        await nova.call(ops.UPDATE_FLAVOR(flavor_id=flavor_id, body={"flavor": {"description": description}}))
    if "tags" in body:
        await nova.set_tags(flavor_id, body["tags"])
    if shares is not None:
        await nova.replace_shares(flavor_id, shares["projects"])
    return VNextResponse(204, None)


async def server_type_tags(services: Services, req: Inbound) -> VNextResponse:
    nova = _Flavors(services, req)
    flavor_id = await nova.flavor_id()
    if req.method == "GET":
        return VNextResponse(200, await nova.tags(flavor_id))
    if req.method == "PUT":
        await nova.set_tags(flavor_id, check_body(await req.json(), _TAGS))
    else:
        await nova.set_tags(flavor_id, [])
    return VNextResponse(204, None)


async def server_type_tag(services: Services, req: Inbound) -> VNextResponse:
    nova = _Flavors(services, req)
    flavor_id = await nova.flavor_id()
    tag = req.match["tag"]  # no comma: the path's kind check refused it (404)
    tags = await nova.tags(flavor_id)
    if req.method == "PUT":
        await nova.set_tags(flavor_id, [*tags, tag])
    elif tag not in tags:
        raise VNextError(404, f"the server type has no tag {tag!r}")
    else:
        await nova.set_tags(flavor_id, [t for t in tags if t != tag])
    return VNextResponse(204, None)


async def server_type_shares(services: Services, req: Inbound) -> VNextResponse:
    nova = _Flavors(services, req)
    flavor_id = await nova.flavor_id()
    if req.method == "GET":
        return VNextResponse(200, await nova.shares(flavor_id))
    projects: list[str] = []
    if req.method == "PUT":
        shares = check_body(await req.json(), _shares_schema(services))
        if shares.get("users"):
            raise VNextError(501, f"shares.users: {_NO_USER_SHARES}", field="shares.users")
        projects = shares.get("projects", [])
    await nova.replace_shares(flavor_id, projects)
    return VNextResponse(204, None)


async def server_type_project_share(services: Services, req: Inbound) -> VNextResponse:
    nova = _Flavors(services, req)
    flavor_id = await nova.flavor_id()
    await nova.share(flavor_id, req.match["project"], on=req.method == "PUT")
    return VNextResponse(204, None)


async def server_type_user_share(services: Services, req: Inbound) -> VNextResponse:
    raise VNextError(501, _NO_USER_SHARES, field="user")
