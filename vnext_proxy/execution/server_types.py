"""Server type writes: Nova flavors plus what vNext adds to them.

A flavor cannot change in place (only its description can, since 2.55), so
vNext's tags live in the flavor's extra spec ``vnext:tags`` and its shares
are Nova's flavor access (projects only: Nova has no per-user access).
Creating one takes several Nova calls; if a later one fails, the flavor is
deleted again, so a refused request leaves nothing behind.
"""

from __future__ import annotations

import uuid
from typing import Any

from vnext_proxy.calls import NovaAnswer, PlannedCall
from vnext_proxy.errors import VNextError, from_nova
from vnext_proxy.execution.context import Inbound, Services
from vnext_proxy.execution.schemas import link_schema
from vnext_proxy.mapping import engine
from vnext_proxy.mapping.engine import VNextResponse
from vnext_proxy.nova import operations as ops
from vnext_proxy.validation import check_body

TAGS_SPEC = "vnext:tags"
_TAGS = {"type": "array", "maxItems": 50, "items": {"type": "string", "minLength": 1, "pattern": "^[^,]+$"}}
_IMMUTABLE = ("name", "spec", "visibility")
_NO_USER_SHARES = "Nova shares flavors with projects only: share with the user's project instead"


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


def _shares_schema(services: Services) -> dict[str, Any]:
    schema = link_schema(services.mappings, "server_type")
    return {**schema["properties"]["shares"], **({"$schema": schema["$schema"]} if "$schema" in schema else {})}


def _no_user_shares(shares: dict[str, Any] | None) -> None:
    if shares and shares.get("users"):
        raise VNextError(501, _NO_USER_SHARES, field="shares.users")


async def create_server_type(services: Services, req: Inbound) -> VNextResponse:
    nova = _Flavors(services, req)
    schema = link_schema(services.mappings, "server_type")
    schema = {**schema, "properties": {**schema["properties"], "tags": _TAGS}}
    body = check_body(await req.json(), schema)
    _no_user_shares(body.get("shares"))
    public = body.get("visibility", "PRIVATE") == "PUBLIC"
    if public and (body.get("shares") or {}).get("projects"):
        raise VNextError(400, "a PUBLIC server type is visible to everyone: it cannot be shared", field="shares")
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
    if "description" in body:
        flavor["description"] = body["description"]
    created = await nova.call(ops.CREATE_FLAVOR(body={"flavor": flavor}))
    flavor_id = str(created.part("flavor", "id"))
    try:
        if body.get("tags"):
            await nova.set_tags(flavor_id, body["tags"])
        for project in (body.get("shares") or {}).get("projects", []):
            await nova.share(flavor_id, project, on=True)
    except VNextError:
        await nova.call(ops.DELETE_FLAVOR(flavor_id=flavor_id), ok=(404,))
        raise
    return await nova.view(flavor_id, status=201)


async def update_server_type(services: Services, req: Inbound) -> VNextResponse:
    nova = _Flavors(services, req)
    body = await req.json()
    immutable = [k for k in _IMMUTABLE if isinstance(body, dict) and k in body]
    if immutable:
        raise VNextError(
            400,
            f"{', '.join(immutable)} cannot change: a Nova flavor is fixed once made (create a new server type)",
            field=immutable[0],
        )
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"id": {"type": "string"}, "description": {"type": ["string", "null"]}, "tags": _TAGS,
                       "shares": _shares_schema(services)},
    }  # fmt: skip
    check_body(body, schema)
    _no_user_shares(body.get("shares"))
    flavor_id = await nova.flavor_id()
    if "description" in body:
        await nova.call(ops.UPDATE_FLAVOR(flavor_id=flavor_id, body={"flavor": {"description": body["description"]}}))
    if "tags" in body:
        await nova.set_tags(flavor_id, body["tags"])
    if "shares" in body:
        await nova.replace_shares(flavor_id, body["shares"].get("projects", []))
    return await nova.view(flavor_id)


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
        _no_user_shares(shares)
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
