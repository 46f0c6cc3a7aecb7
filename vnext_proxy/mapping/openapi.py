"""The OpenAPI 3.1 document of the vNext API, generated from the mappings and
the published JSON-Schemas (``GET /openapi.json``, ``vnext-proxy openapi``).

It is for client generators (openapi-python-client, openapi-generator) and API
fuzzers (schemathesis), so it says what the proxy really does: each route of
the mappings with its method, the success status it answers, the body it
takes (the route's ``request_schema``; for a named route, the published
link's, or the task actions' parameters) and the errors it can answer, all in
the one error shape of ``vnext_proxy.errors.VNextError``.

The published schemas are draft-04 JSON-Schema; OpenAPI 3.1 schemas are JSON
Schema 2020-12. ``from_draft04`` rewrites what differs (``$schema``, ``id``,
``definitions``, boolean ``exclusiveMinimum``, ``items`` as a list,
``dependencies``, ``$ref`` siblings) with the meaning kept, and drops the
hyper-schema ``links``, which the paths describe.

Pure: no I/O, nothing but the mapping model, the task states and the package's version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from vnext_proxy import __version__
from vnext_proxy.mapping.model import MappingSet, ObjectSpec, Route
from vnext_proxy.mapping.variables import PATH_VARIABLE_KINDS
from vnext_proxy.tasks.model import FINAL_STATES, RUNNING

Schema = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
DRAFT_04 = "http://json-schema.org/draft-04/schema#"
COMPONENTS = "#/components/schemas/"
#: The security scheme: the caller's Keystone token, forwarded to Nova.
TOKEN = "X-Auth-Token"
#: The error object every failure answers with (VNextError.body).
ERROR = "error"
#: A rendered object's (and a page's) ``_links``: relation -> {href}.
LINKS = "links"
#: Components made for the task actions' parameters: ``<action>_task``.
TASK_SUFFIX = "_task"


def _ref(name: str) -> Schema:
    return {"$ref": COMPONENTS + name}


def _page(key: str, item: str) -> Schema:
    """A paged list: the items under ``key``, with ``_links`` (self, and next when more follow)."""
    return {
        "type": "object",
        "required": [key, "_links"],
        "properties": {key: {"type": "array", "items": _ref(item)}, "_links": _ref(LINKS)},
    }


def _link_part(rel: str, method: str, key: str) -> Callable[[MappingSet], Schema]:
    """A property of a published link's body schema (server type shares)."""

    def part(mappings: MappingSet) -> Schema:
        found = published_link(mappings, rel, method)
        if found is None or key not in found[1].get("properties", {}):
            return {"type": "object"}  # a mappings directory of the operator's, without that link
        schema: Schema = from_draft04(found[1]["properties"][key], COMPONENTS + found[0])
        return schema

    return part


_LAUNCHED: Schema = {
    "type": "array",
    "description": "The servers launched, in the order asked, each with its CREATE task (rel/server_task)",
    "items": {
        "type": "object",
        "required": ["id", "launched_at", "_links"],
        "properties": {
            "id": {"type": "string"},
            "launched_at": {"type": ["string", "null"]},
            "_links": _ref(LINKS),
        },
    },
}
_SHARES = _link_part("server_types", "POST", "shares")
_TAG_LIST: Schema = {"type": "array", "items": _ref("tag")}

Body = Schema | Callable[[MappingSet], Schema] | None

