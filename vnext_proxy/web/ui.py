"""The side-by-side pages: compare, coverage and task timeline.

Each page is a static HTML file and a little JavaScript, the same for
every caller: no token is ever rendered into it. The script asks for the
same URL with ``Accept: application/json`` and the token the user typed
(kept in the tab's sessionStorage), so a page shows exactly what that
token may read through the API. ``ui: {enabled: false}`` turns them off.
"""

from __future__ import annotations

import functools
import html
import re
import string
from importlib.resources import files
from typing import Any

from aiohttp import web

from vnext_proxy.errors import VNextError
from vnext_proxy.execution.compare import COMPARED, compare_object, compare_task, task_timeline
from vnext_proxy.mapping.gapreport import coverage_rows, extension_routes
from vnext_proxy.mapping.loader import packaged_mappings
from vnext_proxy.mapping.model import Route
from vnext_proxy.web.edge import caller_token, inbound
from vnext_proxy.web.keys import GENERATION, METRICS
from vnext_proxy.web.middlewares import NOVA_CALLS

_PAGES = files("vnext_proxy.web") / "pages"
#: The files the pages load besides themselves.
_ASSETS = {"ui.js": "text/javascript", "ui.css": "text/css"}
#: A mapping file's name, as the compare page links it.
_MAPPING_FILE = re.compile(r"[A-Za-z0-9_-]{1,64}\.yaml")

#: No inline script or style, nothing from elsewhere, never in a frame: a
#: page that holds a token in its tab's storage runs only its own script.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def add_ui_routes(app: web.Application) -> None:
    kinds = "|".join([*COMPARED, "server_tasks"])
    app.router.add_get(f"/_compare/{{kind:{kinds}}}/{{id}}", compare_handler, name="ui-compare")
    app.router.add_get("/_coverage", coverage_handler, name="ui-coverage")
    app.router.add_get("/_timeline/server_tasks/{id}", timeline_handler, name="ui-timeline")
    app.router.add_get("/_ui/{asset}", asset_handler, name="ui-asset")
    app.router.add_get("/_mappings/{file}", mapping_file_handler, name="ui-mapping-file")


def _enabled(request: web.Request) -> None:
    if not request[GENERATION].settings.ui_enabled:
        raise VNextError(404, "The side-by-side pages are turned off here (ui.enabled in the config)")


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


_TOKEN_HINT = (
    "Type a token and press Show. The page shows what that token may read through the API; the token stays in "
    "this tab only (sessionStorage), until you close it or press Forget token."
)
#: Each page: its title and its hint. The pages share one shell, filled in
#: with these constants only: nothing of a request goes into a page.
_PAGE_TEXTS = {
    "compare": ("Side by side", _TOKEN_HINT),
    "timeline": ("Task timeline", _TOKEN_HINT),
    "coverage": ("Coverage", "The coverage needs no token."),
}


@functools.cache
def _page_html(page: str) -> str:
    title, hint = _PAGE_TEXTS[page]
    shell = string.Template((_PAGES / "page.html").read_text(encoding="utf-8"))
    current = ' aria-current="page"' if page == "coverage" else ""
    return shell.substitute(title=title, page=page, hint=hint, coverage_current=current)


def _page(page: str) -> web.Response:
    return web.Response(text=_page_html(page), content_type="text/html", headers=_PAGE_HEADERS)


async def compare_handler(request: web.Request) -> web.StreamResponse:
    _enabled(request)
    if not _wants_json(request):
        return _page("compare")
    kind, object_id = request.match_info["kind"], request.match_info["id"]
    req = inbound(request, caller_token(request), record_calls=True)
    services = request[GENERATION].services
    if kind == "server_tasks":
        compared = await compare_task(services, req, object_id)
    else:
        compared = await compare_object(services, req, kind, object_id)
    return _json({**compared, "nova_calls": request[NOVA_CALLS]})


async def timeline_handler(request: web.Request) -> web.StreamResponse:
    _enabled(request)
    if not _wants_json(request):
        return _page("timeline")
    req = inbound(request, caller_token(request), record_calls=True)
    timeline = await task_timeline(request[GENERATION].services, req, request.match_info["id"])
    return _json({**timeline, "nova_calls": request[NOVA_CALLS]})


async def coverage_handler(request: web.Request) -> web.StreamResponse:
    """Mappings and the proxy's own metrics only: nothing a token guards."""
    _enabled(request)
    if not _wants_json(request):
        return _page("coverage")
    mappings = request[GENERATION].mappings
    figures = request.app[METRICS].route_figures()

    def live(route: Route | None) -> dict[str, Any] | None:
        return figures.get((route.path, route.method)) if route is not None else None

    rows = [
        {
            "section": row.section,
            "purpose": row.purpose,
            "v2_call": row.v2_call,
            "vnext_call": row.vnext_call,
            "status": row.status.strip("*"),
            "served_by": row.served_by.replace("`", ""),
            "spec": row.spec,
            "reason": row.reason,
            "declared_at": row.declared_at,
            "route": None if row.route is None else f"{row.route.method} {row.route.path}",
            "figures": live(row.route),
        }
        for row in coverage_rows(mappings)
    ]
    extensions = [
        {
            "served_by": f"{route.method} {route.uri}",
            "summary": route.summary,
            "status": route.status,
            "why": route.extension,
            "declared_at": str(route.source),
            "route": f"{route.method} {route.path}",
            "figures": live(route),
        }
        for route in extension_routes(mappings)
    ]
    return _json({"mappings_version": mappings.version, "rows": rows, "extensions": extensions})


async def asset_handler(request: web.Request) -> web.StreamResponse:
    _enabled(request)
    asset = request.match_info["asset"]
    if asset not in _ASSETS:
        raise VNextError(404, "No such file")
    text = (_PAGES / asset).read_text(encoding="utf-8")
    return web.Response(text=text, content_type=_ASSETS[asset], headers=_PAGE_HEADERS)


async def mapping_file_handler(request: web.Request) -> web.StreamResponse:
    """A mapping file of the set being served, each line with an anchor
    (#L42): where the compare page's links point."""
    _enabled(request)
    name = request.match_info["file"]
    directory = request[GENERATION].settings.mappings_dir or packaged_mappings()
    if not _MAPPING_FILE.fullmatch(name) or not (directory / name).is_file():
        raise VNextError(404, "No such mapping file")
    lines = (directory / name).read_text(encoding="utf-8").splitlines()
    numbered = "\n".join(
        f'<tr id="L{n}"><td class="line"><a href="#L{n}">{n}</a></td><td><code>{html.escape(text)}</code></td></tr>'
        for n, text in enumerate(lines, 1)
    )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>mappings/{html.escape(name)}</title>"
        '<link rel="stylesheet" href="/_ui/ui.css"></head>'
        f'<body><h1>mappings/{html.escape(name)}</h1><table class="source">{numbered}</table></body></html>'
    )
    return web.Response(text=page, content_type="text/html", headers=_PAGE_HEADERS)


def _json(body: dict[str, Any]) -> web.Response:
    return web.json_response(body, headers={"Cache-Control": "no-store"})
