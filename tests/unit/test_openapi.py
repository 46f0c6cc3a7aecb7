"""The OpenAPI 3.1 document (GET /openapi.json, `vnext-proxy openapi`) is valid OpenAPI 3.1 and cannot drift
from the mappings: every route is an operation with its method and every operation a route, with the route's
success status, the route's request body schema, its token requirement and the error object. The published
draft-04 schemas keep their meaning as JSON Schema 2020-12 (the spec's own examples fail them in the same
places), and the bodies the proxy takes validate against the document."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from helpers import refused_port
from jsonschema import Draft4Validator, Draft202012Validator
from multidict import MultiDict
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
from unit.test_spec_schemas import EXAMPLES, SCHEMAS
from unit.test_spec_statuses import HANDLER_STATUSES

from vnext_proxy.cli import main
from vnext_proxy.config import NovaSettings, Settings
from vnext_proxy.errors import VNextError
from vnext_proxy.execution import tasks
from vnext_proxy.execution.paging import page_query
from vnext_proxy.execution.schemas import link_schema
from vnext_proxy.mapping.hooks import BODY_HOOKS
from vnext_proxy.mapping.model import MappingSet, Route
from vnext_proxy.mapping.openapi import (
    HANDLER_ANSWERS,
    HOOK_BODIES,
    IDEMPOTENT_HANDLERS,
    MAX_LIMIT_PARAMETER,
    TASK_STATES,
    build_openapi,
    from_draft04,
    task_component,
)
from vnext_proxy.web.app import create_app
from vnext_proxy.web.generations import IDEMPOTENT

COMPONENTS = "#/components/schemas/"
SERVER_ID = "4bc17469-d2c0-40a3-8e4b-75b9271f97b2"
SERVER_TYPE = "0a5d4e5e-6f0c-5b7e-9d35-9c8d2b7a1e44"


@pytest.fixture(scope="module")
def doc(mappings: MappingSet) -> dict[str, Any]:
    # As served: through JSON, so nothing but JSON is in it.
    document: dict[str, Any] = json.loads(json.dumps(build_openapi(mappings)))
    return document


def operation(doc: dict[str, Any], route: Route) -> dict[str, Any]:
    found: dict[str, Any] = doc["paths"][route.path][route.method.lower()]
    return found


def body_schema(doc: dict[str, Any], route: Route) -> Any:
    body = operation(doc, route).get("requestBody")
    return None if body is None else body["content"]["application/json"]["schema"]


def validator(doc: dict[str, Any], schema: Any) -> Draft202012Validator:
    """A validator for a schema of the document: its #/components/... references resolve in the document."""
    return Draft202012Validator({"allOf": [schema], "components": doc["components"]})


def drift(mappings: MappingSet, doc: dict[str, Any]) -> list[str]:
    """Where the document and the mappings disagree."""
    problems = []
    routes = {(r.path, r.method.lower()): r for r in mappings.routes}
    operations = {(path, method) for path, item in doc["paths"].items() for method in item}
    problems += [f"{m.upper()} {p}: a route the document lacks" for p, m in sorted(routes.keys() - operations)]
    problems += [f"{m.upper()} {p}: no such route" for p, m in sorted(operations - routes.keys())]
    for key in sorted(routes.keys() & operations):
        route, op = routes[key], doc["paths"][key[0]][key[1]]
        where = f"{route.method} {route.path}"
        expected = expected_success(route)
        successes = sorted(int(s) for s in op["responses"] if int(s) < 300)
        # A route whose only answer is an error (not applicable, a user share) has no 2xx at all.
        documented = successes == [expected] if expected < 300 else not successes and str(expected) in op["responses"]
        if not documented:
            problems.append(f"{where}: success is {expected}, the document says {sorted(op['responses'])}")
        wanted = expected_body(mappings, route)
        if wanted is not None and body_schema(doc, route) != wanted:
            problems.append(f"{where}: the request body is not the route's schema")
        if wanted is None and "requestBody" in op:
            problems.append(f"{where}: takes no body, the document says it does")
    return problems