#: What each named route (``handler:``) answers on success, by (handler,
#: method): its status and body (None: no body). Nothing else in the package
#: declares it; tests/unit/test_openapi.py checks it against
#: tests/unit/test_spec_statuses.py's HANDLER_STATUSES, which the devcloud
#: conformance test calls. A user share has no success: Nova cannot (501).
HANDLER_ANSWERS: dict[tuple[str, str], tuple[int, Body]] = {
    ("launch_servers", "POST"): (202, _LAUNCHED),
    ("start_task", "POST"): (202, _ref("server_task")),
    ("get_task", "GET"): (200, _ref("server_task")),
    ("server_tasks", "GET"): (200, _page("tasks", "server_task")),
    ("task_items", "GET"): (200, _page("items", "server_task_item")),
    ("create_server_type", "POST"): (201, _ref("server_type")),
    ("update_server_type", "PATCH"): (204, None),
    ("server_type_tags", "GET"): (200, _TAG_LIST),
    ("server_type_tags", "PUT"): (204, None),
    ("server_type_tags", "DELETE"): (204, None),
    ("server_type_tag", "PUT"): (204, None),
    ("server_type_tag", "DELETE"): (204, None),
    ("server_type_shares", "GET"): (200, _SHARES),
    ("server_type_shares", "PUT"): (204, None),
    ("server_type_shares", "DELETE"): (204, None),
    ("server_type_project_share", "PUT"): (204, None),
    ("server_type_project_share", "DELETE"): (204, None),
    ("server_type_user_share", "PUT"): (501, None),
    ("server_type_user_share", "DELETE"): (501, None),
    ("create_server_group", "POST"): (201, _ref("server_group")),
    ("get_server_group", "GET"): (200, _ref("server_group")),
    ("project_server_group", "GET"): (200, _ref("server_group")),
    ("project_server_groups", "GET"): (200, _page("server_groups", "server_group")),
    ("list_keypairs", "GET"): (200, _page("keypairs", "keypair")),
    ("get_keypair", "GET"): (200, _ref("keypair")),
}

#: Bodies of named routes that no published link describes: the whole
#: request is a value the spec publishes elsewhere (a tag list; a server
#: type's shares, as its create link has them).
HANDLER_BODIES: dict[tuple[str, str], Body] = {
    ("server_type_tags", "PUT"): _TAG_LIST,
    ("server_type_shares", "PUT"): _SHARES,
}

#: Named routes that may refuse with 501, by (handler, method): a body asking
#: for a share with a user (Nova shares flavors with projects only). Not the
#: GET or DELETE of a type's shares: they take no body, and never answer 501.
NOT_IMPLEMENTED_HANDLERS = frozenset(
    {("create_server_type", "POST"), ("update_server_type", "PATCH"), ("server_type_shares", "PUT")}
)

#: The POSTs that take an Idempotency-Key (web.generations.IDEMPOTENT, which this
#: layer may not import; the unit test checks they agree).
IDEMPOTENT_HANDLERS = frozenset({"start_task", "launch_servers"})

#: What each body hook (mapping.hooks.BODY_HOOKS) answers.
HOOK_BODIES: dict[str, Schema] = {
    "json_home": {
        "type": "object",
        "description": "JSON-Home (draft-nottingham-json-home-03): each rel/<name> with its href-template",
        "required": ["api", "resources"],
        "properties": {
            "api": {
                "type": "object",
                "required": ["title", "x-mappings-version"],
                "properties": {
                    "title": {"type": "string"},
                    "x-mappings-version": {
                        "type": "string",
                        "description": "the content hash of the mapping set being served; it changes on reload",
                    },
                },
            },
            "resources": {"type": "object", "additionalProperties": {"type": "object"}},
        },
    },
    "schema_index": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["type", "description", "_links"],
            "properties": {"type": {"type": "string"}, "description": {"type": "string"}, "_links": _ref(LINKS)},
        },
    },
    "schema_document": {"type": "object", "description": "A draft-04 JSON-Schema document, as published"},
    "openapi_document": {"type": "object", "description": "This document"},
}

#: JSON media types whose names do not say so (no +json suffix): what they are.
_UNNAMED_JSON = {"application/json-home": "a JSON-Home document (draft-nottingham-json-home-03)"}

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: What a path variable of a known kind (mapping.variables.PATH_VARIABLE_KINDS)
#: must look like; any other value is 404 before Nova is asked.
_KIND_WORDS = {
    "uuid": "a UUID",
    "project": "a project id (letters, digits and dashes)",
    "tag": "a tag (no slash, no comma, at most 60 characters)",
    "keypair": "a keypair's vNext id, or its Nova name",
}


# --- draft-04 to JSON Schema 2020-12 ---------------------------------------------------------------------------------

_SCHEMA_MAPS = ("properties", "patternProperties")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_ONE = ("additionalProperties", "not")


