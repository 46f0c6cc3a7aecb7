"""Task actions as declared in server_tasks.yaml: their format and parsing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from vnext_proxy.mapping.model import ActionCall, ActionSpec, ActionVariant, Source, StateMatch
from vnext_proxy.mapping.variables import RESOLVERS
from vnext_proxy.yamlsource import KeyPath, Problem, YamlDocument


def described(description: str, schema: dict[str, Any], **annotations: Any) -> dict[str, Any]:
    """A copy of ``schema`` that says what its key means (and, as ``default=``,
    what leaving it out means): docs/mappings.md is generated from these."""
    return {**schema, "description": description, **annotations}


_STATE_MATCH = {
    "description": "Nova server state that ends the action; a key left out matches anything.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "vm_state": described("Nova's OS-EXT-STS:vm_state.", {"type": "string"}),
        "task_state": described("Nova's OS-EXT-STS:task_state (null: no task running).", {"type": ["string", "null"]}),
        "status": described("Nova's server status (ACTIVE, SHUTOFF, ...).", {"type": "string"}),
        "gone": described(
            "Nova no longer shows the server (404); with vm_state or status, either ends it.", {"const": True}
        ),
    },
}
_CALL = {
    "description": "The Nova call that starts the action.",
    "type": "object",
    "additionalProperties": False,
    "required": ["method", "path"],
    "properties": {
        "method": described("The HTTP method of the Nova call.", {"enum": ["POST", "PUT", "DELETE"]}),
        "path": described(
            "Nova path template: {server} (the Nova server id) and the task's parameters.",
            {"type": "string", "pattern": "^/"},
        ),
        "body": described(
            'JSON body template: a whole-string "{name}" takes the parameter\'s value and type; a key whose '
            "parameter is absent is left out. Default: no body.",
            {},
        ),
    },
}
_VARIANT_KEYS = {
    "nova_action": described(
        "The instance action Nova records for the call (os-instance-actions), which tells how it went.",
        {"type": "string", "minLength": 1},
    ),
    "call": _CALL,
    "done": described(
        "The Nova server states that end the action (any one of them).",
        {"type": "array", "items": _STATE_MATCH, "minItems": 1},
    ),
    "confirm": described(
        "Nova waits for a resize confirmation at the end (VERIFY_RESIZE): the proxy confirms it.",
        {"type": "boolean"},
        default=False,
    ),
    "sync": described(
        "The task is COMPLETED as soon as Nova accepts the call (the effect is immediate).",
        {"type": "boolean"},
        default=False,
    ),
    "trust_state": described(
        "Having seen the server pass through a task state into a `done` state is proof enough, "
        "without reading the instance action (only when no state on the way is a `done` state).",
        {"type": "boolean"},
        default=False,
    ),
}
_GAP = {"type": ["string", "array"], "items": {"type": "string"}}


def _inherited(schema: dict[str, Any]) -> dict[str, Any]:
    """A key as a variant has it: left out, it is the action's."""
    if "default" not in schema:
        return schema  # the same schema: the reference lists its keys once
    copy = {k: v for k, v in schema.items() if k != "default"}
    copy["description"] = f"{schema['description']} Default: the action's."
    return copy


ACTIONS_SCHEMA: dict[str, Any] = {
    "description": "Task actions (POST /servers/{server_id}/tasks), by vNext name.",
    "type": "object",
    "propertyNames": {"pattern": "^[A-Z][A-Z_]*$"},
    "additionalProperties": {
        "title": "ACTION",
        "description": "One task action: its parameters, its Nova call and the states that end it.",
        "type": "object",
        "additionalProperties": False,
        "required": ["gap", "nova_action", "done"],
        "properties": {
            **_VARIANT_KEYS,
            "gap": described("The purpose of the gap-table row it implements, or a list of them ([] for none).", _GAP),
            "summary": described("What the action does, in prose.", {"type": "string"}),
            "params": described(
                "The task's parameters: name -> JSON-Schema of its value. A name that looks like a secret "
                "must be writeOnly: true (it is sent to Nova, never stored).",
                {"type": "object", "additionalProperties": {"title": "param", "type": "object"}},
            ),
            "required": described("Parameters a task must give.", {"type": "array", "items": {"type": "string"}}),
            "one_of": described(
                "Parameters of which a task gives exactly one.",
                {"type": "array", "items": {"type": "string"}, "minItems": 2},
            ),
            "resolve": described(
                "Parameter -> resolver: the vNext id in it is turned into a Nova id before the call.",
                {"type": "object", "additionalProperties": {"title": "param", "enum": list(RESOLVERS)}},
            ),
            "refuse": described(
                "The action cannot be started as a task: 400 with this reason. Then `call` may be left out.",
                {"type": "string"},
            ),
            "revert_of": described(
                "The action whose last completed task this one undoes (the proxy fills `derived` from it).",
                {"type": "string"},
            ),
            "derived": described(
                "Parameters the proxy fills in itself: name -> what it holds.",
                {"type": "object", "additionalProperties": {"title": "param", "type": "string"}},
            ),
            "variants": described(
                "Other ways to do the action, chosen by the task's parameters; the first that matches "
                "wins, else the action's own keys. A variant inherits what it does not say.",
                {
                    "type": "array",
                    "items": {
                        "description": "A variant: when `if` matches, the keys it gives replace the action's.",
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["if"],
                        "properties": {
                            **{key: _inherited(schema) for key, schema in _VARIANT_KEYS.items()},
                            "if": described(
                                "Parameter -> value: the variant applies when the task gives all of them.",
                                {"type": "object"},
                            ),
                        },
                    },
                },
            ),
        },
    },
}

TASK_ITEMS_SCHEMA: dict[str, Any] = {
    "description": "Nova's task_state while a task runs -> the vNext task item it shows as.",
    "type": "object",
    "additionalProperties": False,
    "required": ["enum", "map"],
    "properties": {
        "enum": described("The Nova enumeration `map` is total over.", {"const": "task_state"}),
        "map": described("Nova task_state -> vNext task item action.", {"type": "object"}),
    },
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