def expected_success(route: Route) -> int:
    """What the route answers, read from the mappings (and HANDLER_STATUSES, which devcloud checks)."""
    if route.not_applicable is not None:
        return route.not_applicable.answer
    if route.handler is not None:
        return HANDLER_STATUSES.get((route.handler, route.method), HANDLER_ANSWERS[(route.handler, route.method)][0])
    return route.response.status


def expected_body(mappings: MappingSet, route: Route) -> Any:
    """A YAML route's request_schema; a named route's published link schema, found as the proxy finds it
    (execution.schemas.link_schema), or the part of it the route takes; the task actions' parameters for a
    task; None: no body."""
    if route.request_schema is not None:
        return route.request_schema
    if route.handler == "start_task":
        return {"oneOf": [{"$ref": COMPONENTS + task_component(a)} for a, s in sorted(mappings.actions.items())
                          if s.refuse is None]}  # fmt: skip
    if (route.handler, route.method) == ("server_type_tags", "PUT"):
        return {"type": "array", "items": {"$ref": COMPONENTS + "tag"}}
    if (route.handler, route.method) == ("server_type_shares", "PUT"):
        # The shares of the published create link (what execution.server_types checks).
        return from_draft04(link_schema(mappings, "server_type")["properties"]["shares"], COMPONENTS + "server_type")
    links = {
        "launch_servers": ("server", "POST", "project"),
        "create_server_group": ("server_group", "POST", "project"),
        "create_server_type": ("server_type", "POST", None),
        "update_server_type": ("server_type", "PATCH", "id"),
    }
    if route.handler not in links:
        return None
    obj, method, from_url = links[route.handler]
    published = from_draft04(link_schema(mappings, obj, method), COMPONENTS + obj)
    # The URL gives that key: the body may leave it out.
    return {**published, "required": [k for k in published["required"] if k != from_url]}


# --- valid OpenAPI 3.1 ------------------------------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(doc).validate()


def test_the_validator_refuses_a_broken_document(doc: dict[str, Any]) -> None:
    """The validation above can fail: a path variable without its parameter is refused."""
    broken = copy.deepcopy(doc)
    del broken["paths"]["/servers/{server_id}"]["get"]["parameters"]
    assert list(OpenAPIV31SpecValidator(broken).iter_errors())


# --- no drift from the mappings ---------------------------------------------------------------------------------------


def test_the_document_is_the_mappings(mappings: MappingSet, doc: dict[str, Any]) -> None:
    assert drift(mappings, doc) == []
    assert len([m for item in doc["paths"].values() for m in item]) == len(mappings.routes)


def test_drift_is_found(mappings: MappingSet, doc: dict[str, Any]) -> None:
    """Each kind of drift shows: a route missing, one too many, another success status, another body."""
    doctored = copy.deepcopy(doc)
    del doctored["paths"]["/keypairs"]
    doctored["paths"]["/servers"]["post"] = doctored["paths"]["/servers"]["get"]
    tags = doctored["paths"]["/servers/{server_id}/tags"]
    tags["put"]["responses"]["200"] = tags["put"]["responses"].pop("204")
    tags["put"]["requestBody"]["content"]["application/json"]["schema"] = {"type": "array"}
    assert drift(mappings, doctored) == [
        "GET /keypairs: a route the document lacks",
        "POST /servers: no such route",
        "PUT /servers/{server_id}/tags: success is 204, the document says ['200', '400', '401', '403', '404', "
        "'409', '413', '415', '502', '503']",
        "PUT /servers/{server_id}/tags: the request body is not the route's schema",
    ]


def test_every_named_route_has_its_answer_and_agrees_with_the_spec_statuses(mappings: MappingSet) -> None:
    named = {(r.handler, r.method) for r in mappings.routes if r.handler is not None}
    assert set(HANDLER_ANSWERS) == named
    assert {key: HANDLER_ANSWERS[key][0] for key in HANDLER_STATUSES} == HANDLER_STATUSES
    # The keypair extension is not in the spec (so not in HANDLER_STATUSES): both are plain reads.
    assert {k: s for k, (s, _b) in HANDLER_ANSWERS.items() if k not in HANDLER_STATUSES} == {
        ("list_keypairs", "GET"): 200,
        ("get_keypair", "GET"): 200,
    }


