"""A route served from its mapping: plan the Nova calls, send them, render.

Everything a mapping declares happens here, in one pass: path variables
checked for their kind, the list query checked, the project checked, ids
resolved, the body checked, the calls made, and the answer rendered (a list
paged by Nova or in the proxy, filtered by Nova or here, scanned at most
``max_scan`` Nova items deep).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache

from vnext_proxy.calls import NovaAnswer, PlannedCall, microversion
from vnext_proxy.config import Settings
from vnext_proxy.errors import VNextError, from_nova
from vnext_proxy.execution.context import Execute, Inbound, Services
from vnext_proxy.execution.paging import PageQuery, collect_nova_pages, page_query
from vnext_proxy.mapping import engine
from vnext_proxy.mapping.engine import Listing, VNextResponse
from vnext_proxy.mapping.model import Filter, Route
from vnext_proxy.mapping.variables import PATH_VARIABLE_KINDS, PROVIDED_VARIABLES
from vnext_proxy.nova import operations
from vnext_proxy.templates import compile_template
from vnext_proxy.validation import check_body

_NOT_YOURS = "Not found, or not yours"

PathKinds = tuple[tuple[str, str], ...]


def path_kinds(route: Route) -> PathKinds:
    """The route's path variables that have a kind (mapping.variables)."""
    return tuple((v, PATH_VARIABLE_KINDS[v]) for v in route.path_vars if v in PATH_VARIABLE_KINDS)


def check_path(kinds: PathKinds, req: Inbound) -> None:
    """What cannot exist is 404 before Nova is asked anything."""
    for var, kind in kinds:
        operations.segment(req.match[var], kind)


class NamedExecutor:
    """A route served by a named execution function (``handler:`` in its mapping)."""

    def __init__(self, route: Route, execute: Execute) -> None:
        self.kinds = path_kinds(route)
        self._execute = execute

    async def execute(self, services: Services, req: Inbound) -> VNextResponse:
        check_path(self.kinds, req)
        return await self._execute(services, req)


@dataclass(frozen=True)
class ListQuery:
    """A list's page and filter values, checked before Nova is asked anything."""

    page: PageQuery
    values: dict[str, list[str]]


@dataclass(frozen=True)
class _KeptListing:
    listing: Listing
    size: int


def _checked_body(route: Route, body: Any, match: Mapping[str, str]) -> Any:
    """The body, refused before anything is sent if it asks what Nova cannot
    do (refuse_keys), repeats a path variable with another value
    (same_as_path), or does not match the route's schema."""
    if isinstance(body, dict):
        for key, status, reason in route.refuse_keys:
            if key in body:
                raise VNextError(status, reason, field=key)
        for key, var in route.same_as_path:
            if key in body and body[key] != match[var]:
                raise VNextError(
                    400, f"{key} must be this {var.replace('_', ' ')} (the path's), or left out", field=key
                )
    assert route.request_schema is not None
    return check_body(body, route.request_schema)


