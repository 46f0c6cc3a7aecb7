"""The JSON-Schema of a mapping file: what keys exist and what they hold.

Structural checks live here; cross-references (hooks, objects, template
variables, gap rows, duplicate routes, total value maps) are checked by the
loader.
"""

from __future__ import annotations

from typing import Any

from vnext_proxy.mapping.task_actions import ACTIONS_SCHEMA, TASK_ITEMS_SCHEMA
from vnext_proxy.mapping.variables import RESOLVERS

_HTTP_METHOD = {"enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]}
_MICROVERSION = {"type": "string", "pattern": r"^2\.[0-9]{1,3}$"}
_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}
_PATH = {"type": "string", "minLength": 1}
_GAP = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}

_FIELD: dict[str, Any] = {
    # A field is a Nova key path (the short form) or a mapping that says more.
    "type": ["string", "object"],
    "if": {"type": "object"},
    "then": {
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "from": _PATH,
            "map": {"type": "object"},
            "enum": {"enum": ["vm_state", "task_state", "power_state"]},
            "default": {},
            "translate": {"enum": ["flavor", "availability_zone"]},
            "format": {"enum": ["timestamp"]},
            "hook": _NAME,
            "const": {},
            "fields": {"$ref": "#/$defs/fields"},
            "when": _PATH,
            "otherwise": {},
        },
    },
    "else": {"minLength": 1},
}

_FILTER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["field"],
    "properties": {
        "field": _PATH,
        "nova": {"type": "string", "minLength": 1},
        "min_microversion": _MICROVERSION,
        "to_nova": {"type": "object"},
        "match": {"enum": ["equals", "contains", "after"]},
        "verify": {"type": "boolean"},
        "names_project": {"type": "boolean"},
    },
}

MAPPING_FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "description": {"type": "string"},
        "routes": {"type": "array", "items": {"$ref": "#/$defs/route"}},
        "objects": {
            "type": "object",
            "propertyNames": _NAME,
            "additionalProperties": {"$ref": "#/$defs/object"},
        },
        "gap_rows": {"type": "array", "items": {"$ref": "#/$defs/gap_row"}},
        "actions": ACTIONS_SCHEMA,
        "task_items": TASK_ITEMS_SCHEMA,
        "event_items": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "$defs": {
        "fields": {"type": "object", "additionalProperties": _FIELD},
        "object": {
            "type": "object",
            "additionalProperties": False,
            "required": ["fields"],
            "properties": {
                "description": {"type": "string"},
                "fields": {"$ref": "#/$defs/fields"},
                "links": {"type": "object", "additionalProperties": {"type": "string", "pattern": "^/"}},
            },
        },
        "gap_row": {
            # A gap-table row served by something other than a route of its
            # own (a task action), or not built yet.
            "type": "object",
            "additionalProperties": False,
            "required": ["gap", "status", "note"],
            "properties": {
                "gap": _GAP,
                "status": {"enum": ["planned", "not_applicable", "mapped"]},
                "note": {"type": "string", "minLength": 1},
            },
        },
        "route": {
            "type": "object",
            "additionalProperties": False,
            "required": ["rel", "method", "uri", "summary", "status"],
            "properties": {
                "rel": _NAME,
                "method": _HTTP_METHOD,
                "uri": {"type": "string", "pattern": "^/"},
                "summary": {"type": "string", "minLength": 1},
                "status": {"enum": ["mapped", "proxy", "not_applicable"]},
                "auth": {"type": "boolean"},
                "handler": _NAME,
                "request_schema": {"type": "object"},
                "owner_probe": {"type": "string", "pattern": "^/"},
                "requires_project": _NAME,
                "resolve": {"type": "object", "additionalProperties": {"enum": list(RESOLVERS)}},
                "derive": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["from", "map"],
                        "properties": {"from": _NAME, "map": {"type": "object"}},
                    },
                },
                "gap": _GAP,
                "errors": {
                    "type": "object",
                    "propertyNames": {"pattern": "^[45][0-9][0-9]$"},
                    "additionalProperties": {"type": "integer", "minimum": 400, "maximum": 599},
                },
                "nova": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["method", "path", "min_microversion"],
                        "properties": {
                            "name": _NAME,
                            "method": _HTTP_METHOD,
                            "path": {"type": "string", "pattern": "^/"},
                            "min_microversion": _MICROVERSION,
                            "query": {"type": "object", "additionalProperties": {"type": "string"}},
                            "when": _PATH,
                            "if_given": {"type": "string"},
                            "body": {},
                        },
                    },
                },
                "response": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "status": {"type": "integer", "minimum": 200, "maximum": 299},
                        "object": _NAME,
                        "from": _PATH,
                        "list_key": _NAME,
                        "hook": _NAME,
                        "content_type": {"type": "string"},
                        "body": {"type": "boolean"},
                        "headers": {"type": "object", "additionalProperties": _PATH},
                        "select": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["var", "fields"],
                            "properties": {
                                "var": _NAME,
                                "fields": {"type": "array", "items": _PATH, "minItems": 1},
                            },
                        },
                        "paging": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["mode"],
                            "properties": {
                                "mode": {"enum": ["nova", "proxy"]},
                                "max_scan": {"type": "integer", "minimum": 1},
                                "default_limit": {"type": "integer", "minimum": 1},
                                "max_limit": {"type": "integer", "minimum": 1},
                            },
                        },
                        "filters": {"type": "object", "additionalProperties": _FILTER},
                    },
                },
                "not_applicable": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["reason", "answer", "use_instead"],
                    "properties": {
                        "reason": {"type": "string"},
                        "answer": {"type": "integer", "minimum": 400, "maximum": 599},
                        "use_instead": {"type": "string"},
                    },
                },
            },
        },
    },
}
