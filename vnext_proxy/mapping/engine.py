"""The pure core: route + request -> Nova calls; Nova answers -> vNext answer.

Nothing here does I/O, so every transform is tested without a network.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson

from vnext_proxy.calls import PlannedCall
from vnext_proxy.errors import VNextError
from vnext_proxy.mapping.body import fill
from vnext_proxy.mapping.hooks import BODY_HOOKS, FIELD_HOOKS, BodyContext, RenderContext
from vnext_proxy.mapping.ids import format_timestamp, vnext_id
from vnext_proxy.mapping.model import Derived, FieldSpec, Filter, MappingSet, NovaCall, ObjectSpec, Route, Selector
from vnext_proxy.templates import compile_template
from vnext_proxy.timeutil import show_time, since

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class VNextResponse:
    status: int
    body: Any
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def plan_call(call: NovaCall, variables: Mapping[str, Any], extra_query: Iterable[tuple[str, str]] = ()) -> PlannedCall:
    """Expand one declared Nova call with the request's variables."""
    path = compile_template(call.path).expand({k: v for k, v in variables.items() if isinstance(v, str)})
    query = []
    for key, template in call.query:
        value = _substitute(template, variables)
        # A template whose variables were all absent drops the parameter.
        if value:
            query.append((key, value))
    body = fill(call.body, variables) if call.body is not None else None
    return PlannedCall(call.name, call.method, path, (*query, *extra_query), body)


def derive_variables(derived: Sequence[Derived], variables: Mapping[str, Any]) -> dict[str, Any]:
    """The route's derived variables, or 400 naming the variable they come from."""
    found: dict[str, Any] = {}
    for d in derived:
        value = variables.get(d.source)
        mapped = dict(d.value_map)
        if value not in mapped:
            choices = ", ".join(sorted(mapped))
            raise VNextError(400, f"{d.source} must be one of {choices}; got {value!r}", field=d.source)
        found[d.name] = mapped[value]
    return found


def _substitute(template: str, variables: Mapping[str, Any]) -> str:
    """Query values are sent raw (the HTTP client encodes them); a value
    whose variable is absent comes out empty, which drops the parameter."""
    out = template
    for match in _PLACEHOLDER.finditer(template):
        value = variables.get(match.group(1))
        if value is None or value == "":
            return ""
        out = out.replace(match.group(0), str(value))
    return out


def call_is_needed(call: NovaCall, bodies: Mapping[str, Any], variables: Mapping[str, Any] | None = None) -> bool:
    if call.if_given is not None:
        body = (variables or {}).get("body")
        if not isinstance(body, Mapping) or call.if_given not in body:
            return False
    return call.when is None or bool(lookup(bodies, call.when))


def lookup(obj: Any, path: Sequence[str]) -> Any:
    """Follow a key path; a numeric part indexes a list (server_groups.0)."""
    for part in path:
        if isinstance(obj, Mapping):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit():
            obj = obj[int(part)] if int(part) < len(obj) else None
        else:
            return None
    return obj


def render_field(spec: FieldSpec, nova_obj: Mapping[str, Any], ctx: RenderContext) -> Any:
    if spec.when is not None and lookup(nova_obj, spec.when) is None:
        return spec.otherwise
    if spec.fields is not None:
        return {f.name: render_field(f, nova_obj, ctx) for f in spec.fields}
    if spec.hook is not None:
        return FIELD_HOOKS[spec.hook](nova_obj, ctx)
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
    if spec.translate is not None:
        value = vnext_id(ctx.id_namespace, spec.translate, value)
    if spec.format == "timestamp":
        value = format_timestamp(value)
    return spec.default if value is None else value


