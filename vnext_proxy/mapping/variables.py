"""Variables a mapping may use beyond the route's own: facts about the caller
that the proxy finds out from Nova when (and only when) a route needs them.
The values come from ``vnext_proxy.nova.caller``; only the names live here,
so the loader can check templates without doing I/O."""

from __future__ import annotations

#: The kind of value a route's path variable must be (nova.operations.KINDS):
#: checked before any Nova call, so what cannot exist is 404 without asking.
PATH_VARIABLE_KINDS: dict[str, str] = {
    "server_id": "uuid",
    "group_id": "uuid",
    "task_id": "uuid",
    "project": "project",
    "tag": "tag",
    # A keypair's vNext id or its Nova name (a UUID is a valid name too).
    "keypair": "keypair",
}

PROVIDED_VARIABLES: dict[str, str] = {
    "caller_all_tenants": '"1" when the caller may list every project (admin), else absent',
}


#: Routes served by a named Python handler (the task engine's routes): the
#: mapping declares the route, its gap row and its status; the handler does
#: what a list of Nova calls cannot (start a task, merge Nova's history).
ROUTE_HANDLERS: dict[str, str] = {
    "start_task": "POST /servers/{server_id}/tasks: validate, record the task, call Nova (Idempotency-Key)",
    "get_task": "GET /server_tasks/{task_id}",
    "server_tasks": "GET /servers/{server_id}/tasks: the proxy's tasks and Nova's other actions",
    "task_items": "GET /server_tasks/{task_id}/items",
    "launch_servers": "POST /projects/{project}/servers: check every server, launch each with a CREATE task "
    "(Idempotency-Key)",
    "create_server_type": "POST /server_types: a flavor, its tags (extra spec) and shares (flavor access)",
    "update_server_type": "PATCH /server_types/{id}: name, spec and visibility (the flavor made again under its "
    "id), description, tags and shares; 204",
    "server_type_tags": "GET/PUT/DELETE /server_types/{id}/tags",
    "server_type_tag": "PUT/DELETE /server_types/{id}/tags/{tag}",
    "server_type_shares": "GET/PUT/DELETE /server_types/{id}/shares",
    "server_type_project_share": "PUT/DELETE /server_types/{id}/shares/projects/{project}",
    "server_type_user_share": "PUT/DELETE /server_types/{id}/shares/users/{user}: 501, Nova has no per-user access",
    "create_server_group": "POST /projects/{project}/server_groups: a Nova server group plus the proxy's record",
    "get_server_group": "GET /server_groups/{id}",
    "project_server_group": "GET /projects/{project}/server_groups/{slug}",
    "project_server_groups": "GET /projects/{project}/server_groups",
    "list_keypairs": "GET /keypairs: the caller's Nova keypairs, with the vNext ids their owner and names make",
    "get_keypair": "GET /keypairs/{keypair}: one of them, by id or name, with Nova's created time",
}

#: Route variables a mapping may have turned from vNext ids into Nova ids
#: (``resolve:``); the resolvers live in vnext_proxy.execution (flavors.py).
RESOLVERS: dict[str, str] = {"flavor": "a server type's id or name -> the Nova flavor id"}
