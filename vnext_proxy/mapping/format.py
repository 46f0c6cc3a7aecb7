"""The JSON-Schema of a mapping file: what keys exist and what they hold.

Structural checks live here; cross-references (hooks, objects, template
variables, gap rows, duplicate routes, total value maps, list filters)
are checked by the loader. Every key has a ``description`` (and a
``default`` where leaving it out means something): ``docs/mappings.md``
is generated from them (``vnext-proxy mappings reference``).

Each key name means one thing wherever it appears: ``from`` is a key path
in a Nova object, ``from_answer`` a path into a route's Nova answers,
``var`` a route variable, ``when`` a condition on the Nova object,
``if_answer`` and ``if_given`` conditions on a Nova call.
"""

from __future__ import annotations

from typing import Any

from vnext_proxy.mapping.task_actions import ACTIONS_SCHEMA, TASK_ITEMS_SCHEMA, described
from vnext_proxy.mapping.variables import RESOLVERS

_HTTP_METHOD = {"enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]}
_MICROVERSION = {"type": "string", "pattern": r"^2\.[0-9]{1,3}$"}
_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}
_PATH = {"type": "string", "minLength": 1}
# One purpose or several (a string or a list of strings).
_GAP = {"type": ["string", "array"], "items": {"type": "string"}, "minItems": 1}
_GAP_TEXT = (
    "The purpose (first column) of the gap-table row this implements, or a list of them; "
    "every row of mappings/spec/gap-analysis*.md is claimed exactly once."
)

_FIELD: dict[str, Any] = {
    "title": "field",
    "description": (
        "One vNext field. A string is the short form of `{from: <string>}`: the value at that "
        "key path of the Nova object, as it is. A mapping says more; it gives exactly one of "
        "from, hook, const or fields."
    ),
    "type": ["string", "object"],
    "if": {"type": "object"},
    "then": {
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "from": described(
                "Key path (dot-separated; a number indexes a list) of the value in the Nova object.", _PATH
            ),
            "map": described(
                "Nova value -> vNext value. A Nova value the map lacks gives `default` (and is logged). "
                "A list filter on this field passes its value to Nova through this map, inverted.",
                {"type": "object"},
            ),
            "enum": described(
                "The Nova enumeration `map` must be total over (every value of it has a vNext value).",
                {"enum": ["vm_state", "task_state", "power_state"]},
            ),
            "default": described(
                "The vNext value when the Nova value is null, absent or not in `map`.", {}, default=None
            ),
            "translate": described(
                "Show the Nova id as a vNext id: itself if it is a UUID, else a stable UUIDv5 of "
                "the kind and the id (config id_namespace).",
                {"enum": ["flavor", "availability_zone"]},
            ),
            "format": described(
                "`timestamp`: Nova's time shown as ISO 8601 in UTC, to the second, with a Z.",
                {"enum": ["timestamp"]},
            ),
            "hook": described("A Python field hook (mapping.hooks) computes the value from the Nova object.", _NAME),
            "const": described("This value, whatever Nova says.", {}),
            "fields": {
                "$ref": "#/$defs/fields",
                "description": "A nested vNext object, its fields read from the same Nova object.",
            },
            "when": described(
                "Key path in the Nova object: the field is rendered only when the value there is "
                "not null (e.g. keys Nova shows admins only), else it is `otherwise`.",
                _PATH,
            ),
            "otherwise": described("The field's value when the `when` path is null.", {}, default=None),
        },
    },
    "else": {"minLength": 1},
}

