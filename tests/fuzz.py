"""Property-based fuzzing of every route, for tests/unit/test_fuzz.py (a
stand-in Nova answering junk) and tests/devcloud/test_fuzz_devcloud.py.

Requests are drawn from the mappings: each route's path variables and
query parameters get hostile strings, UUIDs and text; bodies get the
property names and enum values of the published schemas, plus deep and odd
JSON. The proxy runs in a thread of its own, serving real HTTP, so each
example is one request, and hypothesis runs derandomized: the same
examples on every run, never a chance failure.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import requests as http
from aiohttp import web
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from vnext_proxy.mapping.model import MappingSet, Route
from vnext_proxy.nova.operations import OPERATIONS

HOSTILE = [
    "..", ".", "%2F", "..%2F..", "a/b", "#x", "?x=1", "²", "٣", "9" * 40, "-1", "0", "1e309", " ", "\u0000",
    "%00", "%2e%2e", "ü", "a" * 300, "null", "[]", "{}", "00000000-0000-0000-0000-000000000000",
]  # fmt: skip

# Hostile strings drawn most often: they are what must never pass.
values = st.one_of(
    st.sampled_from(HOSTILE),
    st.sampled_from(HOSTILE),
    st.sampled_from(HOSTILE),
    st.uuids().map(str),
    st.text(max_size=24),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)

json_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))


def _schema_words(schema: Any) -> set[str]:
    """Property names and enum values in a JSON-Schema: what a body is made of."""
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.update(k for k in node.get("properties", {}) if isinstance(k, str))
            found.update(v for v in node.get("enum", []) if isinstance(v, str))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def bodies(mappings: MappingSet) -> st.SearchStrategy[Any]:
    words = sorted(
        {w for s in mappings.schemas.values() for w in _schema_words(s)} | set(mappings.actions) | {"action"}
    )
    keys = st.one_of(st.sampled_from(words), st.text(max_size=10))
    nested = st.recursive(
        json_leaves | st.sampled_from(HOSTILE),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
        max_leaves=25,
    )
    deep = st.integers(min_value=30, max_value=5000).map(lambda n: "[" * n + "]" * n)
    return st.one_of(st.none(), nested, deep.map(lambda text: RawBody(text)))


class RawBody(str):
    """A body sent as it is, not as JSON (deep nesting, broken JSON)."""


def fuzz_settings(examples: int) -> settings:
    """The same ``examples`` every run (derandomized, no example database):
    a fuzz run in CI never fails by chance."""
    return settings(
        max_examples=examples, derandomize=True, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )  # fmt: skip


def send(base: str, method: str, path: str, body: Any, token: str) -> http.Response:
    """One fuzzed request, over real HTTP (the proxy runs in a ServingThread)."""
    data = str(body) if isinstance(body, RawBody) else None if body is None else json.dumps(body)
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
    return http.request(method, base + path, data=data, headers=headers, timeout=60, allow_redirects=False)


@st.composite
def requests(draw: st.DrawFn, mappings: MappingSet) -> tuple[str, str, Any]:
    route: Route = draw(st.sampled_from(mappings.routes))
    path = route.path
    for var in route.path_vars:
        path = path.replace("{" + var + "}", quote(draw(values), safe=""))
    query = [(q, draw(values)) for q in route.query_vars if draw(st.integers(0, 2))]
    if query:
        path += "?" + "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in query)
    body = draw(bodies(mappings)) if route.method in ("POST", "PUT", "PATCH") else None
    return route.method, path, body


def declared_paths(mappings: MappingSet) -> re.Pattern[str]:
    """Every path a Nova call may have: the mappings' and the operations'
    templates, each variable one segment."""
    templates = {call.path for route in mappings.routes for call in route.nova}
    templates |= {route.owner_probe for route in mappings.routes if route.owner_probe}
    templates |= {op.template for op in OPERATIONS}
    templates |= {action.call.path for spec in mappings.actions.values() for action in spec.variants if action.call}
    alternatives = ["/"]
    for template in templates:
        parts = re.split(r"\{[^}]+\}", template)
        alternatives.append("/v2.1" + "[^/]+".join(re.escape(p) for p in parts))
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


class ServingThread:
    """A thread with its own event loop serving aiohttp apps over real HTTP,
    so a test can send one plain request per hypothesis example."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._runners: list[web.AppRunner] = []
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def serve(self, app: web.Application, port: int = 0) -> str:
        async def start() -> str:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", port)
            await site.start()
            self._runners.append(runner)
            bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            return f"http://127.0.0.1:{bound}"

        return asyncio.run_coroutine_threadsafe(start(), self.loop).result(60)

    def close(self) -> None:
        async def stop() -> None:
            for runner in reversed(self._runners):
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@contextmanager
def serving() -> Iterator[ServingThread]:
    thread = ServingThread()
    try:
        yield thread
    finally:
        thread.close()