def test_operation_ids_are_unique_and_say_method_and_rel(mappings: MappingSet, doc: dict[str, Any]) -> None:
    ids = [operation(doc, r)["operationId"] for r in mappings.routes]
    assert len(set(ids)) == len(ids)
    for route, op_id in zip(mappings.routes, ids, strict=True):
        assert op_id == f"{route.method.lower()}_{route.rel}"


def test_path_and_query_parameters_are_the_uri_templates(mappings: MappingSet, doc: dict[str, Any]) -> None:
    for route in mappings.routes:
        parameters = operation(doc, route).get("parameters", [])
        assert [p["name"] for p in parameters if p["in"] == "path"] == re.findall(r"\{(\w+)\}", route.path)
        assert all(p["required"] for p in parameters if p["in"] == "path")
        assert [p["name"] for p in parameters if p["in"] == "query"] == list(route.query_vars)
    servers = {p["name"]: p for p in operation(doc, _route(mappings, "GET", "/servers"))["parameters"]}
    assert servers["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT_PARAMETER}
    # A filter may be repeated (any of its values); since is a time.
    assert servers["virt_state"]["schema"]["type"] == "array"
    assert servers["since"]["schema"]["items"]["format"] == "date-time"
    # A task listing's state is one of the task states, repeatable; its since a time.
    history = {
        p["name"]: p for p in operation(doc, _route(mappings, "GET", "/servers/{server_id}/tasks"))["parameters"]
    }
    assert history["state"]["schema"] == {"type": "array", "items": {"type": "string", "enum": list(TASK_STATES)}}
    assert history["since"]["schema"]["format"] == "date-time"
    console = operation(doc, _route(mappings, "GET", "/servers/{server_id}/consoles/{type}"))
    kinds = {p["name"]: p["schema"] for p in console["parameters"]}
    assert kinds["type"]["enum"] == ["novnc", "xvpvnc", "spice", "rdp"]


def test_the_documented_query_bounds_are_the_proxys() -> None:
    """schemathesis sends what the document allows: the proxy must take it."""
    page_query(MultiDict(limit=str(MAX_LIMIT_PARAMETER)))
    with pytest.raises(VNextError) as refused:
        page_query(MultiDict(limit=str(MAX_LIMIT_PARAMETER + 1)))
    assert refused.value.field == "limit"
    assert set(TASK_STATES) == set(tasks._STATES)


def _route(mappings: MappingSet, method: str, path: str) -> Route:
    return next(r for r in mappings.routes if r.method == method and r.path == path)


# --- tokens and errors ------------------------------------------------------------------------------------------------


def test_a_token_is_required_where_the_route_needs_one(mappings: MappingSet, doc: dict[str, Any]) -> None:
    scheme = doc["components"]["securitySchemes"]["X-Auth-Token"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-Auth-Token"}
    for route in mappings.routes:
        needs = route.auth and route.not_applicable is None
        assert operation(doc, route)["security"] == ([{"X-Auth-Token": []}] if needs else []), route.uri
    free = {r.path for r in mappings.routes if not operation(doc, r)["security"]}
    assert {"/", "/schemas", "/schemas/{object}", "/openapi.json"} <= free


def test_errors_are_the_error_object_the_proxy_answers(doc: dict[str, Any]) -> None:
    error = validator(doc, {"$ref": COMPONENTS + "error"})
    full = VNextError(400, "servers[0]: bad", field="servers[0]", problems=[{"field": "a", "message": "b"}])
    assert error.is_valid(full.body("req-1"))
    assert error.is_valid(VNextError(404, "No such thing").body("req-2"))
    # The middleware always gives the request id: an error without one is not the proxy's.
    assert not error.is_valid(VNextError(404, "No such thing").body())
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if int(status) >= 400 and method != "head":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": COMPONENTS + "error"}, (method, path, status)
                elif int(status) >= 400:
                    assert "content" not in response  # an answer to HEAD has no body


def test_each_route_lists_the_errors_it_can_answer(mappings: MappingSet, doc: dict[str, Any]) -> None:
    def statuses(method: str, path: str) -> list[int]:
        return sorted(int(s) for s in operation(doc, _route(mappings, method, path))["responses"])

    # Discovery: only the deadline every request has.
    assert statuses("GET", "/") == [200, 503]
    # A body, a path variable, Nova's refusals, and 501 for moving a server to another project.
    assert statuses("PATCH", "/servers/{server_id}") == [204, 400, 401, 403, 404, 409, 413, 415, 501, 502, 503]
    # Nova's 400 for a console type the cloud lacks is a 501.
    assert 501 in statuses("GET", "/servers/{server_id}/consoles/{type}")
    # A retry with an Idempotency-Key and another body.
    launch = operation(doc, _route(mappings, "POST", "/projects/{project}/servers"))
    assert "422" in launch["responses"]
    assert "Idempotency-Key" in [p["name"] for p in launch["parameters"] if p["in"] == "header"]
    # Not applicable: its documented answer, with the reason and what to use instead, and nothing else.
    detail = operation(doc, _route(mappings, "GET", "/servers/{server_id}/detail"))
    assert list(detail["responses"]) == ["404"]
    assert "GET /servers/{server_id}" in detail["responses"]["404"]["description"]
    # A user share: Nova cannot, so 501 is the answer.
    user_share = operation(doc, _route(mappings, "PUT", "/server_types/{server_type}/shares/users/{user}"))
    assert sorted(user_share["responses"]) == ["400", "401", "403", "404", "409", "501", "502", "503"]
    # A body asking for a user share is 501; reading or clearing the shares never is (schemathesis).
    assert 501 in statuses("PUT", "/server_types/{server_type}/shares")
    assert 501 not in statuses("GET", "/server_types/{server_type}/shares")
    assert 501 not in statuses("DELETE", "/server_types/{server_type}/shares")


def test_idempotent_routes_are_the_apps() -> None:
    assert IDEMPOTENT_HANDLERS == IDEMPOTENT


def test_every_body_hook_has_its_answer() -> None:
    assert set(HOOK_BODIES) == set(BODY_HOOKS)


# --- bodies -----------------------------------------------------------------------------------------------------------


def test_bodies_the_proxy_takes_validate_and_answers_match(mappings: MappingSet, doc: dict[str, Any]) -> None:
    def body(method: str, path: str) -> Draft202012Validator:
        return validator(doc, body_schema(doc, _route(mappings, method, path)))

    keypair = "5b5b0d0e-ec22-5f8c-8f2d-6a4c8c3f1a10"
    launch = {"defaults": {"keypair_id": keypair}, "servers": [{"hostname": "web-1", "type_id": SERVER_TYPE}]}
    assert body("POST", "/projects/{project}/servers").is_valid(launch)
    task = body("POST", "/servers/{server_id}/tasks")
    assert task.is_valid({"action": "REBOOT"})
    assert task.is_valid({"action": "SNAPSHOT", "name": "before-upgrade"})
    assert not task.is_valid({"action": "SNAPSHOT"})  # a snapshot needs its name
    assert not task.is_valid({"action": "CREATE"})  # launches start CREATE tasks
    assert body("PATCH", "/servers/{server_id}").is_valid({"hostname": "web-2"})
    assert body("PUT", "/server_types/{server_type}/tags").is_valid(["gpu", "large"])
    assert body("PUT", "/server_types/{server_type}/shares").is_valid({"projects": ["p1"]})
    for method in ("GET", "DELETE", "HEAD"):
        assert all(body_schema(doc, r) is None for r in mappings.routes if r.method == method)
    # A page of servers, as the proxy renders one.
    page = operation(doc, _route(mappings, "GET", "/servers"))["responses"]["200"]["content"]["application/json"]
    assert page["schema"]["properties"]["servers"]["items"] == {"$ref": COMPONENTS + "server"}
    assert not validator(doc, page["schema"]).is_valid({"servers": [{"id": SERVER_ID}], "_links": {}})


# --- draft-04 to 2020-12 ----------------------------------------------------------------------------------------------

DRAFT_04 = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "id": "http://example.com/thing",
    "type": "object",
    "properties": {
        "size": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 10, "exclusiveMaximum": False},
        "pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}], "additionalItems": False},
        "list": {"type": "array", "items": {"type": "string"}, "additionalItems": False},
        "part": {"$ref": "#/definitions/part", "description": "ignored beside $ref in draft-04"},
        "properties": {"type": "object"},
    },
    "dependencies": {"a": ["b"], "c": {"required": ["d"]}},
    "definitions": {"part": {"type": "string", "maxLength": 3}},
    "links": [{"rel": "self", "href": "/things/{id}"}],
}