_FILTER = {
    "title": "var",
    "description": (
        "A list filter: the route variable (the key) a caller sets to keep only the items whose "
        "rendered field matches. Nova applies it when it can (nova, min_microversion, one value, "
        "a Nova value for it); the proxy applies it otherwise."
    ),
    "type": "object",
    "additionalProperties": False,
    "required": ["field"],
    "properties": {
        "field": described(
            "Key path of the field it tests, in the list's rendered vNext object (the response's object).",
            _PATH,
        ),
        "nova": described(
            "The Nova query parameter that applies it. A value is passed through the field's `map` "
            "inverted; a vNext value several Nova values give (or that the map lacks) is applied by "
            "the proxy. Without it, the proxy always applies the filter.",
            {"type": "string", "minLength": 1},
        ),
        "min_microversion": described(
            "The compute microversion Nova needs for `nova` (required with it); below it, the proxy applies it.",
            _MICROVERSION,
        ),
        "match": described(
            "equals: the field's value is the one given; contains: the list field holds it (tags); "
            "after: the timestamp field is at or after it.",
            {"enum": ["equals", "contains", "after"]},
            default="equals",
        ),
        "verify": described(
            "Also check Nova's result in the proxy (Nova drops some filters silently for some callers).",
            {"type": "boolean"},
            default=False,
        ),
        "names_project": described(
            "The value names a project, which the caller must be able to see (400 otherwise).",
            {"type": "boolean"},
            default=False,
        ),
    },
}

_NOVA_CALL = {
    "description": "One call to Nova, made in order; its answer is named by `name`.",
    "type": "object",
    "additionalProperties": False,
    "required": ["method", "path", "min_microversion"],
    "properties": {
        "name": described(
            "The name its answer goes by in `from_answer` and `if_answer` (unique within the route).",
            _NAME,
            default="nova",
        ),
        "method": described("The HTTP method of the Nova call.", _HTTP_METHOD),
        "path": described(
            "RFC 6570 template of the Nova path (after the endpoint), over the route's variables.",
            {"type": "string", "pattern": "^/"},
        ),
        "min_microversion": described(
            "The compute microversion the call needs; the config's nova.microversion must be at least this.",
            _MICROVERSION,
        ),
        "query": described(
            "Query parameters: name -> a string with {variable} placeholders; a parameter whose "
            "variable is absent or empty is left out.",
            {"type": "object", "additionalProperties": {"title": "param", "type": "string"}},
        ),
        "if_answer": described(
            "`<call name>.<key path>` into an earlier call's answer: make this call only when the value "
            "there is not empty. Default: always made.",
            _PATH,
        ),
        "if_given": described(
            "A key of the request body: make this call only when the body has it (even if empty). "
            "Default: always made.",
            {"type": "string"},
        ),
        "body": described(
            'JSON body template. A whole-string "{name}" takes the variable\'s value and type '
            '("{body}" is the request\'s JSON, "{body.key}" reaches in); a key whose variable is '
            "absent is left out. Default: no body.",
            {},
        ),
    },
}

_RESPONSE = {
    "description": "How the vNext answer is built from the Nova answers (or by a hook).",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "status": described(
            "The HTTP status of a successful answer.", {"type": "integer", "minimum": 200, "maximum": 299}, default=200
        ),
        "object": described(
            "The vNext object (a key of `objects:`) rendered from the value at `from_answer` "
            "(or from the route's variables). Default: that value is answered as it is.",
            _NAME,
        ),
        "from_answer": described(
            "`<call name>.<key path>` into a Nova answer (the call name alone: its whole answer): "
            "the Nova object (or list, with list_key or select) the answer is made from.",
            _PATH,
        ),
        "from_variables": described(
            "Render `object` from the route's variables instead of a Nova answer (no from_answer then).",
            {"const": True},
            default=False,
        ),
        "list_key": described(
            "The answer is a paged list: the rendered items go under this key, with _links. "
            "Needs `paging` and exactly one nova call.",
            _NAME,
        ),
        "hook": described("A Python body hook (mapping.hooks) builds the whole body (JSON-Home, schemas).", _NAME),
        "content_type": described("The Content-Type of the answer.", {"type": "string"}, default="application/json"),
        "body": described("false: answer headers only (HEAD, 204).", {"type": "boolean"}, default=True),
        "headers": described(
            "Response header name -> key path of the rendered object whose value it carries.",
            {"type": "object", "additionalProperties": {**_PATH, "title": "header"}},
        ),
        "select": described(
            "Answer one item of a Nova list: the first whose rendered field equals a route variable.",
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["var", "fields"],
                "properties": {
                    "var": described("The route variable holding the wanted value.", _NAME),
                    "fields": described(
                        "Rendered fields compared with it, in order (an id match wins over a name match); "
                        "none equal: 404.",
                        {"type": "array", "items": _PATH, "minItems": 1},
                    ),
                },
            },
        ),
        "paging": described(
            "How a list (list_key) is paged: limit and marker query parameters.",
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["mode"],
                "properties": {
                    "mode": described(
                        "nova: Nova pages (limit and marker pass through; markers are Nova ids); "
                        "proxy: the whole (small) collection is read and paged here.",
                        {"enum": ["nova", "proxy"]},
                    ),
                    "max_scan": described(
                        "nova mode, filters applied by the proxy: Nova items read at most for one page "
                        "(then the page is short, with X-VNext-Scan-Capped).",
                        {"type": "integer", "minimum": 1},
                        default=1000,
                    ),
                    "default_limit": described(
                        "Items per page when the caller gives no limit.",
                        {"type": "integer", "minimum": 1},
                        default=20,
                    ),
                    "max_limit": described(
                        "The largest limit a caller may ask for.", {"type": "integer", "minimum": 1}, default=1000
                    ),
                },
            },
        ),
        "filters": described(
            "List filters, by the route variable (a query variable of the uri) that holds the wanted value.",
            {"type": "object", "additionalProperties": _FILTER},
        ),
    },
}