def render_object(spec: ObjectSpec, nova_obj: Mapping[str, Any], ctx: RenderContext) -> dict[str, Any]:
    try:
        # Nova writes a given object with its keys in one order, so its bytes
        # are its identity here (another order is only a miss).
        key = (ctx.id_namespace.int, orjson.dumps(nova_obj))
    except TypeError:  # not plain JSON (a test's object): render it, keep nothing
        return _render_object(spec, nova_obj, ctx)
    cached = spec.renders.get(key)
    if cached is None:
        cached = _render_object(spec, nova_obj, ctx)
        spec.renders.put(key, cached)
    # A copy of the top level: callers may add to it (a server type's shares);
    # nothing below the top is ever changed once rendered.
    return dict(cached)


def _render_object(spec: ObjectSpec, nova_obj: Mapping[str, Any], ctx: RenderContext) -> dict[str, Any]:
    rendered = {f.name: render_field(f, nova_obj, ctx) for f in spec.fields}
    if spec.links:
        rendered["_links"] = {rel: {"href": compile_template(t).expand(rendered)} for rel, t in spec.links}
    return rendered


#: A Nova list answer rendered: (Nova id, vNext item) per object, in Nova's
#: order. The id is None for objects Nova gives none (availability zones).
Listing = tuple[tuple[str | None, dict[str, Any]], ...]


def render_listing(spec: ObjectSpec, call_name: str, source: Sequence[str], body: Any, ctx: RenderContext) -> Listing:
    """Every object of a Nova list answer, rendered. A pure function of the
    answer, so a caller may keep it by the answer's bytes; its items are
    shared by whoever gets it and are never changed."""
    found = lookup({call_name: body}, source)
    if not isinstance(found, list):
        return ()
    if not all(isinstance(nova_obj, Mapping) for nova_obj in found):
        raise VNextError(502, f"Nova's answer lists something other than objects at {'.'.join(source[1:])}")
    return tuple(
        (None if nova_obj.get("id") is None else str(nova_obj["id"]), render_object(spec, nova_obj, ctx))
        for nova_obj in found
    )


def select_item(items: Sequence[dict[str, Any]], selector: Selector, wanted: str) -> dict[str, Any] | None:
    """The first rendered item whose selector fields equal ``wanted``, in field order
    (so an id match wins over a name match)."""
    for name in selector.fields:
        for item in items:
            if lookup(item, name.split(".")) == wanted:
                return item
    return None


def matches(item: Mapping[str, Any], filt: Filter, wanted: Sequence[str]) -> bool:
    value = lookup(item, filt.field)
    if filt.match == "contains":
        return isinstance(value, list) and any(w in value for w in wanted)
    if filt.match == "after":
        # Inclusive, at the one-second resolution vNext shows times in.
        return isinstance(value, str) and any(value >= (show_time(since(w, filt.var)) or "") for w in wanted)
    return str(value) in wanted


def nova_filter_value(filt: Filter, wanted: str) -> str | None:
    """The Nova form of a vNext filter value, or None when Nova has no such value."""
    if filt.to_nova is None:
        return wanted
    for vnext_value, nova_value in filt.to_nova:
        if str(vnext_value) == wanted:
            return str(nova_value)
    return None


def split_filters(
    filters: Sequence[Filter], microversion: tuple[int, int], values: Mapping[str, Sequence[str]]
) -> tuple[list[tuple[str, str]], list[Filter]]:
    """Decide, per requested filter, whether Nova applies it or the proxy does."""
    to_nova: list[tuple[str, str]] = []
    in_proxy: list[Filter] = []
    for filt in filters:
        wanted = values.get(filt.var)
        if not wanted:
            continue
        nova_values = [nova_filter_value(filt, w) for w in wanted]
        if (
            filt.nova_param is not None
            and filt.min_microversion is not None
            and filt.min_microversion <= microversion
            and len(wanted) == 1
            and None not in nova_values
        ):
            to_nova.append((filt.nova_param, str(nova_values[0])))
            if filt.verify:
                in_proxy.append(filt)
        else:
            in_proxy.append(filt)
    return to_nova, in_proxy


