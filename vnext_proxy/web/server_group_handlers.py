"""Server group routes: a Nova server group plus the proxy's record of it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from vnext_proxy.errors import VNextError
from vnext_proxy.mapping.engine import PlannedCall
from vnext_proxy.nova import operations as ops
from vnext_proxy.server_groups import NOVA_POLICY, ServerGroup, group_view, slugify
from vnext_proxy.timeutil import parse_time
from vnext_proxy.web.handlers import (
    Handler,
    call_nova,
    caller_token,
    check_body,
    json_body,
    page_response,
    require_project,
    respond,
)
from vnext_proxy.web.keys import MAPPINGS, TASKS

_NOT_FOUND = "No such server group, or it is not yours"


async def _nova_group(request: web.Request, token: str, call: PlannedCall) -> Any:
    """The server_group in Nova's answer; another project's group is not found."""
    answer = await call_nova(request, token, call, ok=(403, 404))
    if answer.status in (403, 404):
        raise VNextError(404, _NOT_FOUND)
    return answer.part("server_group")


def _create_schema(request: web.Request) -> dict[str, Any]:
    schema = request.app[MAPPINGS].schemas["server_group"]
    link = next(lk for lk in schema["links"] if lk.get("method") == "POST")
    found = {**link["schema"], "required": ["name"]}
    found["properties"] = {k: v for k, v in found["properties"].items() if k != "project"}
    return found


async def create_server_group(request: web.Request) -> web.StreamResponse:
    token = caller_token(request)
    project = request.match_info["project"]
    body = check_body(await json_body(request), _create_schema(request))
    await require_project(request, project, token)
    store = request.app[TASKS].store
    slug = slugify(body["name"])
    if any(g.slug == slug for g in await store.groups_for_project(project)):
        raise VNextError(400, f"the project has a server group named {slug!r} already", field="name")
    created = {"server_group": {"name": body["name"], "policy": NOVA_POLICY}}
    nova_group = await _nova_group(request, token, ops.CREATE_SERVER_GROUP(body=created))
    group = ServerGroup(
        id=nova_group["id"],
        project_id=nova_group.get("project_id") or project,
        name=body["name"],
        slug=slug,
        created_by=nova_group.get("user_id"),
        created_at=request.app[TASKS].clock(),
        description=body.get("description"),
        defaults=body.get("defaults") or {},
        tags=body.get("tags") or [],
    )
    await store.add_group(group)
    return respond(request, group_view(group), 201, {"Location": f"/server_groups/{group.id}"})


async def visible_group(request: web.Request, group_id: str, token: str) -> ServerGroup:
    """The group, if Nova shows its server group to this caller."""
    nova_group = await _nova_group(request, token, ops.SERVER_GROUP(group_id=group_id))
    group = await request.app[TASKS].store.get_group(group_id)
    if group is None:
        # A Nova server group made without the proxy: what Nova knows of it.
        name = nova_group["name"]
        group = ServerGroup(group_id, nova_group.get("project_id", ""), name, slugify(name), nova_group.get("user_id"),
                            parse_time("1970-01-01T00:00:00Z"))  # fmt: skip
    return group


async def get_server_group(request: web.Request) -> web.StreamResponse:
    token = caller_token(request)
    group = await visible_group(request, request.match_info["group_id"], token)
    return respond(request, group_view(group), 200, {})


async def project_server_group(request: web.Request) -> web.StreamResponse:
    token = caller_token(request)
    project = request.match_info["project"]
    await require_project(request, project, token)
    for group in await request.app[TASKS].store.groups_for_project(project):
        if group.slug == request.match_info["slug"]:
            return respond(request, group_view(await visible_group(request, group.id, token)), 200, {})
    raise VNextError(404, _NOT_FOUND)


async def project_server_groups(request: web.Request) -> web.StreamResponse:
    token = caller_token(request)
    project = request.match_info["project"]
    await require_project(request, project, token)
    groups = await request.app[TASKS].store.groups_for_project(project)
    wanted = request.query.getall("tag", [])
    views = [group_view(g) for g in groups if not wanted or set(wanted) & set(g.tags)]
    return page_response(request, "server_groups", views)


SERVER_GROUP_HANDLERS: dict[str, Handler] = {
    "create_server_group": create_server_group,
    "get_server_group": get_server_group,
    "project_server_group": project_server_group,
    "project_server_groups": project_server_groups,
}
