"""Task actions as declared in server_tasks.yaml: their format and parsing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from vnext_proxy.mapping.model import ActionCall, ActionSpec, ActionVariant, Source, StateMatch
from vnext_proxy.mapping.variables import RESOLVERS
from vnext_proxy.yamlsource import KeyPath, Problem, YamlDocument

_STATE_MATCH = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "vm_state": {"type": "string"},
        "task_state": {"type": ["string", "null"]},
        "status": {"type": "string"},
        "gone": {"const": True},
    },
}
_CALL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["method", "path"],
    "properties": {
        "method": {"enum": ["POST", "PUT", "DELETE"]},
        "path": {"type": "string", "pattern": "^/"},
        "body": {},
    },
}
_VARIANT_KEYS = {
    "nova_action": {"type": "string", "minLength": 1},
    "call": _CALL,
    "done": {"type": "array", "items": _STATE_MATCH, "minItems": 1},
    "confirm": {"type": "boolean"},
    "sync": {"type": "boolean"},
    "trust_state": {"type": "boolean"},
}
_GAP = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}

ACTIONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "propertyNames": {"pattern": "^[A-Z][A-Z_]*$"},
    "additionalProperties": {
        "type": "object",
        "additionalProperties": False,
        "required": ["gap", "nova_action", "done"],
        "properties": {
            **_VARIANT_KEYS,
            "gap": _GAP,
            "summary": {"type": "string"},
            "params": {"type": "object", "additionalProperties": {"type": "object"}},
            "required": {"type": "array", "items": {"type": "string"}},
            "one_of": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "resolve": {"type": "object", "additionalProperties": {"enum": list(RESOLVERS)}},
            "refuse": {"type": "string"},
            "revert_of": {"type": "string"},
            # Parameters the proxy fills in itself, with what they hold.
            "derived": {"type": "object", "additionalProperties": {"type": "string"}},
            "variants": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["if"],
                    "properties": {**_VARIANT_KEYS, "if": {"type": "object"}},
                },
            },
        },
    },
}

TASK_ITEMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["enum", "map"],
    "properties": {"enum": {"const": "task_state"}, "map": {"type": "object"}},
}

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


#: Param names that hold secrets, which the store must never see.
_SECRET_NAME = re.compile(r"pass|secret|user_data|token", re.IGNORECASE)


def parse_actions(
    doc: YamlDocument, raw: dict[str, Any], claim_gap: Callable[[KeyPath, Any], tuple[str, ...]]
) -> tuple[dict[str, ActionSpec], list[Problem]]:
    actions: dict[str, ActionSpec] = {}
    problems: list[Problem] = []
    for name, spec in raw.items():
        path: KeyPath = ("actions", name)
        params = spec.get("params", {})
        bound = {"server", *params, *spec.get("derived", {})}
        default = _variant(spec, ())
        variants = []
        for i, variant in enumerate(spec.get("variants", [])):
            unknown = set(variant["if"]) - set(params)
            if unknown:
                problems.append(doc.problem((*path, "variants", i, "if"), f"not a parameter: {', '.join(unknown)}"))
            variants.append(_variant({**spec, **variant}, tuple(variant["if"].items())))
        for variant in (*variants, default):
            if variant.call is not None:
                for text in strings_in(variant.call.path, variant.call.body):
                    for match in _PLACEHOLDER.finditer(text):
                        if match.group(1) not in bound:
                            problems.append(
                                doc.problem((*path, "call"), f"'{{{match.group(1)}}}' is not a parameter of {name}")
                            )
        if default.call is None and "refuse" not in spec:
            problems.append(doc.problem(path, "an action needs a call (or says why it is refused)"))
        for key in (*spec.get("required", []), *spec.get("one_of", []), *spec.get("resolve", {})):
            if key not in params:
                problems.append(doc.problem(path, f"'{key}' is not one of its params"))
        for key, param in params.items():
            if _SECRET_NAME.search(key) and param.get("writeOnly") is not True:
                reason = f"'{key}' looks like a secret: mark it writeOnly: true, so it is never stored"
                problems.append(doc.problem((*path, "params", key), reason))
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {"action": {"const": name}, **params},
            "required": ["action", *spec.get("required", [])],
            "additionalProperties": False,
        }
        if "one_of" in spec:
            schema["oneOf"] = [{"required": [k]} for k in spec["one_of"]]
        actions[name] = ActionSpec(
            name=name,
            gap=claim_gap((*path, "gap"), spec["gap"]) if spec["gap"] else (),
            params_schema=schema,
            resolve=tuple(spec.get("resolve", {}).items()),
            variants=(*variants, default),
            refuse=spec.get("refuse"),
            revert_of=spec.get("revert_of"),
            source=Source(doc.file, doc.line_of(path)),
        )
    for name, spec in actions.items():
        if spec.revert_of is not None and spec.revert_of not in actions:
            problems.append(doc.problem(("actions", name, "revert_of"), f"no action named {spec.revert_of}"))
    return actions, problems


def _variant(raw: dict[str, Any], when: tuple[tuple[str, Any], ...]) -> ActionVariant:
    call = raw.get("call")
    return ActionVariant(
        nova_action=raw["nova_action"],
        call=ActionCall(call["method"], call["path"], call.get("body")) if call else None,
        done=tuple(
            StateMatch(
                vm_state=d.get("vm_state"),
                task_state=d.get("task_state"),
                match_task_state="task_state" in d,
                status=d.get("status"),
                gone=d.get("gone", False),
            )
            for d in raw["done"]
        ),
        confirm=raw.get("confirm", False),
        sync=raw.get("sync", False),
        trust_state=raw.get("trust_state", False),
        when=when,
    )


def strings_in(*values: Any) -> list[str]:
    """Every string inside a JSON value (to check its placeholders)."""
    found: list[str] = []
    for value in values:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            found.extend(strings_in(*value.values()))
        elif isinstance(value, list):
            found.extend(strings_in(*value))
    return found
