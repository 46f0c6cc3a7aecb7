"""POST /projects/{project}/servers: check every server, then launch each
through Nova with a CREATE task. The checks are ``tasks.launch`` (pure);
this module gathers what they need from Nova and does the launching."""

from __future__ import annotations

import dataclasses
import random
import re
from typing import Any

from vnext_proxy.aio import gather_bounded
from vnext_proxy.calls import Send
from vnext_proxy.errors import VNextError, from_nova
from vnext_proxy.execution.context import Inbound, Services
from vnext_proxy.execution.schemas import link_schema, request_schema
from vnext_proxy.execution.server_groups import visible_group
from vnext_proxy.mapping.engine import VNextResponse
from vnext_proxy.mapping.ids import keypair_id, vnext_id
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.nova import operations as ops
from vnext_proxy.tasks import launch
from vnext_proxy.tasks.model import Task
from vnext_proxy.templates import compile_template
from vnext_proxy.timeutil import show_time
from vnext_proxy.validation import check_body


async def launch_servers(services: Services, req: Inbound) -> VNextResponse:
    project = ops.segment(req.match["project"], "project")
    body = check_body(
        await req.json(), _launch_schema(services.mappings, services.settings.max_servers_per_launch, project)
    )
    pattern = launch.pattern_problem((body.get("defaults") or {}).get("hostname_pattern"))
    if pattern is not None:
        raise VNextError(400, pattern, field="defaults.hostname_pattern")
    await services.projects.require(project, req.token, req.send)
    groups: dict[str, dict[str, Any]] = {}
    for group_id in sorted(launch.group_ids(body)):
        try:
            groups[group_id] = (await visible_group(services, req, group_id)).defaults
        except VNextError as exc:
            if exc.status != 404:
                raise
    servers = launch.merge_servers(body, random.Random(), groups)
    facts = await _facts(services, req, project, servers)
    facts = dataclasses.replace(facts, groups=frozenset(groups))
    problems = launch.check_launch(servers, facts)
    if problems:
        raise VNextError(400, f"{len(problems)} problem(s); nothing was launched", problems=problems)
    launched = []
    tasks: list[Task] = []
    server_links = services.mappings.objects["server"].links
    for index, server in enumerate(servers):
        answer = await req.send(ops.CREATE_SERVER(body=launch.nova_server_body(server, facts)))
        if not answer.ok:
            # Checked beforehand, so this is Nova changing its mind (a race,
            # a limit the proxy does not know): all or nothing, still.
            raise await _roll_back(services, req.send, tasks, index, from_nova(answer.status, answer.body))
        server_id = answer.part("server", "id")
        task = await services.tasks.record_launch(server_id, project, answer.request_id, req.token)
        launcher = services.caller.user_id(req.token)
        if launcher is not None and task.created_by is None:
            # Nova records the create action (which names the user) a moment
            # later, but a task always names who made it (server_task requires
            # created_by): the launcher is the caller, known from its keypair.
            task = await services.store.save_task(dataclasses.replace(task, created_by=launcher)) or task
        tasks.append(task)
        launched.append(
            {
                "id": server_id,
                "launched_at": show_time(task.created_at),
                # The server object's own links (servers.yaml), and its CREATE task's.
                "_links": {
                    **{rel: {"href": compile_template(t).expand({"id": server_id})} for rel, t in server_links},
                    "rel/server_task": {"href": compile_template("/server_tasks/{id}").expand({"id": task.id})},
                },
            }
        )
    return VNextResponse(202, launched)


async def _roll_back(services: Services, send: Send, tasks: list[Task], refused: int, error: VNextError) -> VNextError:
    """Delete the servers this launch made before Nova refused ``servers[refused]``,
    end their CREATE tasks ABORTED, and say so in the error answered."""
    reason = f"the launch was rolled back: Nova refused servers[{refused}] ({error.message})"
    rolled_back = []
    for index, task in enumerate(tasks):
        deleted = await send(ops.DELETE_SERVER(server_id=task.server_id))
        await services.tasks.abort(task, reason)
        outcome = "then deleted" if deleted.ok else f"but Nova answered {deleted.status} to deleting it"
        rolled_back.append({"field": f"servers[{index}]", "message": f"launched as {task.server_id}, {outcome}"})
    return VNextError(
        error.status,
        f"servers[{refused}]: {error.message}; nothing stays launched"
        + (f": the {len(tasks)} server(s) launched before it were deleted" if tasks else ""),
        field=f"servers[{refused}]",
        headers=error.headers,
        problems=rolled_back,
    )


def _launch_schema(mappings: MappingSet, max_servers: int, project: str) -> dict[str, Any]:
    """The spec's own create link (servers.json), whose ``project`` is the
    URL's, and with what Nova would refuse half way through refused first:
    the seed's names typed, user_data's size, and how many servers one
    request holds."""
    create = request_schema(link_schema(mappings, "server"), url={"project": project}, required=["servers"])
    properties = dict(create["properties"])
    defaults = properties["defaults"]
    properties["defaults"] = {**defaults, "properties": {**defaults["properties"], **_LAUNCH_LIMITS}}
    items = properties["servers"]["items"]
    properties["servers"] = {
        **properties["servers"],
        "maxItems": max_servers,
        "items": {**items, "properties": {**items["properties"], **_LAUNCH_LIMITS}},
    }
    return {**create, "properties": properties}