def test_draft04_idioms_become_2020_12() -> None:
    converted = from_draft04(DRAFT_04, "#/components/schemas/thing")
    assert converted == {
        "$id": "http://example.com/thing",
        "type": "object",
        "properties": {
            "size": {"type": "number", "exclusiveMinimum": 0, "maximum": 10},
            "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
            "list": {"type": "array", "items": {"type": "string"}},
            "part": {"$ref": "#/components/schemas/thing/$defs/part"},
            "properties": {"type": "object"},
        },
        "dependentRequired": {"a": ["b"]},
        "dependentSchemas": {"c": {"required": ["d"]}},
        "$defs": {"part": {"type": "string", "maxLength": 3}},
    }


@pytest.mark.parametrize(
    "instance",
    [
        {"size": 0}, {"size": 0.5}, {"size": 10}, {"pair": ["a", 1]}, {"pair": ["a", 1, 2]}, {"list": ["x"]},
        {"part": "abcd"}, {"part": "abc"}, {"a": 1}, {"a": 1, "b": 2}, {"c": 1}, {"c": 1, "d": 2},
    ],
)  # fmt: skip
def test_a_converted_schema_takes_what_the_draft04_one_takes(instance: dict[str, Any]) -> None:
    original = {k: v for k, v in DRAFT_04.items() if k != "id"}  # no base URI to resolve the reference against
    converted = from_draft04(original, "#")
    assert Draft4Validator(original).is_valid(instance) == Draft202012Validator(converted).is_valid(instance)


