"""POST /projects/{project}/servers: pre-validate every server, then launch
each through Nova with a CREATE task. The checks are ``tasks.launch``; this
module gathers what they need from Nova."""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Awaitable, Callable
from typing import Any

import jsonschema
from aiohttp import web

from vnext_proxy.aio import gather_bounded
from vnext_proxy.errors import VNextError, from_nova
from vnext_proxy.mapping import engine
from vnext_proxy.mapping.engine import PlannedCall
from vnext_proxy.mapping.hooks import RenderContext
from vnext_proxy.nova import operations as ops
from vnext_proxy.nova.client import NovaAnswer
from vnext_proxy.tasks import launch
from vnext_proxy.tasks.model import Task
from vnext_proxy.timeutil import show_time
from vnext_proxy.web.handlers import caller_token, json_body, require_project, respond, send_for
from vnext_proxy.web.keys import CALLER, MAPPINGS, SETTINGS, TASKS
from vnext_proxy.web.server_group_handlers import visible_group
from vnext_proxy.yamlsource import dotted


async def launch_servers(request: web.Request) -> web.StreamResponse:
    token = caller_token(request)
    project = ops.segment(request.match_info["project"], "project")
    body = await json_body(request)
    _validate_shape(request, body)

    async def send(call: PlannedCall, microversion: str | None = None) -> NovaAnswer:
        return await send_for(request, call, token, microversion)

    pattern = launch.pattern_problem((body.get("defaults") or {}).get("hostname_pattern"))
    if pattern is not None:
        raise VNextError(400, pattern, field="defaults.hostname_pattern")
    await require_project(request, project, token)
    groups: dict[str, dict[str, Any]] = {}
    for group_id in sorted(launch.group_ids(body)):
        try:
            groups[group_id] = (await visible_group(request, group_id, token)).defaults
        except VNextError as exc:
            if exc.status != 404:
                raise
    servers = launch.merge_servers(body, random.Random(), groups)
    facts = await _facts(request, send, project, token, servers)
    facts = dataclasses.replace(facts, groups=frozenset(groups))
    problems = launch.check_launch(servers, facts)
    if problems:
        raise VNextError(400, f"{len(problems)} problem(s); nothing was launched", problems=problems)
    launched = []
    tasks: list[Task] = []
    for index, server in enumerate(servers):
        answer = await send(ops.CREATE_SERVER(body=launch.nova_server_body(server, facts)))
        if not answer.ok:
            # Checked beforehand, so this is Nova changing its mind (a race,
            # a limit the proxy does not know): all or nothing, still.
            raise await _roll_back(request, send, tasks, index, from_nova(answer.status, answer.body))
        server_id = answer.part("server", "id")
        task = await request.app[TASKS].record_launch(server_id, project, answer.request_id, token)
        tasks.append(task)
        launched.append(
            {
                "id": server_id,
                "launched_at": show_time(task.created_at),
                "_links": {
                    "self": {"href": f"/servers/{server_id}"},
                    "describedby": {"href": "/schemas/server"},
                    "rel/server_tasks": {"href": f"/servers/{server_id}/tasks"},
                    "rel/server_task": {"href": f"/server_tasks/{task.id}"},
                },
            }
        )
    return respond(request, launched, 202, {})


async def _roll_back(
    request: web.Request, send: Send, tasks: list[Task], refused: int, error: VNextError
) -> VNextError:
    """Delete the servers this launch made before Nova refused ``servers[refused]``,
    end their CREATE tasks ABORTED, and say so in the error answered."""
    reason = f"the launch was rolled back: Nova refused servers[{refused}] ({error.message})"
    rolled_back = []
    for index, task in enumerate(tasks):
        deleted = await send(ops.DELETE_SERVER(server_id=task.server_id))
        await request.app[TASKS].abort(task, reason)
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


