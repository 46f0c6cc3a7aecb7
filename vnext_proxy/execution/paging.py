"""Limits, markers and pages: one reading of ``limit`` and ``marker``, and
the two ways a collection is paged (by Nova, or in the proxy)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from multidict import MultiMapping

from vnext_proxy.errors import VNextError
from vnext_proxy.mapping import engine
from vnext_proxy.mapping.engine import Listing, VNextResponse

#: A collection paged in the proxy answers this many items unless asked.
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


@dataclass(frozen=True)
class PageQuery:
    limit: int
    marker: str | None


def page_query(query: MultiMapping[str], default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> PageQuery:
    """``limit`` (a positive integer, at most ``maximum``) and ``marker``; 400 naming the one that is wrong."""
    raw = query.get("limit")
    limit = default
    if raw is not None:
        # ASCII digits only: str.isdigit() also takes '²', which int() refuses.
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or int(raw) < 1:
            raise VNextError(400, "limit must be a positive integer", field="limit")
        limit = min(int(raw), maximum)
    marker = query.get("marker")
    if marker is not None and len(marker) > engine.MAX_QUERY_VALUE_CHARS:
        raise VNextError(400, f"marker is at most {engine.MAX_QUERY_VALUE_CHARS} characters", field="marker")
    return PageQuery(limit, marker)


def proxy_page(
    key: str, items: list[dict[str, Any]], page: PageQuery, path: str, query: MultiMapping[str], path_qs: str
) -> VNextResponse:
    """One page of a collection the proxy holds whole (limit, marker on the items' ids)."""
    shown, more = engine.page_in_proxy(items, page.marker, page.limit)
    next_href = engine.page_href(path, list(query.items()), shown[-1]["id"]) if more and shown else None
    return VNextResponse(200, engine.list_body(key, shown, path_qs, next_href))


@dataclass(frozen=True)
class NovaPage:
    items: list[dict[str, Any]]
    more: bool
    next_marker: str | None
    #: The scan stopped at max_scan Nova items before the page was full.
    capped: bool


async def collect_nova_pages(
    fetch: Callable[[list[tuple[str, str]]], Awaitable[Listing]],
    wanted: Callable[[dict[str, Any]], bool],
    to_nova: list[tuple[str, str]],
    page: PageQuery,
    max_scan: int,
    filtering: bool,
) -> NovaPage:
    """Follow Nova's pages until ``page.limit`` items pass the proxy's filters,
    Nova runs out, or ``max_scan`` Nova items were read. The next marker is
    the last item *scanned*, so the next page resumes exactly there."""
    items: list[dict[str, Any]] = []
    scanned = 0
    last_scanned = page.marker
    limit = page.limit
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
                    return NovaPage(items, left_over or not exhausted, last_scanned, False)
        if exhausted:
            return NovaPage(items, False, None, False)
        if scanned >= max_scan:
            return NovaPage(items, True, last_scanned, True)
