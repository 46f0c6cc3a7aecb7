"""The pure core: route + request -> Nova calls; Nova answers -> vNext answer.

Nothing here does I/O, so every transform is tested without a network.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import uritemplate

from vnext_proxy.mapping.hooks import BODY_HOOKS, FIELD_HOOKS, BodyContext
from vnext_proxy.mapping.model import FieldSpec, MappingSet, NovaCall, ObjectSpec, Route

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedCall:
    """A Nova call ready to send: path expanded, query filled in."""

    name: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: Any = None


@dataclass(frozen=True)
class VNextResponse:
    status: int
    body: Any
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def plan_call(call: NovaCall, variables: Mapping[str, str]) -> PlannedCall:
    """Expand one declared Nova call with the request's variables."""
    path: str = uritemplate.expand(call.path, dict(variables))
    query = []
    for key, template in call.query:
        value = uritemplate.expand(template, dict(variables)) if "{" in template else template
        # A template whose variables were all absent drops the parameter.
        if value:
            query.append((key, value))
    return PlannedCall(call.name, call.method, path, tuple(query))


def lookup(obj: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


def render_field(spec: FieldSpec, nova_obj: Mapping[str, Any]) -> Any:
    if spec.fields is not None:
        return {f.name: render_field(f, nova_obj) for f in spec.fields}
    if spec.hook is not None:
        return FIELD_HOOKS[spec.hook](dict(nova_obj))
    if spec.source is None:
        return spec.const
    value = lookup(nova_obj, spec.source)
    if spec.value_map is not None:
        for nova_value, vnext_value in spec.value_map:
            if nova_value == value and type(nova_value) is type(value):
                return vnext_value
        if value is not None:
            log.warning("no vNext value for %s=%r in field %s", ".".join(spec.source), value, spec.name)
        return spec.default
    return spec.default if value is None else value


def render_object(spec: ObjectSpec, nova_obj: Mapping[str, Any]) -> dict[str, Any]:
    rendered = {f.name: render_field(f, nova_obj) for f in spec.fields}
    rendered["_links"] = {
        rel: {"href": uritemplate.expand(template, _link_vars(rendered))} for rel, template in spec.links
    }
    return rendered


def _link_vars(rendered: Mapping[str, Any]) -> dict[str, Any]:
    return {k: str(v) for k, v in rendered.items() if isinstance(v, str | int)}


def render_response(route: Route, mappings: MappingSet, bodies: Mapping[str, Any], request_path: str) -> VNextResponse:
    """Build the vNext answer for a route from the Nova bodies, by call name."""
    spec = route.response
    if spec.hook is not None:
        body = BODY_HOOKS[spec.hook](BodyContext(mappings=mappings, path=request_path))
        return VNextResponse(spec.status, body, spec.content_type)
    source = lookup(bodies, spec.source) if spec.source else None
    if spec.object is None:
        return VNextResponse(spec.status, source, spec.content_type)
    obj_spec = mappings.objects[spec.object]
    if spec.list_key is not None:
        items = [render_object(obj_spec, item) for item in source or []]
        body = {spec.list_key: items, "_links": {"self": {"href": request_path}}}
        return VNextResponse(spec.status, body, spec.content_type)
    return VNextResponse(spec.status, render_object(obj_spec, source or {}), spec.content_type)
