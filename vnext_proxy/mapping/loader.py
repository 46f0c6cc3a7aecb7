"""Load every ``mappings/*.yaml`` into a checked ``MappingSet``, or refuse.

All files are read and all problems collected before anything is reported,
so one run of ``vnext-proxy mappings check`` lists every mistake with its
file, line and reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import jsonschema
import uritemplate

from vnext_proxy.calls import microversion
from vnext_proxy.mapping.format import MAPPING_FILE_SCHEMA
from vnext_proxy.mapping.gaptable import LATER, SEED, read_gap_rows
from vnext_proxy.mapping.hooks import BODY_HOOKS, FIELD_HOOKS
from vnext_proxy.mapping.model import (
    ActionSpec,
    Derived,
    FieldSpec,
    Filter,
    GapEntry,
    MappingSet,
    NotApplicable,
    NovaCall,
    ObjectSpec,
    Paging,
    ResponseSpec,
    Route,
    Selector,
    Source,
)
from vnext_proxy.mapping.nova_enums import ENUMS
from vnext_proxy.mapping.task_actions import parse_actions
from vnext_proxy.mapping.task_actions import strings_in as _strings
from vnext_proxy.mapping.variables import PROVIDED_VARIABLES, ROUTE_HANDLERS
from vnext_proxy.schemacheck import schema_problems
from vnext_proxy.templates import compile_template
from vnext_proxy.yamlsource import InputError, KeyPath, Problem, YamlDocument, load_yaml

# RFC 6570 expressions we accept: simple {var} in paths, {?a,b} for queries.
_EXPRESSION = re.compile(r"\{([^{}]*)\}")
_VARNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: The gap tables live beside the mappings, so the mappings are complete on their own.
GAP_DIR = "spec"
#: The JSON-Schema documents served at /schemas/{object}.
SCHEMA_DIR = "schemas"


def packaged_mappings() -> Traversable:
    """The mappings that ship inside the package: the default unless the
    config names a ``mappings_dir``. Read as package resources, so an
    installed wheel finds them wherever it is installed."""
    return files("vnext_proxy") / "mappings"


def _files_named(directory: Traversable, suffix: str) -> list[Traversable]:
    if not directory.is_dir():
        return []
    return sorted((f for f in directory.iterdir() if f.is_file() and f.name.endswith(suffix)), key=lambda f: f.name)


def _read_schemas(directory: Traversable) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    schemas: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for path in _files_named(directory, ".json"):
        name = f"{directory.name}/{path.name}"
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except ValueError as exc:
            problems.append(Problem(name, getattr(exc, "lineno", 0), "", f"not JSON: {exc}"))
            continue
        except jsonschema.SchemaError as exc:
            problems.append(Problem(name, 0, "/".join(map(str, exc.path)), f"not a valid JSON-Schema: {exc.message}"))
            continue
        schemas[path.name.removesuffix(".json")] = schema
    return schemas, problems


def load_mappings(directory: Traversable | None = None) -> MappingSet:
    """Read all mapping files in ``directory`` (by default the package's own,
    :func:`packaged_mappings`); raise InputError on any problem."""
    if directory is None:
        directory = packaged_mappings()
    # Hashed before reading: a file changed meanwhile makes the next
    # reload see a new version, never a stale set under a current one.
    version = mappings_version(directory)
    mapping_files = _files_named(directory, ".yaml")
    if not mapping_files:
        raise InputError([Problem(str(directory), 0, "", "no mapping files (*.yaml) found")])
    # Named as in the repository (mappings/servers.yaml), wherever they are read from.
    docs = [load_yaml(f, display_name=f"{directory.name}/{f.name}") for f in mapping_files]
    problems: list[Problem] = [p for d in docs for p in d.problems]
    for doc in docs:
        if not doc.problems and doc.data is not None:
            if not isinstance(doc.data, dict):
                problems.append(Problem(doc.file, 1, "", "a mapping file must be a YAML mapping"))
            else:
                problems.extend(schema_problems(doc, MAPPING_FILE_SCHEMA))
    gap_rows, gap_problems = read_gap_rows(directory / GAP_DIR)
    problems.extend(gap_problems)
    schemas, schema_problems_found = _read_schemas(directory / SCHEMA_DIR)
    problems.extend(schema_problems_found)
    if problems:
        raise InputError(problems)
    builder = _Builder(gap_rows, schemas)
    for doc in docs:
        if doc.data:
            builder.add_file(doc)
    return dataclasses.replace(builder.finish(), version=version)


def mappings_version(directory: Traversable | None = None) -> str:
    """The content hash of the files a mapping set is read from (names and
    bytes): equal for equal sets wherever they lie, so a reload that finds
    the same version keeps the running set, its caches warm."""
    if directory is None:
        directory = packaged_mappings()
    read = [
        *_files_named(directory, ".yaml"),
        *(directory / GAP_DIR / name for name in (SEED, LATER)),
        *_files_named(directory / SCHEMA_DIR, ".json"),
    ]
    digest = hashlib.sha256()
    for path in read:
        if path.is_file():
            content = path.read_bytes()
            digest.update(f"{path.name}\0{len(content)}\0".encode())
            digest.update(content)
    return digest.hexdigest()[:16]


def microversion_problems(mappings: MappingSet, configured: str) -> list[Problem]:
    """Calls that need a newer microversion than the one the config requests."""
    wanted = microversion(configured)
    return [
        Problem(
            route.source.file,
            route.source.line,
            f"{route.method} {route.uri}",
            f"needs compute {call.min_microversion[0]}.{call.min_microversion[1]}, "
            f"but nova.microversion is {configured}",
        )
        for route in mappings.routes
        for call in route.nova
        if call.min_microversion > wanted
    ]


def _path(text: str) -> tuple[str, ...]:
    return tuple(text.split("."))


#: A call as the gap tables write it: `GET /servers/{id}`.
_CALL_IN_TEXT = re.compile(r"`(GET|HEAD|POST|PUT|PATCH|DELETE) (/[^`\s]*)`")


def _shape(uri: str) -> str:
    """A path as a router sees it: no query, every variable alike."""
    return re.sub(r"\{[^}]*\}", "{}", uri.split("{?", 1)[0])


def _field_at(fields: tuple[FieldSpec, ...], path: tuple[str, ...]) -> FieldSpec | None:
    """The field at a key path of a rendered object (nested through ``fields``)."""
    spec = None
    level: tuple[FieldSpec, ...] | None = fields
    for part in path:
        spec = next((f for f in level or () if f.name == part), None)
        if spec is None:
            return None
        level = spec.fields
    return spec


def _same(a: Any, b: Any) -> bool:
    # As rendering compares: 1 and True are different Nova values.
    return bool(a == b) and type(a) is type(b)


def _inverted(spec: FieldSpec) -> tuple[tuple[Any, Any], ...]:
    """vNext value -> Nova value, for the vNext values one Nova value alone
    gives. One that several Nova values give (power_state 0 and 4 are both
    SHUTDOWN), or that is also the field's default, has no Nova value: the
    proxy applies a filter for it itself."""
    assert spec.value_map is not None
    return tuple(
        (vnext, nova)
        for nova, vnext in spec.value_map
        if sum(_same(v, vnext) for _, v in spec.value_map) == 1 and not _same(spec.default, vnext)
    )


class _Builder:
    def __init__(self, gap_rows: dict[str, Any], schemas: dict[str, dict[str, Any]]) -> None:
        self.gap_rows = gap_rows
        self.schemas = schemas
        self.problems: list[Problem] = []
        self.routes: list[Route] = []
        self.objects: dict[str, ObjectSpec] = {}
        self.gap_entries: list[GapEntry] = []
        self.actions: dict[str, ActionSpec] = {}
        self.task_items: dict[str, str] = {}
        self.event_items: dict[str, str] = {}
        #: Item actions the mappings name, and where: checked against the published schema.
        self.item_refs: list[tuple[str, Problem]] = []
        # Checked once every file is read.
        self.object_refs: list[tuple[str, Problem]] = []
        # Where each list filter is, by its route.
        self.filter_refs: dict[Source, tuple[YamlDocument, list[KeyPath]]] = {}
        self.gap_claims: dict[str, Source] = {}

    def add_file(self, doc: YamlDocument) -> None:
        for name, raw in doc.data.get("objects", {}).items():
            path: KeyPath = ("objects", name)
            if name in self.objects:
                self.problems.append(doc.problem(path, f"object already defined at {self.objects[name].source}"))
                continue
            fields = self._fields(doc, (*path, "fields"), raw["fields"])
            links = tuple(raw.get("links", {}).items())
            schema = self.schemas.get(name)
            if schema is not None:
                # The published schema and the mapping must describe the same object.
                declared = set(schema.get("properties", {}))
                for spec in fields:
                    if spec.name not in declared:
                        self.problems.append(
                            doc.problem((*path, "fields", spec.name), f"not a property of {SCHEMA_DIR}/{name}.json")
                        )
            self.objects[name] = ObjectSpec(name, fields, links, Source(doc.file, doc.line_of(path)))
        for i, raw in enumerate(doc.data.get("routes", [])):
            route = self._route(doc, ("routes", i), raw)
            if route is not None:
                self.routes.append(route)
        if "actions" in doc.data:
            actions, problems = parse_actions(doc, doc.data["actions"], lambda p, g: self._gap(doc, p, g))
            self.problems.extend(problems)
            for name, action in actions.items():
                if name in self.actions:
                    self.problems.append(doc.problem(("actions", name), "action declared twice"))
                self.actions[name] = action
        if "task_items" in doc.data:
            items = doc.data["task_items"]["map"]
            missing = [s for s in ENUMS["task_state"] if s not in items]
            if missing:
                self.problems.append(
                    doc.problem(
                        ("task_items", "map"), f"not total over Nova's task_state: {', '.join(map(str, missing))}"
                    )
                )
            self.task_items.update(items)
            self.item_refs += [(v, doc.problem(("task_items", "map", k), "")) for k, v in items.items() if v]
        self.event_items.update(doc.data.get("event_items", {}))
        self.item_refs += [(v, doc.problem(("event_items", k), "")) for k, v in doc.data.get("event_items", {}).items()]
        for i, raw in enumerate(doc.data.get("gap_rows", [])):
            path = ("gap_rows", i)
            purposes = self._gap(doc, (*path, "gap"), raw["gap"])
            self.gap_entries.append(GapEntry(purposes, raw["status"], raw["note"], Source(doc.file, doc.line_of(path))))

    def _gap(self, doc: YamlDocument, path: KeyPath, raw: str | list[str]) -> tuple[str, ...]:
        purposes = (raw,) if isinstance(raw, str) else tuple(raw)
        for purpose in purposes:
            if purpose not in self.gap_rows:
                self.problems.append(doc.problem(path, f"no gap-table row has the purpose {purpose!r}"))
            elif purpose in self.gap_claims:
                self.problems.append(
                    doc.problem(path, f"gap row {purpose!r} is already mapped at {self.gap_claims[purpose]}")
                )
            else:
                self.gap_claims[purpose] = Source(doc.file, doc.line_of(path))
        return purposes

    def _fields(self, doc: YamlDocument, path: KeyPath, raw: dict[str, Any]) -> tuple[FieldSpec, ...]:
        specs = []
        for name, value in raw.items():
            fpath = (*path, name)
            declared = Source(doc.file, doc.line_of(fpath))
            if isinstance(value, str):
                specs.append(FieldSpec(name, source=_path(value), declared=declared))
                continue
            kinds = [k for k in ("from", "hook", "const", "fields") if k in value]
            if len(kinds) != 1:
                self.problems.append(doc.problem(fpath, "give exactly one of from, hook, const or fields"))
                continue
            for refinement in ("map", "default", "translate", "format", "enum"):
                if refinement in value and "from" not in value:
                    self.problems.append(doc.problem((*fpath, refinement), f"'{refinement}' refines 'from'"))
            if "otherwise" in value and "when" not in value:
                self.problems.append(doc.problem((*fpath, "otherwise"), "'otherwise' needs 'when'"))
            hook = value.get("hook")
            if hook is not None and hook not in FIELD_HOOKS:
                self.problems.append(doc.problem((*fpath, "hook"), f"unknown field hook '{hook}'"))
            value_map = value.get("map")
            enum = value.get("enum")
            if enum is not None:
                if value_map is None:
                    self.problems.append(doc.problem((*fpath, "enum"), "'enum' says which Nova values 'map' covers"))
                else:
                    missing = [v for v in ENUMS[enum] if v not in value_map]
                    if missing:
                        listed = ", ".join(map(str, missing))
                        self.problems.append(
                            doc.problem((*fpath, "map"), f"not total over Nova's {enum}: no vNext value for {listed}")
                        )
            specs.append(
                FieldSpec(
                    name,
                    source=_path(value["from"]) if "from" in value else None,
                    value_map=tuple(value_map.items()) if value_map is not None else None,
                    enum=enum,
                    default=value.get("default"),
                    translate=value.get("translate"),
                    format=value.get("format"),
                    hook=hook,
                    const=value.get("const"),
                    fields=self._fields(doc, (*fpath, "fields"), value["fields"]) if "fields" in value else None,
                    when=_path(value["when"]) if "when" in value else None,
                    otherwise=value.get("otherwise"),
                    declared=declared,
                )
            )
        return tuple(specs)

    def _route(self, doc: YamlDocument, path: KeyPath, raw: dict[str, Any]) -> Route | None:
        errors_before = len(self.problems)
        uri = raw["uri"]
        path_vars, query_vars = self._template_vars(doc, (*path, "uri"), uri)
        derived = tuple(
            Derived(name, spec["var"], tuple(spec["map"].items())) for name, spec in raw.get("derive", {}).items()
        )
        for d in derived:
            if d.source not in set(path_vars) | set(query_vars):
                self.problems.append(
                    doc.problem((*path, "derive", d.name, "var"), f"'{d.source}' is not a route variable")
                )
        bound = set(path_vars) | set(query_vars) | set(PROVIDED_VARIABLES) | {d.name for d in derived}
        if "request_schema" in raw:
            bound.add("body")
            try:
                jsonschema.Draft202012Validator.check_schema(raw["request_schema"])
            except jsonschema.SchemaError as exc:
                self.problems.append(doc.problem((*path, "request_schema"), f"not a valid JSON-Schema: {exc.message}"))
        calls: list[NovaCall] = []
        for j, c in enumerate(raw.get("nova", [])):
            calls.append(self._nova_call(doc, (*path, "nova", j), c, bound, {x.name for x in calls}))
        names = [c.name for c in calls]
        if len(set(names)) != len(names):
            self.problems.append(doc.problem((*path, "nova"), "give each nova call its own name"))
        response = self._response(doc, (*path, "response"), raw.get("response", {}), tuple(calls), bound)
        if raw.get("requires_project", "") not in ("", *path_vars):
            self.problems.append(doc.problem((*path, "requires_project"), "must name a path variable"))
        for name in raw.get("resolve", {}):
            if name not in path_vars:
                self.problems.append(doc.problem((*path, "resolve", name), f"'{name}' is not a path variable"))
        if "owner_probe" in raw:
            self._check_placeholders(doc, (*path, "owner_probe"), raw["owner_probe"], bound)
        status = raw["status"]
        handler = raw.get("handler")
        if handler is not None and handler not in ROUTE_HANDLERS:
            self.problems.append(doc.problem((*path, "handler"), f"unknown route handler '{handler}'"))
        if handler is not None and (calls or raw.get("response")):
            self.problems.append(doc.problem((*path, "handler"), "a handler route declares no nova calls or response"))
        # Nova's project check (requires_project) is a Nova call of its own.
        asks_nova = bool(calls) or handler is not None or "requires_project" in raw
        if status == "mapped" and not asks_nova:
            self.problems.append(doc.problem(path, "a mapped route needs a nova call, a handler or requires_project"))
        if status == "proxy" and calls:
            self.problems.append(doc.problem((*path, "nova"), "a proxy route is served by the proxy alone"))
        # A mapped route calls Nova, through its nova calls or its handler.
        if (calls or status == "mapped") and raw.get("auth") is False:
            self.problems.append(doc.problem((*path, "auth"), "a route that calls Nova needs the caller's token"))
        if (status == "not_applicable") != ("not_applicable" in raw):
            self.problems.append(doc.problem(path, "status not_applicable and a not_applicable: reason go together"))
        if "extension" in raw:
            self._check_extension(doc, path, raw, uri)
        for key in ("refuse_keys", "same_as_path"):
            if key in raw and "request_schema" not in raw:
                self.problems.append(doc.problem((*path, key), "the route takes no body (request_schema)"))
        for body_key, var in raw.get("same_as_path", {}).items():
            if var not in path_vars:
                self.problems.append(doc.problem((*path, "same_as_path", body_key), f"'{var}' is not a path variable"))
        builds = calls or response.hook is not None or handler is not None or response.source == ("request",)
        if status != "not_applicable" and not builds:
            self.problems.append(doc.problem(path, "nothing would build the response: add nova calls or a hook"))
        na = raw.get("not_applicable")
        route = Route(
            rel=raw["rel"],
            method=raw["method"],
            uri=uri,
            summary=raw["summary"],
            status=status,
            gap=self._gap(doc, (*path, "gap"), raw["gap"]) if "gap" in raw else (),
            source=Source(doc.file, doc.line_of(path)),
            auth=raw.get("auth", True),
            nova=tuple(calls),
            response=response,
            not_applicable=NotApplicable(na["reason"], na["answer"], na["use_instead"]) if na else None,
            path_vars=path_vars,
            query_vars=query_vars,
            errors=tuple((int(k), v) for k, v in raw.get("errors", {}).items()),
            handler=handler,
            request_schema=raw.get("request_schema"),
            derived=derived,
            owner_probe=raw.get("owner_probe"),
            requires_project=raw.get("requires_project"),
            resolve=tuple(raw.get("resolve", {}).items()),
            extension=raw.get("extension"),
            refuse_keys=tuple((k, v["answer"], v["reason"]) for k, v in raw.get("refuse_keys", {}).items()),
            same_as_path=tuple(raw.get("same_as_path", {}).items()),
        )
        return route if len(self.problems) == errors_before else None

    def _check_extension(self, doc: YamlDocument, path: KeyPath, raw: dict[str, Any], uri: str) -> None:
        """An extension is a route the spec lacks: it cannot also be one of the
        spec's gap rows, or a route the spec says vNext does without."""
        where = (*path, "extension")
        if "gap" in raw:
            self.problems.append(doc.problem(where, "an extension is not in the spec, so it claims no gap row"))
        if raw["status"] == "not_applicable":
            self.problems.append(doc.problem(where, "an extension is a route the proxy serves: not not_applicable"))
        shape = _shape(uri)
        for row in self.gap_rows.values():
            for method, call in _CALL_IN_TEXT.findall(row.vnext_call):
                if method == raw["method"] and _shape(call) == shape:
                    reason = f"the spec has {method} {call} (gap row {row.purpose!r}): claim that row instead"
                    self.problems.append(doc.problem(where, reason))

    def _template_vars(self, doc: YamlDocument, path: KeyPath, uri: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        try:
            uritemplate.URITemplate(uri)
        except Exception as exc:  # uritemplate raises plain ValueError/TypeError
            self.problems.append(doc.problem(path, f"not an RFC 6570 template: {exc}"))
            return (), ()
        path_vars: list[str] = []
        query_vars: list[str] = []
        for position, match in enumerate(_EXPRESSION.finditer(uri)):
            body = match.group(1)
            if body.startswith("?"):
                if match.end() != len(uri):
                    self.problems.append(doc.problem(path, "the {?query} expression must come last"))
                names, target = body[1:].split(","), query_vars
            else:
                names, target = [body], path_vars
            for name in names:
                if not _VARNAME.match(name):
                    self.problems.append(
                        doc.problem(path, f"expression {position + 1} '{{{body}}}': '{name}' is not a plain variable")
                    )
                elif name in path_vars or name in query_vars:
                    self.problems.append(doc.problem(path, f"variable '{name}' appears twice"))
                else:
                    target.append(name)
        return tuple(path_vars), tuple(query_vars)

    def _check_placeholders(self, doc: YamlDocument, path: KeyPath, template: str, bound: set[str]) -> None:
        for match in _EXPRESSION.finditer(template):
            name = match.group(1)
            if name not in bound:
                self.problems.append(doc.problem(path, f"placeholder '{{{name}}}' is not bound by the vNext route"))

    def _nova_call(
        self, doc: YamlDocument, path: KeyPath, raw: dict[str, Any], bound: set[str], earlier: set[str]
    ) -> NovaCall:
        self._check_placeholders(doc, (*path, "path"), raw["path"], bound)
        query = tuple(raw.get("query", {}).items())
        for key, template in query:
            self._check_placeholders(doc, (*path, "query", key), template, bound)
        for text in _strings(raw.get("body")):
            for match in re.finditer(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z0-9_.]+)?\}", text):
                if match.group(1) not in bound:
                    self.problems.append(
                        doc.problem((*path, "body"), f"placeholder '{match.group(0)}' is not bound by the vNext route")
                    )
        if "if_given" in raw and "body" not in bound:
            self.problems.append(doc.problem((*path, "if_given"), "the route takes no body (request_schema)"))
        if raw.get("name") == "request":
            # The model's ResponseSpec.source ("request",) means the route's variables.
            self.problems.append(doc.problem((*path, "name"), "'request' is not a call name (it is reserved)"))
        when = _path(raw["if_answer"]) if "if_answer" in raw else None
        if when is not None and when[0] not in earlier:
            self.problems.append(doc.problem((*path, "if_answer"), f"'{when[0]}' names no earlier nova call"))
        return NovaCall(
            name=raw.get("name", "nova"),
            method=raw["method"],
            path=raw["path"],
            min_microversion=microversion(raw["min_microversion"]),
            query=query,
            when=when,
            if_given=raw.get("if_given"),
            body=raw.get("body"),
        )

    def _response(
        self, doc: YamlDocument, path: KeyPath, raw: dict[str, Any], calls: tuple[NovaCall, ...], bound: set[str]
    ) -> ResponseSpec:
        hook = raw.get("hook")
        if hook is not None and hook not in BODY_HOOKS:
            self.problems.append(doc.problem((*path, "hook"), f"unknown body hook '{hook}'"))
        source = _path(raw["from_answer"]) if "from_answer" in raw else ()
        if source and source[0] not in {c.name for c in calls}:
            self.problems.append(doc.problem((*path, "from_answer"), f"'{source[0]}' names no nova call of this route"))
        if raw.get("from_variables"):
            if source:
                self.problems.append(doc.problem(path, "give from_answer or from_variables, not both"))
            if "object" not in raw:
                self.problems.append(doc.problem((*path, "from_variables"), "from_variables renders an object"))
            # The model's name for "the route's variables".
            source = ("request",)
        if "object" in raw:
            self.object_refs.append((raw["object"], doc.problem((*path, "object"), "")))
        select = raw.get("select")
        if select is not None and select["var"] not in bound:
            self.problems.append(doc.problem((*path, "select", "var"), f"'{select['var']}' is not a route variable"))
        filters = []
        filter_paths: list[KeyPath] = []
        for var, spec in raw.get("filters", {}).items():
            if var not in bound:
                self.problems.append(doc.problem((*path, "filters", var), f"'{var}' is not a route variable"))
            if ("nova" in spec) != ("min_microversion" in spec):
                self.problems.append(
                    doc.problem((*path, "filters", var), "a filter Nova can apply needs nova and min_microversion")
                )
            mv = spec.get("min_microversion")
            filters.append(
                Filter(
                    var=var,
                    field=_path(spec["field"]),
                    nova_param=spec.get("nova"),
                    min_microversion=microversion(mv) if mv else None,
                    match=spec.get("match", "equals"),
                    verify=spec.get("verify", False),
                    project=spec.get("names_project", False),
                )
            )
            filter_paths.append((*path, "filters", var))
        if filters:
            # Checked, and their Nova values derived, once every object is read.
            self.filter_refs[Source(doc.file, doc.line_of(path[:-1]))] = (doc, filter_paths)
        paging = raw.get("paging")
        if (paging is not None or filters) and "list_key" not in raw:
            self.problems.append(doc.problem(path, "paging and filters apply to lists (list_key)"))
        if "list_key" in raw and len(calls) != 1:
            self.problems.append(doc.problem(path, "a list route makes one (paged) nova call"))
        if "list_key" in raw and paging is None:
            self.problems.append(doc.problem(path, "a list (list_key) says how it is paged (paging)"))
        return ResponseSpec(
            status=raw.get("status", 200),
            object=raw.get("object"),
            source=source,
            list_key=raw.get("list_key"),
            hook=hook,
            content_type=raw.get("content_type", "application/json"),
            select=Selector(select["var"], tuple(select["fields"])) if select else None,
            headers=tuple(raw.get("headers", {}).items()),
            body=raw.get("body", True),
            paging=Paging(**paging) if paging else None,
            filters=tuple(filters),
        )

    def finish(self) -> MappingSet:
        self._check_action_enums()
        for name, where in self.object_refs:
            if name not in self.objects:
                self.problems.append(Problem(where.file, where.line, where.where, f"unknown object '{name}'"))
        for purpose, row in self.gap_rows.items():
            if purpose not in self.gap_claims:
                self.problems.append(
                    Problem(
                        row.file,
                        row.line,
                        row.section,
                        f"the gap row {purpose!r} ({row.vnext_call}) has no mapping entry",
                    )
                )
        self._check_collisions()
        self._resolve_filters()
        if self.problems:
            raise InputError(self.problems)
        # Parse every template now, so no request parses one.
        for route in self.routes:
            for call in route.nova:
                compile_template(call.path)
        for obj in self.objects.values():
            for _, template in obj.links:
                compile_template(template)
        return MappingSet(
            tuple(self.routes),
            dict(self.objects),
            tuple(self.gap_entries),
            dict(self.gap_rows),
            dict(self.schemas),
            dict(self.actions),
            dict(self.task_items),
            dict(self.event_items),
        )

    def _resolve_filters(self) -> None:
        """Check that each list filter tests a field of the list's object, and
        give a filter Nova applies its Nova values: its field's map, inverted."""
        for i, route in enumerate(self.routes):
            response = route.response
            if not response.filters:
                continue
            doc, paths = self.filter_refs[route.source]
            if response.object is None:
                self.problems.append(doc.problem(paths[0], "a filter tests a field of the response's object"))
                continue
            obj = self.objects.get(response.object)
            if obj is None:
                continue  # reported as an unknown object
            filters = []
            for filt, path in zip(response.filters, paths, strict=True):
                spec = _field_at(obj.fields, filt.field)
                if spec is None:
                    reason = f"'{'.'.join(filt.field)}' is not a field of object '{obj.name}'"
                    self.problems.append(doc.problem((*path, "field"), reason))
                elif filt.nova_param is not None:
                    if spec.source is None or spec.translate is not None or spec.format is not None:
                        reason = (
                            "Nova cannot apply a filter on a field the proxy computes (hook, const, translate, ...)"
                        )
                        self.problems.append(doc.problem((*path, "nova"), reason))
                    elif spec.value_map is not None:
                        filt = dataclasses.replace(filt, to_nova=_inverted(spec))
                filters.append(filt)
            self.routes[i] = dataclasses.replace(route, response=dataclasses.replace(response, filters=tuple(filters)))

    def _check_action_enums(self) -> None:
        """What a task or an item can be named is what the published schemas allow."""
        for schema_name, named in (
            ("server_task", [(name, a.source) for name, a in self.actions.items()]),
            ("server_task_item", [(v, Source(w.file, w.line)) for v, w in self.item_refs]),
        ):
            allowed = ((self.schemas.get(schema_name) or {}).get("properties", {}).get("action") or {}).get("enum")
            if allowed is None:
                continue
            for value, source in named:
                if value not in allowed:
                    where = source or Source("mappings", 0)
                    message = f"{value!r} is not an action {SCHEMA_DIR}/{schema_name}.json allows"
                    self.problems.append(Problem(where.file, where.line, value, message))

    def _check_collisions(self) -> None:
        seen: dict[tuple[str, str], Route] = {}
        rel_paths: dict[str, Route] = {}
        for route in self.routes:
            # /servers/{id} and /servers/{name} are the same route to a router.
            shape = re.sub(r"\{[^}]*\}", "{}", route.path)
            key = (route.method, shape)
            if key in seen:
                self.problems.append(
                    Problem(
                        route.source.file,
                        route.source.line,
                        f"{route.method} {route.uri}",
                        f"collides with the route at {seen[key].source}",
                    )
                )
            else:
                seen[key] = route
            first = rel_paths.setdefault(route.rel, route)
            if first.path != route.path:
                self.problems.append(
                    Problem(
                        route.source.file,
                        route.source.line,
                        f"rel {route.rel}",
                        f"names another path ({first.path}, at {first.source}) than {route.path}",
                    )
                )