class RouteExecutor:
    """Serves one mapping route. Holds the route; parses nothing per request."""

    def __init__(self, route: Route, settings: Settings) -> None:
        self.route = route
        self.kinds = path_kinds(route)
        templates = [c.path for c in route.nova] + [t for c in route.nova for _, t in c.query]
        used = {name for t in templates for name in compile_template(t).names}
        self.provided = used & set(PROVIDED_VARIABLES)
        self.cache_bytes = settings.cache_bytes
        self.nova_microversion = microversion(settings.nova.microversion)
        # A list answer Nova repeats byte for byte (a dashboard polling an
        # unchanged project) is neither decoded nor rendered again. Keyed by
        # the bytes themselves, so any change in them is a miss.
        self._listings: LRUCache[bytes, _KeptListing] = LRUCache(
            maxsize=self.cache_bytes, getsizeof=lambda kept: kept.size
        )

    async def execute(self, services: Services, req: Inbound) -> VNextResponse:
        route = self.route
        if route.not_applicable is not None:
            na = route.not_applicable
            raise VNextError(na.answer, f"{na.reason} Use instead: {na.use_instead}")
        check_path(self.kinds, req)
        # A list's query is checked before Nova is asked anything: 400, nothing sent.
        list_query = self._list_query(req) if route.response.list_key is not None else None
        variables: dict[str, Any] = dict(req.match)
        variables.update({q: req.query[q] for q in route.query_vars if q in req.query})
        variables.update(engine.derive_variables(route.derived, variables))
        if route.requires_project is not None:
            await services.projects.require(variables[route.requires_project], req.token, req.send)
        for name, resolver in route.resolve:
            assert resolver == "flavor"  # the loader allows no other
            variables[name] = await services.flavors.resolve(variables[name], req.send)
        if route.request_schema is not None:
            variables["body"] = _checked_body(route, await req.json(), req.match)
        if self.provided:
            variables.update(
                await services.caller.variables(self.provided, req.token, lambda c: self._send(req, c, ok={403}))
            )
        if list_query is not None:
            return await self._list(services, req, variables, list_query)
        bodies: dict[str, Any] = {}
        for call in route.nova:
            if engine.call_is_needed(call, bodies, variables):
                bodies[call.name] = (await self._send(req, engine.plan_call(call, variables))).body
        ctx = services.render_context
        return engine.render_response(route, services.mappings, bodies, req.path_qs, ctx, variables)

    async def _send(self, req: Inbound, call: PlannedCall, ok: Collection[int] = ()) -> NovaAnswer:
        answer = await req.send(call)
        if answer.ok or answer.status in ok:
            return answer
        if answer.status == 403 and self.route.owner_probe is not None and await self._invisible(req):
            raise VNextError(404, _NOT_YOURS)
        error = from_nova(answer.status, answer.body)
        remapped = dict(self.route.errors).get(answer.status)
        if remapped == 404:
            # Hide what Nova refused and why: to this caller it does not exist.
            error = VNextError(404, _NOT_YOURS)
        elif remapped is not None:
            error.status = remapped
        raise error

    async def _invisible(self, req: Inbound) -> bool:
        """Nova checks some policies before it looks the resource up, so
        another project's server gets 403: is it there for this caller at all?"""
        assert self.route.owner_probe is not None
        # The compiled template quotes each value as one segment, as plan_call does.
        probe = PlannedCall("owner", "GET", compile_template(self.route.owner_probe).expand(dict(req.match)))
        return (await self._send(req, probe, ok={403, 404})).status == 404

    def _list_query(self, req: Inbound) -> ListQuery:
        spec = self.route.response
        assert spec.paging is not None  # the loader requires paging on lists
        page = page_query(req.query, spec.paging.default_limit, spec.paging.max_limit)
        # A filter takes its values from the query (repeatable) or, for a
        # path variable such as /projects/{project}/..., from the path.
        values = {f.var: req.query.getall(f.var) for f in spec.filters if f.var in req.query}
        values.update({f.var: [req.match[f.var]] for f in spec.filters if f.var in req.match})
        engine.check_filter_values(spec.filters, values)
        return ListQuery(page, values)

    async def _check_projects(
        self, services: Services, req: Inbound, filters: tuple[Filter, ...], query: ListQuery
    ) -> None:
        """A filter naming a project the caller cannot see is a 400, as the spec says."""
        for filt in filters:
            if filt.project and filt.var in req.query:
                for project in query.values.get(filt.var, ()):
                    try:
                        await services.projects.require(project, req.token, req.send)
                    except VNextError as exc:
                        if exc.status != 404:
                            raise
                        raise VNextError(400, f"{project} is not a project of yours", field=filt.var) from None

    async def _list(
        self, services: Services, req: Inbound, variables: dict[str, Any], query: ListQuery
    ) -> VNextResponse:
        spec = self.route.response
        assert spec.paging is not None  # the loader requires paging on lists
        assert spec.list_key is not None
        assert spec.object is not None
        await self._check_projects(services, req, spec.filters, query)
        obj_spec = services.mappings.objects[spec.object]
        ctx = services.render_context
        to_nova, in_proxy = engine.split_filters(spec.filters, self.nova_microversion, query.values)
        (listing,) = self.route.nova  # the loader allows one call per list route

        def wanted(item: dict[str, Any]) -> bool:
            return engine.keep(item, in_proxy, query.values)

        async def fetch(nova_query: list[tuple[str, str]]) -> Listing:
            answer = await self._send(req, engine.plan_call(listing, variables, nova_query))
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
            items, more = engine.page_in_proxy(kept, query.page.marker, query.page.limit)
            next_marker = str(items[-1]["id"]) if items else None
        else:
            page = await collect_nova_pages(
                fetch, wanted, to_nova, query.page, spec.paging.max_scan, filtering=bool(in_proxy)
            )
            items, more, next_marker = page.items, page.more, page.next_marker
            if page.capped:
                headers["X-VNext-Scan-Capped"] = str(spec.paging.max_scan)
        if in_proxy:
            # Say which filters the proxy applied itself, not Nova.
            headers["X-VNext-Proxy-Filters"] = ",".join(f.var for f in in_proxy)
        next_href = None
        if more and next_marker:
            next_href = engine.page_href(req.path, list(req.query.items()), next_marker)
        body = engine.list_body(spec.list_key, items, req.path_qs, next_href)
        return VNextResponse(200, body, headers=headers)