def _validate_shape(request: web.Request, body: Any) -> None:
    """Against the spec's own create link (servers.json), less its ``project``,
    which is the URL's."""
    server_schema = request.app[MAPPINGS].schemas["server"]
    link = next(lk for lk in server_schema["links"] if lk.get("method") == "POST")
    properties = {k: v for k, v in link["schema"]["properties"].items() if k != "project"}
    # What Nova would refuse half way through, refused first: the seed's
    # names typed, user_data's size, and how many servers one request holds.
    defaults = properties["defaults"]
    properties["defaults"] = {**defaults, "properties": {**defaults["properties"], **_LAUNCH_LIMITS}}
    items = properties["servers"]["items"]
    properties["servers"] = {
        **properties["servers"],
        "maxItems": request.app[SETTINGS].max_servers_per_launch,
        "items": {**items, "properties": {**items["properties"], **_LAUNCH_LIMITS}},
    }
    schema = {**link["schema"], "required": ["servers"], "properties": properties}
    validator = jsonschema.validators.validator_for(server_schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(body))
    if error is not None:
        where = dotted(tuple(error.absolute_path)) or "body"
        raise VNextError(400, f"{where}: {error.message}", field=where)


#: Per server (and in defaults), beyond the published schema.
_LAUNCH_LIMITS: dict[str, Any] = {
    "group_id": {"type": "string", "maxLength": 64},
    "region_id": {"type": "string", "maxLength": 255},
    # Nova takes at most 65,535 bytes of user data, base64-encoded.
    "user_data": {"type": "string", "maxLength": launch.MAX_USER_DATA_BASE64},
    "hostname": {"type": "string", "maxLength": launch.MAX_HOSTNAME},
    "hostname_pattern": {"type": "string", "maxLength": 255},
}

Send = Callable[..., Awaitable[NovaAnswer]]


#: Nova calls one launch makes at a time (one image read per template).
NOVA_CALLS_AT_ONCE = 8

#: The project ids Nova's legacy URL form /v2.1/{project_id}/... accepts.
_NOVA_PROJECT_ID = re.compile(r"[0-9a-f-]+")


async def _facts(
    request: web.Request, send: Send, project: str, token: str, servers: list[dict[str, Any]]
) -> launch.NovaFacts:
    settings = request.app[SETTINGS]
    ctx = RenderContext(id_namespace=settings.id_namespace)
    mappings = request.app[MAPPINGS]

    async def sender(call: PlannedCall) -> NovaAnswer:
        return await send(call)

    admin = await request.app[CALLER].is_admin(token, sender)
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
        # Nova still proxies images at 2.35; a real cloud's Glance answers the same.
        *(send(ops.IMAGE(image_id=t), microversion="2.35") for t in templates),
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
    flavor_ids: dict[str, str] = {}
    sizes: dict[str, tuple[int, int]] = {}
    for flavor in flavors_a.part("flavors"):
        rendered = engine.render_object(mappings.objects["server_type"], flavor, ctx)
        flavor_ids[rendered["id"]] = flavor_ids[flavor["name"]] = str(flavor["id"])
        sizes[str(flavor["id"])] = (flavor["vcpus"], flavor["ram"])
    names = [k["keypair"]["name"] for k in keypairs_a.body.get("keypairs", [])]
    keypairs: dict[str, str] = {}
    if names:
        # A keypair's owner is only in its detail; all of these are the caller's.
        first = await send(ops.KEYPAIR(keypair_name=names[0]))
        user_id = first.part("keypair", "user_id") if first.ok else None
        for name in names:
            keypairs[engine.keypair_id(settings.id_namespace, user_id, name)] = name
            keypairs[name] = name
    zones: dict[str, str] = {}
    for zone in zones_a.body.get("availabilityZoneInfo", []):
        name = zone["zoneName"]
        zones[str(engine.vnext_id(settings.id_namespace, "availability_zone", name))] = name
        zones[name] = name
    listed = [s for s in servers_a.body.get("servers", []) if s.get("tenant_id") == project]
    hostnames = frozenset(s.get("OS-EXT-SRV-ATTR:hostname") or "" for s in listed)
    images = frozenset(t for t, a in zip(templates, images_a, strict=True) if a.ok)
    absolute = limits_a.part("limits", "absolute")
    room = {
        "instances": absolute["maxTotalInstances"] - absolute["totalInstancesUsed"],
        "cores": absolute["maxTotalCores"] - absolute["totalCoresUsed"],
        "ram": absolute["maxTotalRAMSize"] - absolute["totalRAMUsed"],
    }
    project_servers = {s["id"]: tuple(s.get("tags") or ()) for s in listed}
    return launch.NovaFacts(flavor_ids, images, keypairs, zones, hostnames, sizes, room, servers=project_servers)
