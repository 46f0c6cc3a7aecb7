"""JSON-Home (draft-nottingham-json-home-03) generated from the routes."""

from __future__ import annotations

from typing import Any

from vnext_proxy.mapping.model import MappingSet, Route

_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
API_TITLE = "OpenStack Compute API vNext (vnext-proxy)"


def build_json_home(mappings: MappingSet) -> dict[str, Any]:
    by_rel: dict[str, list[Route]] = {}
    for route in mappings.routes:
        if route.status != "not_applicable":
            by_rel.setdefault(route.rel, []).append(route)
    resources: dict[str, Any] = {}
    for rel, routes in sorted(by_rel.items()):
        # The template with the most query variables documents them all.
        widest = max(routes, key=lambda r: len(r.query_vars))
        variables = [*widest.path_vars, *widest.query_vars]
        methods = sorted({r.method for r in routes}, key=_METHOD_ORDER.index)
        resources[f"rel/{rel}"] = {
            "href-template": widest.uri,
            "href-vars": {v: f"param/{v}" for v in variables},
            "hints": {
                "allow": methods,
                "formats": {routes[0].response.content_type: {}},
            },
        }
    # "api" is where later drafts of JSON-Home put what describes the API as
    # a whole: here, which mapping set this proxy serves (it changes on reload).
    return {"api": {"title": API_TITLE, "x-mappings-version": mappings.version}, "resources": resources}