#: Per server (and in defaults), beyond the published schema.
_LAUNCH_LIMITS: dict[str, Any] = {
    "group_id": {"type": "string", "maxLength": 64},
    "region_id": {"type": "string", "maxLength": 255},
    # Nova takes at most 65,535 bytes of user data, base64-encoded.
    "user_data": {"type": "string", "maxLength": launch.MAX_USER_DATA_BASE64},
    "hostname": {"type": "string", "maxLength": launch.MAX_HOSTNAME},
    "hostname_pattern": {"type": "string", "maxLength": 255},
}

#: Nova calls one launch makes at a time (one image read per template).
NOVA_CALLS_AT_ONCE = 8

#: The project ids Nova's legacy URL form /v2.1/{project_id}/... accepts.
_NOVA_PROJECT_ID = re.compile(r"[0-9a-f-]+")


async def _facts(services: Services, req: Inbound, project: str, servers: list[dict[str, Any]]) -> launch.NovaFacts:
    send = req.send
    namespace = services.settings.id_namespace
    admin = await services.caller.is_admin(req.token, send)
    scope = (("all_tenants", "1"), ("project_id", project)) if admin else ()
    # Only ids that can be an image's reach Nova's path (check_launch refuses the rest).
    templates = sorted({s["template_id"] for s in servers if launch.is_uuid(s.get("template_id"))})
    # Nova launches into the token's project, whatever the vNext URL names.
    # Its legacy URL form answers 400 unless its project is the token's, so
    # reading the quota there stops an admin who names another project before
    # anything is launched (members cannot name another: it is 404 for them).
    checks_scope = _NOVA_PROJECT_ID.fullmatch(project) is not None
    limits = ops.PROJECT_LIMITS(project_id=project) if checks_scope else ops.LIMITS()
    flavors_a, keypairs_a, zones_a, servers_a, limits_a, *images_a = await gather_bounded(
        NOVA_CALLS_AT_ONCE,
        send(ops.FLAVORS(query=(("is_public", "None"),))),
        send(ops.KEYPAIRS()),
        send(ops.ZONES()),
        send(ops.SERVERS(query=(*scope, ("limit", "1000")))),
        send(limits),
        *(send(ops.IMAGE(image_id=t)) for t in templates),
    )
    if limits_a.status == 400 and checks_scope:
        raise VNextError(
            403,
            f"Nova launches into the project the token is scoped to, and that is not {project}: "
            f"launch with a token scoped to {project}",
        )
    for answer in (flavors_a, keypairs_a, zones_a, servers_a, limits_a):
        if not answer.ok:
            raise from_nova(answer.status, answer.body)
    flavors = flavors_a.part("flavors", kind=list)
    flavor_ids = services.flavors.learn(flavors)
    sizes = {str(f["id"]): (f["vcpus"], f["ram"]) for f in flavors}
    names = [k["keypair"]["name"] for k in keypairs_a.body.get("keypairs", [])]
    keypairs: dict[str, str] = {}
    if names:
        # A keypair's owner is only in its detail; all of these are the
        # caller's, so one detail, once per token (GET /keypairs keeps it too).
        user_id = services.caller.user_id(req.token)
        if user_id is None:
            first = await send(ops.KEYPAIR(keypair_name=names[0]))
            found = first.part("keypair", "user_id") if first.ok else None
            if isinstance(found, str):
                # The launch's CREATE tasks name who made them from this (see launch_servers).
                services.caller.learn_user_id(req.token, found)
                user_id = found
        for name in names:
            keypairs[keypair_id(namespace, user_id, name)] = name
            keypairs[name] = name
    zones: dict[str, str] = {}
    for zone in zones_a.body.get("availabilityZoneInfo", []):
        name = zone["zoneName"]
        zones[str(vnext_id(namespace, "availability_zone", name))] = name
        zones[name] = name
    listed = [s for s in servers_a.body.get("servers", []) if s.get("tenant_id") == project]
    hostnames = frozenset(s.get("OS-EXT-SRV-ATTR:hostname") or "" for s in listed)
    images = frozenset(t for t, a in zip(templates, images_a, strict=True) if a.ok)
    absolute = limits_a.part("limits", "absolute")
    room = {
        "instances": _room(absolute["maxTotalInstances"], absolute["totalInstancesUsed"]),
        "cores": _room(absolute["maxTotalCores"], absolute["totalCoresUsed"]),
        "ram": _room(absolute["maxTotalRAMSize"], absolute["totalRAMUsed"]),
    }
    project_servers = {s["id"]: tuple(s.get("tags") or ()) for s in listed}
    return launch.NovaFacts(flavor_ids, images, keypairs, zones, hostnames, sizes, room, servers=project_servers)


def _room(maximum: int, used: int) -> int:
    """Quota left: -1 when unlimited (Nova's -1), never below 0 (an admin
    may lower a quota below what is in use already)."""
    return -1 if maximum < 0 else max(maximum - used, 0)