def from_draft04(schema: Any, base: str) -> Any:
    """A draft-04 schema as JSON Schema 2020-12 (OpenAPI 3.1), with its meaning
    kept. ``base`` is the pointer of the published document the schema belongs
    to (its component): a ``#/...`` reference in it is relative to that
    document, and is rebased there."""
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        # Draft-04 ignores a reference's siblings; 2020-12 would apply them.
        return {"$ref": _rebase(schema["$ref"], base)}
    out: Schema = {}
    for key, value in schema.items():
        if key in ("$schema", "links"):
            continue  # the dialect is OpenAPI's; hyper-schema links are the paths
        if key == "id":
            out["$id"] = value
        elif key == "definitions":
            out["$defs"] = {name: from_draft04(sub, base) for name, sub in value.items()}
        elif key in _SCHEMA_MAPS:
            out[key] = {name: from_draft04(sub, base) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [from_draft04(sub, base) for sub in value]
        elif key in _SCHEMA_ONE:
            out[key] = from_draft04(value, base)
        elif key == "items":
            if isinstance(value, list):
                out["prefixItems"] = [from_draft04(sub, base) for sub in value]
                if "additionalItems" in schema:
                    out["items"] = from_draft04(schema["additionalItems"], base)
            else:
                out["items"] = from_draft04(value, base)
        elif key == "additionalItems":
            continue  # with items a list, it became items above; otherwise draft-04 ignores it
        elif key == "dependencies":
            required = {name: dep for name, dep in value.items() if isinstance(dep, list)}
            schemas = {name: from_draft04(dep, base) for name, dep in value.items() if not isinstance(dep, list)}
            if required:
                out["dependentRequired"] = required
            if schemas:
                out["dependentSchemas"] = schemas
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
            # Draft-04: a flag on minimum/maximum; 2020-12: the bound itself.
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            if value and bound in schema:
                out[key] = schema[bound]
        else:
            out[key] = value
    for key, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if schema.get(key) is True:
            out.pop(bound, None)
    return out


def _rebase(ref: str, base: str) -> str:
    if not ref.startswith("#"):
        return ref
    pointer = ref[1:]
    if pointer.startswith("/definitions/"):
        pointer = "/$defs/" + pointer.removeprefix("/definitions/")
    return base + pointer


# --- the published schemas -------------------------------------------------------------------------------------------


def published_link(mappings: MappingSet, rel: str, method: str) -> tuple[str, Schema] | None:
    """The published object and link body schema for ``method`` on ``rel``
    (the hyper-schema ``links`` of mappings/schemas/*.json), as
    execution.schemas.link_schema finds it for the named routes."""
    for name, published in sorted(mappings.schemas.items()):
        for link in published.get("links", []):
            if link.get("rel") == rel and link.get("method") == method and "schema" in link:
                return name, link["schema"]
    return None


def _href_vars(mappings: MappingSet, rel: str, method: str) -> set[str]:
    for published in mappings.schemas.values():
        for link in published.get("links", []):
            if link.get("rel") == rel and link.get("method") == method:
                href = str(link.get("href", ""))
                return {part.split("}", 1)[0] for part in href.split("{")[1:]}
    return set()


def _is_draft04(schema: Mapping[str, Any]) -> bool:
    return bool(schema.get("$schema", DRAFT_04) == DRAFT_04)


def _components(mappings: MappingSet) -> dict[str, Schema]:
    components: dict[str, Schema] = {}
    for name, published in sorted(mappings.schemas.items()):
        components[name] = from_draft04(published, COMPONENTS + name) if _is_draft04(published) else dict(published)
    # Objects the proxy renders that no published schema describes (a
    # console, a project): their fields, of whatever JSON Nova gives.
    for name, spec in sorted(mappings.objects.items()):
        if name not in components:
            components[name] = _object_schema(spec)
    for action, task in sorted(mappings.actions.items()):
        if task.refuse is None:
            components[task_component(action)] = task.params_schema
    components[ERROR] = _ERROR_SCHEMA
    components[LINKS] = _LINKS_SCHEMA
    return components


def task_component(action: str) -> str:
    """The component of a task action's body (POST /servers/{server_id}/tasks)."""
    return action.lower() + TASK_SUFFIX


def _object_schema(spec: ObjectSpec) -> Schema:
    def fields(specs: tuple[Any, ...]) -> Schema:
        properties: Schema = {}
        for field in specs:
            properties[field.name] = {"type": "object", "properties": fields(field.fields)} if field.fields else {}
        return properties

    properties = fields(spec.fields)
    if spec.links:
        properties["_links"] = _ref(LINKS)
    return {
        "type": "object",
        "description": f"A {spec.name.replace('_', ' ')}, as the proxy renders it (no published JSON-Schema)",
        "properties": properties,
    }


_LINKS_SCHEMA: Schema = {
    "type": "object",
    "description": "Related resources: relation -> {href}",
    "additionalProperties": {"type": "object", "required": ["href"], "properties": {"href": {"type": "string"}}},
}

_ERROR_SCHEMA: Schema = {
    "type": "object",
    "description": "Every error the proxy answers (vnext_proxy.errors.VNextError)",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "title", "message", "request_id"],
            "properties": {
                "code": {"type": "integer", "description": "The HTTP status"},
                "title": {"type": "string", "description": "The status's phrase"},
                "message": {"type": "string", "description": "What went wrong, and what to do"},
                "field": {"type": "string", "description": "The request part concerned (a body key, a parameter)"},
                "problems": {
                    "type": "array",
                    "description": "Details, each about one field (a launch rolled back: each server)",
                    "items": {"type": "object", "additionalProperties": {"type": "string"}},
                },
                "request_id": {"type": "string", "description": "This request's X-OpenStack-Request-ID"},
            },
        }
    },
}