_ROUTE = {
    "description": "One vNext route: a method and URI template, and how it is served.",
    "type": "object",
    "additionalProperties": False,
    "required": ["rel", "method", "uri", "summary", "status"],
    "properties": {
        "rel": described(
            "The link relation naming the route's path in JSON-Home (routes sharing it share the path).", _NAME
        ),
        "method": described("The vNext HTTP method.", _HTTP_METHOD),
        "uri": described(
            "RFC 6570 template of the vNext path: {var} path variables, then an optional {?a,b} of "
            "query variables (last).",
            {"type": "string", "pattern": "^/"},
        ),
        "summary": described(
            "What the route does, in one line (JSON-Home, the gap table).", {"type": "string", "minLength": 1}
        ),
        "status": described(
            "mapped: served with Nova (nova calls, or a handler that calls Nova); proxy: served by the "
            "proxy alone; not_applicable: answered with the reason (see not_applicable).",
            {"enum": ["mapped", "proxy", "not_applicable"]},
        ),
        "auth": described(
            "The caller must send a token (false only for routes that call no Nova).",
            {"type": "boolean"},
            default=True,
        ),
        "handler": described(
            "A Python route handler (mapping.variables.ROUTE_HANDLERS) serves it; then no nova calls or response.",
            _NAME,
        ),
        "request_schema": described(
            "JSON-Schema the request body must match (400 otherwise); the body is then the variable `body`. "
            "Default: the route takes no body.",
            {"type": "object"},
        ),
        "owner_probe": described(
            "A Nova path template the proxy GETs when Nova answers 403 (Nova checks some policies before "
            "it looks the resource up): if the caller cannot see that either, the answer is 404, not 403.",
            {"type": "string", "pattern": "^/"},
        ),
        "refuse_keys": described(
            "Request-body keys the spec allows but Nova cannot carry out, by key: the status answered "
            "(`answer`, e.g. 501) and why (`reason`, saying what to do instead). Checked before the body's "
            "schema and before any Nova call, so nothing of such a request is applied.",
            {
                "type": "object",
                "additionalProperties": described(
                    "A body key refused: what is answered when a request has it.",
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["answer", "reason"],
                        "properties": {
                            "answer": described(
                                "The status answered.", {"type": "integer", "minimum": 400, "maximum": 599}
                            ),
                            "reason": described(
                                "What the answer says, and what to do instead.", {"type": "string", "minLength": 1}
                            ),
                        },
                    },
                ),
            },
        ),
        "same_as_path": described(
            "Request-body key -> path variable: a body key that repeats the path's (a PATCH body naming the "
            "object's own `id`) must equal it (400 naming the key otherwise); absent is fine.",
            {"type": "object", "additionalProperties": _NAME},
        ),
        "requires_project": described(
            "A path variable naming a project the caller must be able to see (404 otherwise), checked "
            "before the calls.",
            _NAME,
        ),
        "resolve": described(
            "Path variable -> resolver: the vNext id in it is turned into a Nova id before the calls.",
            {"type": "object", "additionalProperties": {"title": "var", "enum": list(RESOLVERS)}},
        ),
        "derive": described(
            "Variables made from a route variable through a value map, by name.",
            {
                "type": "object",
                "additionalProperties": {
                    "title": "name",
                    "description": "One derived variable: the key is its name.",
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["var", "map"],
                    "properties": {
                        "var": described("The route variable it is made from.", _NAME),
                        "map": described(
                            "Its value -> the derived value; a value the map lacks answers 400 naming `var`.",
                            {"type": "object"},
                        ),
                    },
                },
            },
        ),
        "gap": described(_GAP_TEXT, _GAP),
        "extension": described(
            "This route is the proxy's own: neither revision of the spec has it, and this says why the "
            "proxy adds it (the gap table's Extensions section prints it). An extension claims no gap "
            "row, is served (not not_applicable), and is no call the gap table names.",
            {"type": "string", "minLength": 1},
        ),
        "errors": described(
            "Nova error status -> the status vNext answers instead (403 -> 404 hides what is not yours).",
            {
                "type": "object",
                "propertyNames": {"pattern": "^[45][0-9][0-9]$"},
                "additionalProperties": {"title": "status", "type": "integer", "minimum": 400, "maximum": 599},
            },
        ),
        "nova": described(
            "The Nova calls that serve it, in order.",
            {"type": "array", "minItems": 1, "items": _NOVA_CALL},
        ),
        "response": _RESPONSE,
        "not_applicable": described(
            "Why vNext has no such route, for status not_applicable.",
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["reason", "answer", "use_instead"],
                "properties": {
                    "reason": described("Why the route does not apply.", {"type": "string"}),
                    "answer": described(
                        "The HTTP status it is answered with.", {"type": "integer", "minimum": 400, "maximum": 599}
                    ),
                    "use_instead": described("The vNext call to use instead.", {"type": "string"}),
                },
            },
        ),
    },
}

