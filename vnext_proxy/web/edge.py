"""One generic handler per declared route: plan, call Nova, render.

This is the I/O side of the mapping engine: it runs the Nova calls the
engine plans and hands the answers back to the engine's pure renderers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

import jsonschema
import orjson
from aiohttp import web
from cachetools import LRUCache

from vnext_proxy.errors import VNextError, from_nova
from vnext_proxy.mapping import engine
from vnext_proxy.mapping.engine import PlannedCall
from vnext_proxy.mapping.hooks import RenderContext
from vnext_proxy.mapping.model import Route, microversion
from vnext_proxy.mapping.templates import compile_template
from vnext_proxy.mapping.variables import PATH_VARIABLE_KINDS, PROVIDED_VARIABLES
from vnext_proxy.nova import operations
from vnext_proxy.nova.client import NovaAnswer
from vnext_proxy.nova.resolvers import resolve_flavor
from vnext_proxy.web.keys import CALLER, MAPPINGS, NOVA, SETTINGS
from vnext_proxy.web.middlewares import BACKEND_REQUEST_IDS, NOVA_CALLS, REQUEST_ID
from vnext_proxy.yamlsource import dotted

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def send_for(request: web.Request, call: PlannedCall, token: str, microversion: str | None = None) -> NovaAnswer:
    """Every Nova call made for a vNext request goes here: the caller's token,
    the request id, and a record of the call (backend ids, explain)."""
    started = time.perf_counter()
    answer = await request.app[NOVA].send(call, token=token, microversion=microversion, request_id=request[REQUEST_ID])
    if answer.request_id:
        request[BACKEND_REQUEST_IDS].append(answer.request_id)
    if not _explaining(request):
        return answer
    request[NOVA_CALLS].append(
        {
            "method": call.method,
            "path": call.path,
            "query": dict(call.query),
            "microversion": microversion or request.app[SETTINGS].nova.microversion,
            "status": answer.status,
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "request_id": answer.request_id,
        }
    )
    return answer


def _explaining(request: web.Request) -> bool:
    return request.app[SETTINGS].explain and request.headers.get("X-VNext-Explain") == "1"


async def call_nova(request: web.Request, token: str, call: PlannedCall, ok: Collection[int] = ()) -> NovaAnswer:
    """``send_for``, with Nova's errors turned into vNext ones (unless in ``ok``)."""
    answer = await send_for(request, call, token)
    if not answer.ok and answer.status not in ok:
        raise from_nova(answer.status, answer.body)
    return answer


def check_page_query(request: web.Request) -> tuple[int, str | None]:
    """limit and marker of a collection paged in the proxy: a handler checks
    them before it asks Nova anything."""
    return _limit(request, 20, 1000), _marker(request)


def page_response(request: web.Request, key: str, items: list[dict[str, Any]]) -> web.StreamResponse:
    """A collection paged in the proxy (limit, marker on the items' ids)."""
    limit, marker = check_page_query(request)
    page, more = engine.page_in_proxy(items, marker, limit)
    next_href = None
    if more and page:
        next_href = engine.page_href(request.path, list(request.query.items()), page[-1]["id"])
    return respond(request, engine.list_body(key, page, request.path_qs, next_href), 200, {})


#: How deep a request body may nest. The spec's deepest request (a launch
#: with affinity) is four levels; a limit, not a recursion error.
MAX_JSON_DEPTH = 32


