"""Load every ``mappings/*.yaml`` into a checked ``MappingSet``, or refuse.

All files are read and all problems collected before anything is reported,
so one run of ``vnext-proxy mappings check`` lists every mistake with its
file, line and reason.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import uritemplate

from vnext_proxy.mapping.format import MAPPING_FILE_SCHEMA
from vnext_proxy.mapping.hooks import BODY_HOOKS, FIELD_HOOKS
from vnext_proxy.mapping.model import (
    FieldSpec,
    GapRow,
    MappingSet,
    NotApplicable,
    NovaCall,
    ObjectSpec,
    ResponseSpec,
    Route,
    Source,
)
from vnext_proxy.schemacheck import schema_problems
from vnext_proxy.yamlsource import InputError, KeyPath, Problem, YamlDocument, load_yaml

# RFC 6570 expressions we accept: simple {var} in paths, {?a,b} for queries.
_EXPRESSION = re.compile(r"\{([^{}]*)\}")
_VARNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def load_mappings(directory: Path) -> MappingSet:
    """Read all mapping files in ``directory``; raise InputError on any problem."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise InputError([Problem(str(directory), 0, "", "no mapping files (*.yaml) found")])
    docs = [load_yaml(f, display_name=_display(f)) for f in files]
    problems: list[Problem] = [p for d in docs for p in d.problems]
    for doc in docs:
        if not doc.problems and doc.data is not None:
            if not isinstance(doc.data, dict):
                problems.append(Problem(doc.file, 1, "", "a mapping file must be a YAML mapping"))
            else:
                problems.extend(schema_problems(doc, MAPPING_FILE_SCHEMA))
    if problems:
        raise InputError(problems)
    builder = _Builder()
    for doc in docs:
        if doc.data:
            builder.add_file(doc)
    return builder.finish()