MAPPING_FILE_SCHEMA: dict[str, Any] = {
    "description": "One mapping file (vnext_proxy/mappings/*.yaml): a resource family.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "description": described("What the file maps, in prose.", {"type": "string"}),
        "routes": described("The vNext routes.", {"type": "array", "items": {"$ref": "#/$defs/route"}}),
        "objects": described(
            "vNext objects rendered from Nova objects, by name (unique across files).",
            {"type": "object", "propertyNames": _NAME, "additionalProperties": {"$ref": "#/$defs/object"}},
        ),
        "gap_rows": described(
            "Gap-table rows served by something other than a route of their own (a task action), "
            "not applicable, or not built yet.",
            {"type": "array", "items": {"$ref": "#/$defs/gap_row"}},
        ),
        "actions": ACTIONS_SCHEMA,
        "task_items": TASK_ITEMS_SCHEMA,
        "event_items": described(
            "Nova instance-action event -> the vNext task item it shows as (when the poller missed the task states).",
            {"type": "object", "additionalProperties": {"title": "event", "type": "string"}},
        ),
    },
    "$defs": {
        "fields": {
            "description": "Field name -> how it is made. Rendered in this order.",
            "type": "object",
            "additionalProperties": _FIELD,
        },
        "object": {
            "title": "object",
            "description": "A vNext object and how it is rendered from one Nova object.",
            "type": "object",
            "additionalProperties": False,
            "required": ["fields"],
            "properties": {
                "description": described("What the object is.", {"type": "string"}),
                "fields": {"$ref": "#/$defs/fields", "description": "Its fields."},
                "links": described(
                    "_links of a rendered object: relation -> RFC 6570 path template over its rendered fields.",
                    {"type": "object", "additionalProperties": {"title": "rel", "type": "string", "pattern": "^/"}},
                ),
            },
        },
        "gap_row": {
            "description": "A gap-table row served by something other than a route of its own.",
            "type": "object",
            "additionalProperties": False,
            "required": ["gap", "status", "note"],
            "properties": {
                "gap": described(_GAP_TEXT, _GAP),
                "status": described(
                    "mapped (by what the note says), not_applicable (the note says why) or planned.",
                    {"enum": ["planned", "not_applicable", "mapped"]},
                ),
                "note": described(
                    "What serves it, or why not (the gap table's last column).", {"type": "string", "minLength": 1}
                ),
            },
        },
        "route": _ROUTE,
    },
}