async def json_body(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise VNextError(415, "send the body as application/json")
    try:
        # orjson parses without Python recursion (and stops at 1024 levels).
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise VNextError(400, "the body is not valid JSON", field="body") from None
    if _nests_deeper(body, MAX_JSON_DEPTH):
        raise VNextError(400, f"the body nests deeper than {MAX_JSON_DEPTH} levels", field="body")
    return body


def _nests_deeper(value: Any, limit: int) -> bool:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def caller_token(request: web.Request) -> str:
    token = request.headers.get("X-Auth-Token", "").strip()
    if not token:
        raise VNextError(401, "Authentication required: send an X-Auth-Token header")
    return token


@dataclass(frozen=True)
class _KeptListing:
    listing: engine.Listing
    size: int


class RouteHandler:
    """Serves one mapping route. Holds the route; does no parsing per request."""

    def __init__(self, route: Route, cache_bytes: int) -> None:
        self.route = route
        self.cache_bytes = cache_bytes
        self.kinds = tuple((v, PATH_VARIABLE_KINDS[v]) for v in route.path_vars if v in PATH_VARIABLE_KINDS)
        templates = [c.path for c in route.nova] + [t for c in route.nova for _, t in c.query]
        used = {name for t in templates for name in compile_template(t).names}
        self.provided = used & set(PROVIDED_VARIABLES)
        # A list answer Nova repeats byte for byte (a dashboard polling an
        # unchanged project) is neither decoded nor rendered again. Keyed by
        # the bytes themselves, so any change in them is a miss.
        self._listings: LRUCache[bytes, _KeptListing] = LRUCache(maxsize=cache_bytes, getsizeof=lambda kept: kept.size)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        route = self.route
        if route.not_applicable is not None:
            na = route.not_applicable
            raise VNextError(na.answer, f"{na.reason} Use instead: {na.use_instead}")
        token = caller_token(request) if route.auth else ""
        for var, kind in self.kinds:  # what cannot exist is 404 before Nova is asked
            operations.segment(request.match_info[var], kind)
        # A list's query is checked before Nova is asked anything: 400, nothing sent.
        list_query = self._list_query(request) if route.response.list_key is not None else None
        settings = request.app[SETTINGS]
        ctx = RenderContext(id_namespace=settings.id_namespace)
        variables: dict[str, Any] = dict(request.match_info)
        variables.update({q: request.query[q] for q in route.query_vars if q in request.query})
        variables.update(engine.derive_variables(route.derived, variables))
        if route.requires_project is not None:
            await require_project(request, variables[route.requires_project], token)
        for name, resolver in route.resolve:
            variables[name] = await _resolve(request, resolver, variables[name], token)
        if route.request_schema is not None:
            variables["body"] = check_body(await json_body(request), route.request_schema)
        if self.provided:
            caller = request.app[CALLER]
            variables.update(
                await caller.variables(self.provided, token, lambda c: self._send(request, c, token, ok={403}))
            )
        if list_query is not None:
            return await self._list(request, token, variables, ctx, list_query)
        bodies: dict[str, Any] = {}
        for call in route.nova:
            if engine.call_is_needed(call, bodies, variables):
                bodies[call.name] = (await self._send(request, engine.plan_call(call, variables), token)).body
        mappings = request.app[MAPPINGS]
        result = engine.render_response(route, mappings, bodies, request.path_qs, ctx, variables)
        if not route.response.body:
            return respond(request, None, result.status, dict(result.headers))
        return respond(request, result.body, result.status, dict(result.headers), result.content_type)

    async def _send(
        self,
        request: web.Request,
        call: PlannedCall,
        token: str,
        ok: Collection[int] = (),
    ) -> NovaAnswer:
        answer = await send_for(request, call, token)
        if not answer.ok and answer.status not in ok:
            if answer.status == 403 and self.route.owner_probe is not None and await self._invisible(request, token):
                raise VNextError(404, "Not found, or not yours")
            error = from_nova(answer.status, answer.body)
            remapped = dict(self.route.errors).get(answer.status)
            if remapped == 404:
                # Hide what Nova refused and why: to this caller it does not exist.
                error = VNextError(404, "Not found, or not yours")
            elif remapped is not None:
                error.status = remapped
            raise error
        return answer

    async def _invisible(self, request: web.Request, token: str) -> bool:
        assert self.route.owner_probe is not None
        probe = PlannedCall("owner", "GET", _probe_path(self.route.owner_probe, request))
        return (await self._send(request, probe, token, ok={403, 404})).status == 404

    def _list_query(self, request: web.Request) -> tuple[int, str | None, dict[str, list[str]]]:
        """A list's limit, marker and filter values, checked before Nova is asked anything."""
        spec = self.route.response
        assert spec.paging is not None  # the loader requires paging on lists
        limit = _limit(request, spec.paging.default_limit, spec.paging.max_limit)
        # A filter takes its values from the query (repeatable) or, for a
        # path variable such as /projects/{project}/..., from the path.
        values = {f.var: request.query.getall(f.var) for f in spec.filters if f.var in request.query}
        values.update({f.var: [request.match_info[f.var]] for f in spec.filters if f.var in request.match_info})
        engine.check_filter_values(spec.filters, values)
        return limit, _marker(request), values

    async def _list(
        self,
        request: web.Request,
        token: str,
        variables: dict[str, str],
        ctx: RenderContext,
        query: tuple[int, str | None, dict[str, list[str]]],
    ) -> web.StreamResponse:
        spec = self.route.response
        assert spec.paging is not None  # the loader requires paging on lists
        assert spec.list_key is not None
        assert spec.object is not None
        obj_spec = request.app[MAPPINGS].objects[spec.object]
        settings = request.app[SETTINGS]
        limit, marker, values = query
        for filt in spec.filters:
            if filt.project and filt.var in request.query:
                for project in values.get(filt.var, ()):
                    try:
                        await require_project(request, project, token)
                    except VNextError as exc:
                        if exc.status != 404:
                            raise
                        raise VNextError(400, f"{project} is not a project of yours", field=filt.var) from None
        to_nova, in_proxy = engine.split_filters(spec.filters, microversion(settings.nova.microversion), values)
        (listing,) = self.route.nova  # the loader allows one call per list route

        def wanted(item: dict[str, Any]) -> bool:
            return engine.keep(item, in_proxy, values)

        async def fetch(query: list[tuple[str, str]]) -> engine.Listing:
            answer = await self._send(request, engine.plan_call(listing, variables, query), token)
            kept = self._listings.get(answer.raw)
            if kept is None:
                rendered = engine.render_listing(obj_spec, listing.name, spec.source, answer.body, ctx)
                # The bytes are the key, and the listing is about as large again.
                kept = _KeptListing(rendered, 3 * len(answer.raw))
                if kept.size <= self.cache_bytes:
                    self._listings[answer.raw] = kept
            return kept.listing

        headers: dict[str, str] = {}
        if spec.paging.mode == "proxy":
            kept = [item for _, item in await fetch(to_nova) if wanted(item)]
            items, more = engine.page_in_proxy(kept, marker, limit)
            next_marker = str(items[-1]["id"]) if items else None
        else:
            page = await _collect_nova_pages(
                fetch, wanted, to_nova, marker, limit, spec.paging.max_scan, filtering=bool(in_proxy)
            )
            items, more, next_marker = page.items, page.more, page.next_marker
            if page.capped:
                headers["X-VNext-Scan-Capped"] = str(spec.paging.max_scan)
        if in_proxy:
            # Say which filters the proxy applied itself, not Nova.
            headers["X-VNext-Proxy-Filters"] = ",".join(f.var for f in in_proxy)
        next_href = None
        if more and next_marker:
            next_href = engine.page_href(request.path, list(request.query.items()), next_marker)
        body = engine.list_body(spec.list_key, items, request.path_qs, next_href)
        return respond(request, body, 200, headers)


@dataclass
class _Page:
    items: list[dict[str, Any]]
    more: bool
    next_marker: str | None
    capped: bool


async def _collect_nova_pages(
    fetch: Callable[[list[tuple[str, str]]], Awaitable[engine.Listing]],
    wanted: Callable[[dict[str, Any]], bool],
    to_nova: list[tuple[str, str]],
    marker: str | None,
    limit: int,
    max_scan: int,
    filtering: bool,
) -> _Page:
    """Follow Nova's pages until ``limit`` items pass the proxy's filters, Nova
    runs out, or ``max_scan`` Nova items were read. The next marker is the
    last item *scanned*, so the next page resumes exactly there."""
    items: list[dict[str, Any]] = []
    scanned = 0
    last_scanned = marker
    while True:
        # Unfiltered, ask for exactly what is missing; filtered, read ahead.
        size = max(limit - len(items), 1) if not filtering else max(min(max_scan - scanned, max(limit, 50)), 1)
        query = [*to_nova, ("limit", str(size))] + ([("marker", last_scanned)] if last_scanned else [])
        batch = await fetch(query)
        exhausted = len(batch) < size
        for position, (nova_id, item) in enumerate(batch):
            if nova_id is None:
                raise VNextError(502, "Nova's answer lists an object without an id")
            scanned += 1
            last_scanned = nova_id
            if wanted(item):
                items.append(item)
                if len(items) == limit:
                    left_over = position + 1 < len(batch)
                    return _Page(items, left_over or not exhausted, last_scanned, False)
        if exhausted:
            return _Page(items, False, None, False)
        if scanned >= max_scan:
            return _Page(items, True, last_scanned, True)


def check_body(body: Any, schema: dict[str, Any]) -> Any:
    """The body, if it matches the schema; 400 naming the first field that does not."""
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(body))
    if error is not None:
        where = dotted(tuple(error.absolute_path)) or "body"
        raise VNextError(400, f"{where}: {error.message}", field=where)
    return body