def _display(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


class _Builder:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.routes: list[Route] = []
        self.objects: dict[str, ObjectSpec] = {}
        # Object references are checked once every file is read.
        self.object_refs: list[tuple[str, Problem]] = []

    def add_file(self, doc: YamlDocument) -> None:
        for name, raw in doc.data.get("objects", {}).items():
            path: KeyPath = ("objects", name)
            if name in self.objects:
                self.problems.append(doc.problem(path, f"object already defined at {self.objects[name].source}"))
                continue
            fields = self._fields(doc, (*path, "fields"), raw["fields"])
            links = tuple(raw.get("links", {}).items())
            self.objects[name] = ObjectSpec(name, fields, links, Source(doc.file, doc.line_of(path)))
        for i, raw in enumerate(doc.data.get("routes", [])):
            route = self._route(doc, ("routes", i), raw)
            if route is not None:
                self.routes.append(route)

    def _fields(self, doc: YamlDocument, path: KeyPath, raw: dict[str, Any]) -> tuple[FieldSpec, ...]:
        specs = []
        for name, value in raw.items():
            fpath = (*path, name)
            if isinstance(value, str):
                specs.append(FieldSpec(name, source=tuple(value.split("."))))
                continue
            kinds = [k for k in ("from", "hook", "const", "fields") if k in value]
            if len(kinds) != 1:
                self.problems.append(doc.problem(fpath, "give exactly one of from, hook, const or fields"))
                continue
            if ("map" in value or "default" in value) and "from" not in value:
                self.problems.append(doc.problem(fpath, "map and default refine 'from' and need it"))
            hook = value.get("hook")
            if hook is not None and hook not in FIELD_HOOKS:
                self.problems.append(doc.problem((*fpath, "hook"), f"unknown field hook '{hook}'"))
            specs.append(
                FieldSpec(
                    name,
                    source=tuple(value["from"].split(".")) if "from" in value else None,
                    value_map=tuple(value["map"].items()) if "map" in value else None,
                    default=value.get("default"),
                    hook=hook,
                    const=value.get("const"),
                    fields=self._fields(doc, (*fpath, "fields"), value["fields"]) if "fields" in value else None,
                )
            )
        return tuple(specs)

    def _route(self, doc: YamlDocument, path: KeyPath, raw: dict[str, Any]) -> Route | None:
        errors_before = len(self.problems)
        uri = raw["uri"]
        path_vars, query_vars = self._template_vars(doc, (*path, "uri"), uri)
        calls = tuple(
            self._nova_call(doc, (*path, "nova", j), c, set(path_vars) | set(query_vars))
            for j, c in enumerate(raw.get("nova", []))
        )
        response = self._response(doc, (*path, "response"), raw.get("response", {}), calls)
        status = raw["status"]
        if status == "mapped" and not calls:
            self.problems.append(doc.problem(path, "a mapped route needs at least one nova call"))
        if status == "proxy" and calls:
            self.problems.append(doc.problem((*path, "nova"), "a proxy route is served by the proxy alone"))
        if status == "not_applicable" and "not_applicable" not in raw:
            self.problems.append(doc.problem(path, "a not_applicable route must say why (not_applicable:)"))
        if status != "not_applicable" and not calls and response.hook is None:
            self.problems.append(doc.problem(path, "nothing would build the response: add nova calls or a hook"))
        gap = raw.get("gap")
        na = raw.get("not_applicable")
        route = Route(
            rel=raw["rel"],
            method=raw["method"],
            uri=uri,
            summary=raw["summary"],
            status=status,
            gap=GapRow(gap["section"], gap["purpose"], gap["v2"], gap["vnext"], gap["spec"]) if gap else None,
            source=Source(doc.file, doc.line_of(path)),
            auth=raw.get("auth", True),
            nova=calls,
            response=response,
            not_applicable=NotApplicable(na["reason"], na["answer"], na["use_instead"]) if na else None,
            path_vars=path_vars,
            query_vars=query_vars,
        )
        return route if len(self.problems) == errors_before else None

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

    def _nova_call(self, doc: YamlDocument, path: KeyPath, raw: dict[str, Any], bound: set[str]) -> NovaCall:
        for match in _EXPRESSION.finditer(raw["path"]):
            name = match.group(1)
            if name not in bound:
                self.problems.append(
                    doc.problem((*path, "path"), f"placeholder '{{{name}}}' is not bound by the vNext route")
                )
        query = tuple(raw.get("query", {}).items())
        for key, template in query:
            for match in _EXPRESSION.finditer(template):
                if match.group(1) not in bound:
                    self.problems.append(
                        doc.problem((*path, "query", key), f"placeholder '{{{match.group(1)}}}' is not bound")
                    )
        major, minor = raw["min_microversion"].split(".")
        return NovaCall(
            name=raw.get("name", "nova"),
            method=raw["method"],
            path=raw["path"],
            min_microversion=(int(major), int(minor)),
            query=query,
        )

    def _response(
        self, doc: YamlDocument, path: KeyPath, raw: dict[str, Any], calls: tuple[NovaCall, ...]
    ) -> ResponseSpec:
        hook = raw.get("hook")
        if hook is not None and hook not in BODY_HOOKS:
            self.problems.append(doc.problem((*path, "hook"), f"unknown body hook '{hook}'"))
        source: tuple[str, ...] = tuple(raw["from"].split(".")) if "from" in raw else ()
        if source and source[0] not in {c.name for c in calls}:
            self.problems.append(doc.problem((*path, "from"), f"'{source[0]}' names no nova call of this route"))
        if "object" in raw:
            self.object_refs.append((raw["object"], doc.problem((*path, "object"), "")))
        return ResponseSpec(
            status=raw.get("status", 200),
            object=raw.get("object"),
            source=source,
            list_key=raw.get("list_key"),
            hook=hook,
            content_type=raw.get("content_type", "application/json"),
        )

    def finish(self) -> MappingSet:
        for name, where in self.object_refs:
            if name not in self.objects:
                self.problems.append(Problem(where.file, where.line, where.where, f"unknown object '{name}'"))
        self._check_collisions()
        if self.problems:
            raise InputError(self.problems)
        return MappingSet(tuple(self.routes), dict(self.objects))

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
