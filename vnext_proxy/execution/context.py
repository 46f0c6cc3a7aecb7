"""What an execution function is given: the app's services and one request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from multidict import MultiMapping

from vnext_proxy.calls import Send
from vnext_proxy.config import Settings
from vnext_proxy.execution.flavors import FlavorIds
from vnext_proxy.execution.projects import ProjectAccess
from vnext_proxy.mapping.engine import VNextResponse
from vnext_proxy.mapping.hooks import RenderContext
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.nova.caller import CallerFacts
from vnext_proxy.stores import Store
from vnext_proxy.tasks.engine import TaskEngine


@dataclass(frozen=True)
class Services:
    """Built once per app; shared by every request."""

    settings: Settings
    mappings: MappingSet
    caller: CallerFacts
    projects: ProjectAccess
    flavors: FlavorIds
    store: Store
    tasks: TaskEngine

    @property
    def render_context(self) -> RenderContext:
        return RenderContext(id_namespace=self.settings.id_namespace)


@dataclass(frozen=True)
class Inbound:
    """One vNext request, as execution sees it: no HTTP."""

    #: The caller's token ("" on routes that need none).
    token: str
    method: str
    #: Nova with that token; the edge records each call (request ids, explain).
    send: Send
    path: str
    path_qs: str
    match: Mapping[str, str]
    query: MultiMapping[str]
    #: The request body, parsed as JSON (or 400/415) when first asked for.
    json: Callable[[], Awaitable[Any]]


#: An execution function: what a named route does.
Execute = Callable[[Services, Inbound], Awaitable[VNextResponse]]