# --- one route -------------------------------------------------------------------------------------------------------


def operation_id(route: Route) -> str:
    """``<method>_<rel>``: unique, as the app names its routes ``rel:METHOD``."""
    return f"{route.method.lower()}_{route.rel}"


def success_status(route: Route) -> int:
    """What the route answers when all goes well (a not applicable route: its documented answer)."""
    if route.not_applicable is not None:
        return route.not_applicable.answer
    if route.handler is not None:
        return _handler_answer(route)[0]
    return route.response.status


def _handler_answer(route: Route) -> tuple[int, Body]:
    # A named route at a method the table lacks (an operator's mappings): a 200 of any JSON.
    return HANDLER_ANSWERS.get((route.handler or "", route.method), (200, {}))


def request_body(mappings: MappingSet, route: Route) -> Schema | None:
    """The JSON-Schema of the body the route takes, or None.

    A YAML route's ``request_schema`` as it is. A named route's, in order:
    the task actions' parameters (one of them, by ``action``: what the task
    engine checks; the published link names the server, which the URL gives
    and the engine refuses in the body); a whole value (HANDLER_BODIES); the
    published link of its rel and method, where a key the link's href gives
    (the project, the object's id) is not required in the body: the URL has it."""
    if route.not_applicable is not None:
        return None
    if route.request_schema is not None:
        return route.request_schema
    if route.handler is None:
        return None
    if route.handler == "start_task":
        actions = [a for a, spec in sorted(mappings.actions.items()) if spec.refuse is None]
        return {"oneOf": [_ref(task_component(a)) for a in actions]}
    body = HANDLER_BODIES.get((route.handler, route.method))
    if body is not None:
        return body(mappings) if callable(body) else body
    if route.method not in ("POST", "PUT", "PATCH"):
        return None
    found = published_link(mappings, route.rel, route.method)
    if found is None:
        return None
    name, schema = found
    converted: Schema = from_draft04(schema, COMPONENTS + name)
    given = _href_vars(mappings, route.rel, route.method)
    if "required" in converted:
        converted["required"] = [key for key in converted["required"] if key not in given]
    return converted


def _response_body(mappings: MappingSet, route: Route) -> Schema | None:
    if route.handler is not None:
        body = _handler_answer(route)[1]
        return body(mappings) if callable(body) else body
    response = route.response
    if response.hook is not None:
        return HOOK_BODIES[response.hook]
    if not response.body:
        return None
    if response.object is not None:
        return _page(response.list_key, response.object) if response.list_key else _ref(response.object)
    if response.content_type.startswith("text/"):
        return {"type": "string"}
    return {"description": f"Nova's answer ({'.'.join(response.source)}), as Nova gives it"}


