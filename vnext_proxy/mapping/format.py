"""The JSON-Schema of a mapping file: what keys exist and what they hold.

Structural checks live here; cross-references (hooks, objects, template
variables, duplicate routes) are checked by the loader.
"""

from __future__ import annotations

from typing import Any

_HTTP_METHOD = {"enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]}
_MICROVERSION = {"type": "string", "pattern": r"^2\.[0-9]{1,3}$"}
_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}

_FIELD: dict[str, Any] = {
    # A field is a Nova key path (the short form) or a mapping that says more.
    "type": ["string", "object"],
    "if": {"type": "object"},
    "then": {
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "from": {"type": "string", "minLength": 1},
            "map": {"type": "object"},
            "default": {},
            "hook": _NAME,
            "const": {},
            "fields": {"$ref": "#/$defs/fields"},
        },
    },
    "else": {"minLength": 1},
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
                "gap": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["section", "purpose", "v2", "vnext", "spec"],
                    "properties": {
                        "section": {"type": "string"},
                        "purpose": {"type": "string"},
                        "v2": {"type": "string"},
                        "vnext": {"type": "string"},
                        "spec": {"enum": ["seed", "later"]},
                    },
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
                        },
                    },
                },
                "response": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "status": {"type": "integer", "minimum": 200, "maximum": 299},
                        "object": _NAME,
                        "from": {"type": "string", "minLength": 1},
                        "list_key": _NAME,
                        "hook": _NAME,
                        "content_type": {"type": "string"},
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
