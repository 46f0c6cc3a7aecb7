"""Nova scripted for unit tests: each test lists, in order, the calls a vNext
request must make and what Nova answers to each (as openstacksdk's tests
script their HTTP calls). A call out of script, or one never made, fails."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import orjson
from multidict import MultiDict, MultiDictProxy

from vnext_proxy.calls import NovaAnswer, PlannedCall
from vnext_proxy.config import parse_settings
from vnext_proxy.execution.context import Inbound, Services
from vnext_proxy.execution.flavors import FlavorIds
from vnext_proxy.execution.named import executor_for
from vnext_proxy.execution.projects import ProjectAccess
from vnext_proxy.mapping.engine import VNextResponse
from vnext_proxy.mapping.loader import load_mappings
from vnext_proxy.nova.caller import CallerFacts

#: A step's ``sent`` when the test does not check the body the proxy sends.
ANY: Any = object()


@dataclass
class Step:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    status: int = 200
    #: Nova's answer body (None: no body).
    answer: Any = None
    #: The body the proxy must send (ANY: not checked).
    sent: Any = ANY


@dataclass
class ScriptedNova:
    """Nova that expects exactly these calls, in this order."""

    steps: list[Step]
    made: list[PlannedCall] = field(default_factory=list)

    async def __call__(self, call: PlannedCall) -> NovaAnswer:
        assert self.steps, f"unexpected Nova call {call.method} {call.path} {dict(call.query)} {call.body}"
        step = self.steps.pop(0)
        assert (call.method, call.path, dict(call.query)) == (step.method, step.path, step.query)
        if step.sent is not ANY:
            assert call.body == step.sent
        self.made.append(call)
        raw = orjson.dumps(step.answer) if step.answer is not None else b""
        return NovaAnswer(step.status, f"req-{len(self.made):08d}-0000-0000-0000-000000000000", raw)

    def finished(self) -> None:
        assert not self.steps, f"calls never made: {self.steps}"


# -- one vNext request executed against scripted Nova, without HTTP ------------------

MAPPINGS = load_mappings()
SETTINGS = parse_settings("nova:\n  endpoint: http://nova.invalid/v2.1\n")
#: ``body`` when the request has none: reading it fails the test.
NO_BODY: Any = object()


def services(flavors: FlavorIds | None = None) -> Services:
    # Mapped and server-type routes reach neither the store nor the task engine.
    return Services(
        SETTINGS,
        MAPPINGS,
        CallerFacts(),
        ProjectAccess(),
        flavors or FlavorIds(SETTINGS.id_namespace),
        cast(Any, None),
        cast(Any, None),
    )


async def execute(
    method: str,
    uri: str,
    nova: Callable[[PlannedCall], Awaitable[NovaAnswer]],
    given: Services | None = None,
    token: str = "t",
    body: Any = NO_BODY,
) -> VNextResponse:
    """The answer of the route ``method uri`` matches, as route execution gives it."""
    parts = urlsplit(uri)
    (route,) = [r for r in MAPPINGS.routes if r.method == method and _match(r.path, parts.path) is not None]

    async def json() -> Any:
        assert body is not NO_BODY, "the route read a body"
        return body

    req = Inbound(
        token=token,
        method=method,
        send=nova,
        path=parts.path,
        path_qs=uri,
        match=_match(route.path, parts.path) or {},
        query=MultiDictProxy(MultiDict(parse_qsl(parts.query))),
        json=json,
    )
    return await executor_for(route, SETTINGS).execute(given or services(), req)


def _match(template: str, path: str) -> dict[str, str] | None:
    """The path variables, if ``path`` is of the ``template``'s shape."""
    t, p = template.strip("/").split("/"), path.strip("/").split("/")
    if len(t) != len(p) or not all(a.startswith("{") or a == b for a, b in zip(t, p, strict=True)):
        return None
    return {a[1:-1]: b for a, b in zip(t, p, strict=True) if a.startswith("{")}