#: A filter repeated ("any of") at most this many times, each value at most
#: this long: the work one request asks for stays bounded.
MAX_FILTER_VALUES = 20
MAX_QUERY_VALUE_CHARS = 255


def check_filter_values(filters: Sequence[Filter], values: Mapping[str, Sequence[str]]) -> None:
    """Refuse, naming the parameter, filter values that could never match."""
    for filt in filters:
        given = values.get(filt.var, ())
        if len(given) > MAX_FILTER_VALUES:
            raise VNextError(400, f"{filt.var} may be repeated at most {MAX_FILTER_VALUES} times", field=filt.var)
        if any(len(v) > MAX_QUERY_VALUE_CHARS for v in given):
            raise VNextError(400, f"{filt.var} is at most {MAX_QUERY_VALUE_CHARS} characters", field=filt.var)
        if filt.match == "after":
            for wanted in given:
                since(wanted, filt.var)


def keep(item: Mapping[str, Any], filters: Sequence[Filter], values: Mapping[str, Sequence[str]]) -> bool:
    return all(matches(item, f, values[f.var]) for f in filters)


def page_in_proxy(items: Sequence[dict[str, Any]], marker: str | None, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """One page of an already filtered collection; True when more follow."""
    start = 0
    if marker is not None:
        ids = [item.get("id") for item in items]
        if marker not in ids:
            raise VNextError(400, f"marker {marker} is not in this collection", field="marker")
        start = ids.index(marker) + 1
    page = list(items[start : start + limit])
    return page, start + limit < len(items)


def page_href(path: str, query: Iterable[tuple[str, str]], marker: str | None) -> str:
    kept = [(k, v) for k, v in query if k != "marker"]
    if marker is not None:
        kept.append(("marker", marker))
    return f"{path}?{urlencode(kept)}" if kept else path


def list_body(key: str, items: list[dict[str, Any]], self_href: str, next_href: str | None) -> dict[str, Any]:
    links: dict[str, Any] = {"self": {"href": self_href}}
    if next_href is not None:
        links["next"] = {"href": next_href}
    return {key: items, "_links": links}


def render_response(
    route: Route,
    mappings: MappingSet,
    bodies: Mapping[str, Any],
    request_path: str,
    ctx: RenderContext,
    variables: Mapping[str, str] | None = None,
) -> VNextResponse:
    """Build the vNext answer for a single-object or hook route."""
    spec = route.response
    if spec.hook is not None:
        body = BODY_HOOKS[spec.hook](BodyContext(mappings=mappings, path=request_path, variables=variables or {}))
        return VNextResponse(spec.status, body, spec.content_type)
    if spec.source == ("request",):
        source: Any = dict(variables or {})
    else:
        source = lookup(bodies, spec.source) if spec.source else None
    if spec.object is None:
        if spec.source and source is None and spec.body:
            raise VNextError(502, f"Nova's answer has no {'.'.join(spec.source[1:]) or 'body'}")
        return VNextResponse(spec.status, source, spec.content_type)
    obj_spec = mappings.objects[spec.object]
    if spec.select is not None:
        wanted = (variables or {}).get(spec.select.var, "")
        rendered_items = [render_object(obj_spec, item, ctx) for item in source or []]
        found = select_item(rendered_items, spec.select, wanted)
        if found is None:
            raise VNextError(404, f"No {spec.object.replace('_', ' ')} {wanted!r} was found, or it is not yours")
        rendered = found
    else:
        if not isinstance(source, Mapping):
            raise VNextError(502, f"Nova's answer has no {'.'.join(spec.source[1:]) or 'body'}")
        # Other calls' answers are visible to hooks under "_calls".
        rendered = render_object(obj_spec, {**source, "_calls": bodies}, ctx)
    headers = {name: str(lookup(rendered, field_path.split("."))) for name, field_path in spec.headers}
    return VNextResponse(spec.status, rendered if spec.body else None, spec.content_type, headers)