async def _resolve(request: web.Request, resolver: str, wanted: str, token: str) -> str:
    assert resolver == "flavor"  # the loader allows no other
    try:
        return await resolve_flavor(
            lambda call: send_for(request, call, token), request.app[MAPPINGS], request.app[SETTINGS], wanted
        )
    except VNextError as exc:
        if exc.status == 400:  # a path that names nothing is a 404
            raise VNextError(404, f"No server type {wanted!r}, or it is not yours") from None
        raise


#: A window long past: Nova's project policy check without reading any usage.
_OWNERSHIP = (("start", "2000-01-01T00:00:00"), ("end", "2000-01-01T00:00:01"))


async def require_project(request: web.Request, project: str, token: str) -> None:
    """404 unless Nova lets the caller read the project (its own, or any for admins)."""
    answer = await send_for(request, operations.PROJECT_USAGE(project_id=project, query=_OWNERSHIP), token)
    if answer.status in (403, 404):
        raise VNextError(404, "Not found, or not yours")
    if not answer.ok:
        raise from_nova(answer.status, answer.body)


def _probe_path(template: str, request: web.Request) -> str:
    # The compiled template quotes each value as one segment, as plan_call does.
    return compile_template(template).expand(dict(request.match_info))


def respond(
    request: web.Request,
    body: Any,
    status: int,
    headers: dict[str, str],
    content_type: str = "application/json",
) -> web.StreamResponse:
    """The answer, with the record of its Nova calls when the caller asked to
    see it (X-VNext-Explain: 1) and the operator allowed it."""
    if _explaining(request):
        calls = request[NOVA_CALLS]
        if isinstance(body, dict):
            body = {**body, "_explain": {"nova_calls": calls}}
        else:
            headers["X-VNext-Explain"] = json.dumps(calls, separators=(",", ":"))
    if body is None:
        return web.Response(status=status, headers=headers)
    if content_type.startswith("text/"):
        return web.Response(text=str(body), status=status, headers=headers, content_type=content_type)
    # orjson: the proxy's answers are large JSON documents (lists of servers).
    return web.Response(body=orjson.dumps(body), status=status, headers=headers, content_type=content_type)


def _marker(request: web.Request) -> str | None:
    marker = request.query.get("marker")
    if marker is not None and len(marker) > engine.MAX_QUERY_VALUE_CHARS:
        raise VNextError(400, f"marker is at most {engine.MAX_QUERY_VALUE_CHARS} characters", field="marker")
    return marker


def _limit(request: web.Request, default: int, maximum: int) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return default
    # ASCII digits only: str.isdigit() also takes '²', which int() refuses.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or int(raw) < 1:
        raise VNextError(400, "limit must be a positive integer", field="limit")
    return min(int(raw), maximum)