def error_statuses(mappings: MappingSet, route: Route) -> list[int]:
    """Every error status the route can answer (other than its success, for a
    route whose success is one)."""
    if route.not_applicable is not None:
        return []
    calls_nova = bool(route.nova or route.handler or route.requires_project or route.resolve)
    takes_body = request_body(mappings, route) is not None
    found = {503}  # every request has a deadline (timeout_middleware)
    if route.auth:
        found.add(401)  # no token; or Keystone's refusal, through Nova
    if calls_nova:
        # Nova's own refusals pass through (errors.from_nova); its failures are 502, its absence 503.
        found |= {403, 502}
        if route.method in _WRITES:
            found.add(409)
    if route.query_vars or takes_body or route.derived or calls_nova:
        found.add(400)
    if route.path_vars or route.requires_project:
        found.add(404)
    if takes_body:
        found |= {413, 415}
    if route.handler in IDEMPOTENT_HANDLERS:
        found |= {400, 409, 422}  # a malformed key; the first still being served; a key reused with another body
    if (
        any(status == 501 for _key, status, _why in route.refuse_keys)
        or any(status == 501 for _nova, status in route.errors)
        or (route.handler, route.method) in NOT_IMPLEMENTED_HANDLERS
    ):
        found.add(501)
    found.discard(success_status(route))
    return sorted(found)


_ERROR_WORDS = {
    400: "The request is not one the route takes: `field` names the part",
    401: "No X-Auth-Token, or one Keystone does not accept",
    403: "Nova's policy does not let the caller do this",
    404: "Not found, or not the caller's to see",
    409: "It conflicts with the resource's state",
    413: "The body is larger than the proxy takes (limits.max_body_bytes)",
    415: "The body is not application/json",
    422: "This Idempotency-Key was used with another body",
    501: "Nova cannot do this",
    502: "Nova failed, or answered something the proxy cannot read",
    503: "Nova is unavailable, or the request ran out of time: retry after Retry-After",
}


def _error_response(status: int, words: str | None = None, *, body: bool = True) -> Schema:
    response: Schema = {
        "description": words or _ERROR_WORDS.get(status, HTTPStatus(status).phrase),
        "headers": {"X-OpenStack-Request-ID": _header("X-OpenStack-Request-ID")},
    }
    if status == 503:
        response["headers"]["Retry-After"] = _header("Retry-After")
    if body:
        response["content"] = {"application/json": {"schema": _ref(ERROR)}}
    return response


def _header(name: str) -> Schema:
    return {"$ref": f"#/components/headers/{name}"}


#: Headers answers carry (components/headers).
HEADERS: dict[str, Schema] = {
    "X-OpenStack-Request-ID": {
        "description": "The request's id (the caller's, if it sent a valid one), as Nova's logs show it",
        "schema": {"type": "string"},
    },
    "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "string"}},
}


def _responses(mappings: MappingSet, route: Route) -> Schema:
    responses: Schema = {}
    status = success_status(route)
    na = route.not_applicable
    if na is not None:
        responses[str(status)] = _error_response(status, f"{na.reason} Use instead: {na.use_instead}")
        return responses
    if status >= 400:
        responses[str(status)] = _error_response(status, route.summary)
    else:
        success: Schema = {
            "description": HTTPStatus(status).phrase,
            "headers": {
                "X-OpenStack-Request-ID": _header("X-OpenStack-Request-ID"),
                **_answer_headers(mappings, route),
            },
        }
        body = _response_body(mappings, route)
        content_type = route.response.content_type
        if body is not None and content_type in _UNNAMED_JSON:
            # JSON without the +json suffix: generators take it for an unknown
            # format and leave the operation out, so the description says it.
            success["description"] += f": {_UNNAMED_JSON[content_type]}, as {content_type}"
        elif body is not None:
            success["content"] = {content_type: {"schema": body}}
        responses[str(status)] = success
    for error in error_statuses(mappings, route):
        # An answer to HEAD has no body, an error's neither.
        responses[str(error)] = _error_response(error, body=route.method != "HEAD")
    return responses


def _answer_headers(mappings: MappingSet, route: Route) -> Schema:
    """Headers a route answers with from the rendered object (HEAD /servers/{id})."""
    name = route.response.object or ""
    published = mappings.schemas.get(name, {}).get("properties", {})
    headers: Schema = {}
    for header, field in route.response.headers:
        schema = from_draft04(published[field], COMPONENTS + name) if field in published else {"type": "string"}
        schema.pop("description", None)
        headers[header] = {"description": f"The object's {field}", "schema": schema}
    return headers


