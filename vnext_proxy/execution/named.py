"""Every route's executor: from its mapping, or a named execution function
(``handler:``; their names and descriptions are mapping.variables.ROUTE_HANDLERS)."""

from __future__ import annotations

from typing import Protocol

from vnext_proxy.config import Settings
from vnext_proxy.execution import keypairs, launch, server_groups, server_types, tasks
from vnext_proxy.execution.context import Execute, Inbound, Services
from vnext_proxy.execution.routes import NamedExecutor, RouteExecutor
from vnext_proxy.mapping.engine import VNextResponse
from vnext_proxy.mapping.model import Route

NAMED: dict[str, Execute] = {
    "start_task": tasks.start_task,
    "get_task": tasks.get_task,
    "server_tasks": tasks.server_tasks,
    "task_items": tasks.task_items,
    "launch_servers": launch.launch_servers,
    "create_server_type": server_types.create_server_type,
    "update_server_type": server_types.update_server_type,
    "server_type_tags": server_types.server_type_tags,
    "server_type_tag": server_types.server_type_tag,
    "server_type_shares": server_types.server_type_shares,
    "server_type_project_share": server_types.server_type_project_share,
    "server_type_user_share": server_types.server_type_user_share,
    "create_server_group": server_groups.create_server_group,
    "get_server_group": server_groups.get_server_group,
    "project_server_group": server_groups.project_server_group,
    "project_server_groups": server_groups.project_server_groups,
    "list_keypairs": keypairs.list_keypairs,
    "get_keypair": keypairs.get_keypair,
}


class Executor(Protocol):
    async def execute(self, services: Services, req: Inbound) -> VNextResponse: ...


def executor_for(route: Route, settings: Settings) -> Executor:
    if route.handler is not None:
        return NamedExecutor(route, NAMED[route.handler])
    return RouteExecutor(route, settings)
