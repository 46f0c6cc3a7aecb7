"""Server groups: a Nova server group plus the proxy's record of it."""

from __future__ import annotations

from typing import Any

from vnext_proxy.calls import PlannedCall
from vnext_proxy.errors import VNextError, from_nova
from vnext_proxy.execution.context import Inbound, Services
from vnext_proxy.execution.paging import page_query, proxy_page
from vnext_proxy.execution.schemas import link_schema, request_schema
from vnext_proxy.mapping.engine import VNextResponse
from vnext_proxy.nova import operations as ops
from vnext_proxy.server_groups import NOVA_POLICY, ServerGroup, group_view, slugify
from vnext_proxy.timeutil import parse_time
from vnext_proxy.validation import check_body

_NOT_FOUND = "No such server group, or it is not yours"


def _view(group: ServerGroup) -> dict[str, Any]:
    """The group as its published schema has it. What the group has no value
    for is left out, not shown as null or empty: the schema's description is
    a string, and its defaults, when there, name a template and a type."""
    view = group_view(group)
    if view["description"] is None:
        del view["description"]
    if not view["defaults"]:
        del view["defaults"]
    return view


async def _nova_group(req: Inbound, call: PlannedCall) -> Any:
    """The server_group in Nova's answer; another project's group is not found."""
    answer = await req.send(call)
    if answer.status in (403, 404):
        raise VNextError(404, _NOT_FOUND)
    if not answer.ok:
        raise from_nova(answer.status, answer.body)
    return answer.part("server_group", kind=dict)


async def create_server_group(services: Services, req: Inbound) -> VNextResponse:
    project = ops.segment(req.match["project"], "project")
    schema = request_schema(link_schema(services.mappings, "server_group"), url={"project": project}, required=["name"])
    body = check_body(await req.json(), schema)
    await services.projects.require(project, req.token, req.send)
    slug = slugify(body["name"])
    if any(g.slug == slug for g in await services.store.groups_for_project(project)):
        raise VNextError(400, f"the project has a server group named {slug!r} already", field="name")
    created = {"server_group": {"name": body["name"], "policy": NOVA_POLICY}}
    nova_group = await _nova_group(req, ops.CREATE_SERVER_GROUP(body=created))
    group = ServerGroup(
        id=nova_group["id"],
        project_id=nova_group.get("project_id") or project,
        name=body["name"],
        slug=slug,
        created_by=nova_group.get("user_id"),
        created_at=services.tasks.clock(),
        description=body.get("description"),
        defaults=body.get("defaults") or {},
        tags=body.get("tags") or [],
    )
    await services.store.add_group(group)
    return VNextResponse(201, _view(group), headers={"Location": f"/server_groups/{group.id}"})


async def visible_group(services: Services, req: Inbound, group_id: str) -> ServerGroup:
    """The group, if Nova shows its server group to this caller."""
    nova_group = await _nova_group(req, ops.SERVER_GROUP(group_id=group_id))
    group = await services.store.get_group(group_id)
    if group is None:
        # A Nova server group made without the proxy: what Nova knows of it.
        name = nova_group["name"]
        group = ServerGroup(group_id, nova_group.get("project_id", ""), name, slugify(name), nova_group.get("user_id"),
                            parse_time("1970-01-01T00:00:00Z"))  # fmt: skip
    return group


async def get_server_group(services: Services, req: Inbound) -> VNextResponse:
    group = await visible_group(services, req, req.match["group_id"])
    return VNextResponse(200, _view(group))


async def project_server_group(services: Services, req: Inbound) -> VNextResponse:
    project = req.match["project"]
    await services.projects.require(project, req.token, req.send)
    for group in await services.store.groups_for_project(project):
        if group.slug == req.match["slug"]:
            return VNextResponse(200, _view(await visible_group(services, req, group.id)))
    raise VNextError(404, _NOT_FOUND)


async def project_server_groups(services: Services, req: Inbound) -> VNextResponse:
    page = page_query(req.query)  # a bad query is 400 before Nova is asked
    project = req.match["project"]
    await services.projects.require(project, req.token, req.send)
    groups = await services.store.groups_for_project(project)
    wanted = req.query.getall("tag", [])
    views = [_view(g) for g in groups if not wanted or set(wanted) & set(g.tags)]
    return proxy_page("server_groups", views, page, req.path, req.query, req.path_qs)