#: The largest ``limit`` taken (execution.paging.page_query: at most nine
#: digits); above a route's largest page it is taken as that page.
MAX_LIMIT_PARAMETER = 999_999_999
#: The named routes that list tasks or items, filtered by ``state`` (one of
#: these, repeatable) and ``since`` (execution.tasks).
TASK_HISTORY_HANDLERS = frozenset({"server_tasks", "task_items"})
TASK_STATES = (RUNNING, *sorted(FINAL_STATES))
#: A ``since`` value: a time with its zone (timeutil.since).
_SINCE: Schema = {"type": "string", "format": "date-time", "maxLength": 255}


def _parameters(route: Route) -> list[Schema]:
    derived = {d.source: d for d in route.derived}
    filters = {f.var: f for f in route.response.filters}
    history = route.handler in TASK_HISTORY_HANDLERS
    parameters: list[Schema] = []
    for var in route.path_vars:
        schema: Schema = {"type": "string"}
        if var in derived:
            schema["enum"] = [str(value) for value, _nova in derived[var].value_map]
        kind = PATH_VARIABLE_KINDS.get(var)
        parameter: Schema = {"name": var, "in": "path", "required": True, "schema": schema}
        if kind is not None:
            parameter["description"] = f"{_KIND_WORDS.get(kind, kind)}; anything else is 404"
        parameters.append(parameter)
    for var in route.query_vars:
        if var == "limit":
            schema = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT_PARAMETER}
            words = "How many items at most (a page); more than the route's largest page is taken as that"
        elif var == "marker":
            schema = {"type": "string", "maxLength": 255}
            words = "The id of the last item of the previous page (the next link has it)"
        elif var in filters:
            # A filter may be repeated: any of the values matches.
            item = dict(_SINCE) if filters[var].match == "after" else {"type": "string", "maxLength": 255}
            schema = {"type": "array", "maxItems": 20, "items": item}
            words = "A filter; repeat it for any of several values"
        elif history and var == "since":
            schema = dict(_SINCE)
            words = "Only what was created at this time or later (ISO 8601, with its zone)"
        elif history and var == "state":
            schema = {"type": "array", "items": {"type": "string", "enum": list(TASK_STATES)}}
            words = "Only these states; repeat it for any of several"
        else:
            schema = {"type": "string"}
            words = None
        parameter = {"name": var, "in": "query", "required": False, "schema": schema}
        if words:
            parameter["description"] = words
        parameters.append(parameter)
    if route.handler in IDEMPOTENT_HANDLERS:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "A retry with the same key (and body) is answered once, for a day",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
            }
        )
    return parameters


def _tag(route: Route) -> str:
    """The mapping file the route is declared in (servers, server_types, ...)."""
    return route.source.file.rsplit("/", 1)[-1].removesuffix(".yaml")


def _operation(mappings: MappingSet, route: Route) -> Schema:
    operation: Schema = {
        "operationId": operation_id(route),
        "summary": " ".join(route.summary.split()),
        "tags": [_tag(route)],
    }
    notes = []
    if route.gap:
        notes.append("Gap table: " + "; ".join(route.gap) + ".")
    if route.extension is not None:
        notes.append(f"An extension of the proxy's (not in the spec): {route.extension}.")
    if route.not_applicable is not None:
        notes.append(f"Not applicable in vNext: {route.not_applicable.reason}")
    if notes:
        operation["description"] = "\n\n".join(notes)
    parameters = _parameters(route)
    if parameters:
        operation["parameters"] = parameters
    body = request_body(mappings, route)
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    operation["responses"] = _responses(mappings, route)
    needs_token = route.auth and route.not_applicable is None
    operation["security"] = [{TOKEN: []}] if needs_token else []
    return operation


# --- the document ----------------------------------------------------------------------------------------------------


def build_openapi(mappings: MappingSet) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route of ``mappings``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in mappings.routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(mappings, route)
    tags = sorted({_tag(r) for r in mappings.routes})
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "OpenStack Compute API vNext",
            "version": __version__,
            "summary": "The proposed OpenStack Compute API vNext, served by vnext-proxy in front of Nova",
            "description": (
                "Generated from vnext-proxy's mappings and the published JSON-Schemas (GET /schemas). "
                "GET / is the same API as JSON-Home. Every error is the `error` object."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {
            "schemas": _components(mappings),
            "headers": HEADERS,
            "securitySchemes": {
                TOKEN: {
                    "type": "apiKey",
                    "in": "header",
                    "name": TOKEN,
                    "description": "A Keystone token; the proxy forwards it to Nova, whose policy decides",
                }
            },
        },
    }