def _problems(validator: Any, instance: Any) -> set[tuple[str, str]]:
    return {(e.json_path, str(e.validator)) for e in validator.iter_errors(instance)}


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*__*.json")), ids=lambda p: p.stem)
def test_published_schemas_keep_their_meaning(doc: dict[str, Any], example: Path) -> None:
    """Each of the spec's examples fails its published draft-04 schema and the document's component in the
    same places (most pass both)."""
    kind = example.name.split("__", 1)[0]
    instance = json.loads(example.read_text(encoding="utf-8"))
    published = json.loads((SCHEMAS / f"{kind}.json").read_text(encoding="utf-8"))
    component = doc["components"]["schemas"][kind]
    assert "$schema" not in component
    assert "links" not in component
    assert _problems(Draft4Validator(published), instance) == _problems(validator(doc, component), instance)


# --- served, and printed ----------------------------------------------------------------------------------------------


async def test_get_openapi_json_needs_no_token(aiohttp_client, mappings: MappingSet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with refused_port() as nova_port:
        settings = Settings(
            nova=NovaSettings(endpoint=f"http://127.0.0.1:{nova_port}/v2.1"),
            store_url=f"sqlite:///{tmp_path}/tasks.sqlite3",
        )
        proxy: TestClient = await aiohttp_client(create_app(settings, mappings))
        resp = await proxy.get("/openapi.json")
        assert resp.status == 200
        assert resp.content_type == "application/json"
        assert await resp.json() == json.loads(json.dumps(build_openapi(mappings)))
        home = await (await proxy.get("/")).json(content_type=None)
    assert home["resources"]["rel/openapi"]["href-template"] == "/openapi.json"


def test_the_command_prints_the_document(mappings: MappingSet, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["openapi"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(build_openapi(mappings)))
