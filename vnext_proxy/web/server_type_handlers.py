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

import jsonschema
from aiohttp import web

from vnext_proxy.errors import VNextError
from vnext_proxy.mapping import engine
from vnext_proxy.mapping.engine import PlannedCall
from vnext_proxy.mapping.hooks import RenderContext
from vnext_proxy.nova import operations as ops
from vnext_proxy.nova.client import NovaAnswer
from vnext_proxy.nova.resolvers import resolve_flavor
from vnext_proxy.web.handlers import Handler, call_nova, caller_token, json_body, respond, send_for
from vnext_proxy.web.keys import MAPPINGS, SETTINGS
from vnext_proxy.yamlsource import dotted

TAGS_SPEC = "vnext:tags"
_TAGS = {"type": "array", "maxItems": 50, "items": {"type": "string", "minLength": 1, "pattern": "^[^,]+$"}}
_IMMUTABLE = ("name", "spec", "visibility")


class _Nova:
    """What a server type request does with Nova, with the caller's token."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.token = caller_token(request)

    async def call(self, call: PlannedCall, ok: tuple[int, ...] = ()) -> NovaAnswer:
        return await call_nova(self.request, self.token, call, ok)

    async def flavor_id(self) -> str:
        request = self.request
        wanted = request.match_info["server_type"]
        try:
            return await resolve_flavor(
                lambda call: send_for(request, call, self.token), request.app[MAPPINGS], request.app[SETTINGS], wanted
            )
        except VNextError as exc:
            if exc.status == 400:
                raise VNextError(404, f"No server type {wanted!r}, or it is not yours") from None
            raise

    async def view(self, flavor_id: str, status: int = 200) -> web.StreamResponse:
        flavor = (await self.call(ops.FLAVOR(flavor_id=flavor_id))).part("flavor")
        request = self.request
        ctx = RenderContext(id_namespace=request.app[SETTINGS].id_namespace)
        rendered = engine.render_object(request.app[MAPPINGS].objects["server_type"], flavor, ctx)
        rendered["shares"] = await self.shares(flavor_id, flavor)
        return respond(request, rendered, status, {"Location": rendered["_links"]["self"]["href"]})

    async def shares(self, flavor_id: str, flavor: dict[str, Any] | None = None) -> dict[str, list[str]]:
        if flavor is None:
            flavor = (await self.call(ops.FLAVOR(flavor_id=flavor_id))).part("flavor")
        if flavor.get("os-flavor-access:is_public"):
            return {"users": [], "projects": []}
        access = await self.call(ops.FLAVOR_ACCESS(flavor_id=flavor_id))
        return {"users": [], "projects": sorted(a["tenant_id"] for a in access.part("flavor_access"))}

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


def _check(body: Any, schema: dict[str, Any]) -> dict[str, Any]:
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(body))
    if error is not None:
        where = dotted(tuple(error.absolute_path)) or "body"
        raise VNextError(400, f"{where}: {error.message}", field=where)
    result: dict[str, Any] = body
    return result


def _link_schema(request: web.Request, method: str) -> dict[str, Any]:
    schema = request.app[MAPPINGS].schemas["server_type"]
    link = next(lk for lk in schema["links"] if lk.get("method") == method)
    found: dict[str, Any] = link["schema"]
    return found


_NO_USER_SHARES = "Nova shares flavors with projects only: share with the user's project instead"


def _no_user_shares(shares: dict[str, Any] | None) -> None:
    if shares and shares.get("users"):
        raise VNextError(501, _NO_USER_SHARES, field="shares.users")


async def create_server_type(request: web.Request) -> web.StreamResponse:
    nova = _Nova(request)
    schema = dict(_link_schema(request, "POST"))
    schema["properties"] = {**schema["properties"], "tags": _TAGS}
    body = _check(await json_body(request), schema)
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


async def update_server_type(request: web.Request) -> web.StreamResponse:
    nova = _Nova(request)
    body = await json_body(request)
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
                       "shares": _link_schema(request, "POST")["properties"]["shares"]},
    }  # fmt: skip
    _check(body, schema)
    _no_user_shares(body.get("shares"))
    flavor_id = await nova.flavor_id()
    if "description" in body:
        await nova.call(ops.UPDATE_FLAVOR(flavor_id=flavor_id, body={"flavor": {"description": body["description"]}}))
    if "tags" in body:
        await nova.set_tags(flavor_id, body["tags"])
    if "shares" in body:
        await _replace_shares(nova, flavor_id, body["shares"].get("projects", []))
    return await nova.view(flavor_id)


async def _replace_shares(nova: _Nova, flavor_id: str, projects: list[str]) -> None:
    current = set((await nova.shares(flavor_id))["projects"])
    for project in sorted(set(projects) - current):
        await nova.share(flavor_id, project, on=True)
    for project in sorted(current - set(projects)):
        await nova.share(flavor_id, project, on=False)


async def server_type_tags(request: web.Request) -> web.StreamResponse:
    nova = _Nova(request)
    flavor_id = await nova.flavor_id()
    if request.method == "GET":
        return respond(request, await nova.tags(flavor_id), 200, {})
    if request.method == "PUT":
        await nova.set_tags(flavor_id, _check(await json_body(request), _TAGS))  # type: ignore[arg-type]
    else:
        await nova.set_tags(flavor_id, [])
    return respond(request, None, 204, {})


async def server_type_tag(request: web.Request) -> web.StreamResponse:
    nova = _Nova(request)
    flavor_id = await nova.flavor_id()
    tag = request.match_info["tag"]
    if "," in tag:
        raise VNextError(400, "a tag cannot contain a comma", field="tag")
    tags = await nova.tags(flavor_id)
    if request.method == "PUT":
        await nova.set_tags(flavor_id, [*tags, tag])
    elif tag not in tags:
        raise VNextError(404, f"the server type has no tag {tag!r}")
    else:
        await nova.set_tags(flavor_id, [t for t in tags if t != tag])
    return respond(request, None, 204, {})


async def server_type_shares(request: web.Request) -> web.StreamResponse:
    nova = _Nova(request)
    flavor_id = await nova.flavor_id()
    if request.method == "GET":
        return respond(request, await nova.shares(flavor_id), 200, {})
    projects: list[str] = []
    if request.method == "PUT":
        shares = _check(await json_body(request), _link_schema(request, "POST")["properties"]["shares"])
        _no_user_shares(shares)
        projects = shares.get("projects", [])
    await _replace_shares(nova, flavor_id, projects)
    return respond(request, None, 204, {})


async def server_type_project_share(request: web.Request) -> web.StreamResponse:
    nova = _Nova(request)
    flavor_id = await nova.flavor_id()
    await nova.share(flavor_id, request.match_info["project"], on=request.method == "PUT")
    return respond(request, None, 204, {})


async def server_type_user_share(request: web.Request) -> web.StreamResponse:
    raise VNextError(501, _NO_USER_SHARES, field="user")


SERVER_TYPE_HANDLERS: dict[str, Handler] = {
    "create_server_type": create_server_type,
    "update_server_type": update_server_type,
    "server_type_tags": server_type_tags,
    "server_type_tag": server_type_tag,
    "server_type_shares": server_type_shares,
    "server_type_project_share": server_type_project_share,
    "server_type_user_share": server_type_user_share,
}
