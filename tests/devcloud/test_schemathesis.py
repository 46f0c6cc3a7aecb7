"""schemathesis against the proxy in front of devcloud (the real Nova): each
operation of the OpenAPI document the proxy serves (GET /openapi.json), with
schemathesis's response-conformance checks: the status is one the operation
documents, and so is the Content-Type; the body is valid against the
documented schema; the documented headers are there; and nothing answers 5xx
but the 501s the spec imposes (NOT_IMPLEMENTED, each with its reason).

Fixed budgets, derandomized: the same requests on every run, so a failure is
never a matter of chance. Three parts:

- every operation, fuzzed as a project member: schemathesis's coverage phase
  (its deterministic boundary and negative cases, unexpected methods, no
  token), then FUZZ_EXAMPLES generated cases, valid and invalid. The ids are
  generated, so the writes reach nothing that exists; Nova is checked to hold
  nothing new afterwards (nova_unchanged);
- the reads, and the writes that touch only the test's own server (its
  hostname, properties and tags), against objects that exist: a server
  launched through the proxy, its tasks, a server group, a keypair, a
  placement, a server type; REAL_EXAMPLES valid cases each;
- the writes no fuzzer may be let loose with on a cloud (a launch, a task, a
  server group, an admin's server type from creation to deletion), sent once
  each with a valid body and checked the same way; and each spec-imposed 501,
  shown still to be what the proxy answers, with its reason.

The proxy serves real HTTP from a thread of its own (tests/fuzz.py), because
schemathesis sends blocking requests. The document is built at import, as
the proxy builds it (schemathesis parametrizes tests when they are
collected), and test_the_served_document_is_the_one_fuzzed checks the proxy
serves exactly it.
"""

from __future__ import annotations

import collections
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests as http
import schemathesis
import schemathesis.checks
from fuzz import serving
from schemathesis.config import SchemathesisConfig
from users import auth, identity, token

from vnext_proxy.config import NovaSettings, Settings, TaskSettings
from vnext_proxy.devcloud.identities import PROJECT_A, PROJECT_B
from vnext_proxy.mapping.loader import load_mappings
from vnext_proxy.mapping.openapi import build_openapi
from vnext_proxy.web.app import create_app

MEMBER = "alice"
ADMIN = "admin"
IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
MV = {"OpenStack-API-Version": "compute 2.100"}
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmqrTPzc3bR1D1hvPhTVRWLexGkg1Ez/3y4fW6xK4Mm schemathesis"
MAPPINGS = load_mappings()
DOCUMENT = build_openapi(MAPPINGS)

#: Generated cases per operation after the coverage phase. Most fuzzed
#: requests are refused before Nova is asked, so this part is quick; devcloud
#: serves about 10 GETs a second, and the whole module takes about 75 s.
FUZZ_EXAMPLES = 50
#: Generated cases per operation against objects that exist: each reaches Nova.
REAL_EXAMPLES = 15
SEED = 20240611

#: schemathesis's response-conformance checks, and no server error.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]

#: The spec-imposed exceptions: operations whose 5xx is their documented
#: answer, because the spec asks for what Nova cannot do. The proxy answers
#: 501 with the reason and changes nothing; every other check still runs on
#: that answer. test_the_exceptions_are_the_documented_501s keeps this list
#: and the document's 501s the same; test_spec_exceptions_* show each holds.
NOT_IMPLEMENTED: dict[str, str] = {
    "post_server_types": "shares.users: Nova shares a flavor with projects, never with a user",
    "patch_server_type": "shares.users: Nova shares a flavor with projects, never with a user",
    "put_server_type_shares": "users: Nova shares a flavor with projects, never with a user",
    "put_server_type_user_share": "a share with a user: Nova shares a flavor with projects only",
    "delete_server_type_user_share": "a share with a user: Nova shares a flavor with projects only",
    "patch_server": "project_id: Nova cannot move a server to another project (the answer says how to)",
    "get_server_console": "a console type the cloud does not offer (Nova's 400 for it)",
}

#: aiohttp's HTTP parser refuses a request target longer than this (its
#: max_line_size) with a plain-text 400 before the proxy sees the request;
#: the document allows longer ones (repeated filters of 255 characters). A
#: finding for the web layer, pinned in test_schemathesis_findings.py: until
#: it is fixed, such a request is checked to get exactly that refusal.
REQUEST_TARGET_LIMIT = 8190

#: Requests sent, by operation and status (printed at the end with -s).
SENT: collections.Counter[str] = collections.Counter()


def config(examples: int, *, coverage: bool, mode: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {"mode": mode, "deterministic": True, "max-examples": examples, "database": "none"},
            # The document has no examples; stateful runs need links it has not.
            "phases": {
                "examples": {"enabled": False},
                "coverage": {"enabled": coverage},
                "stateful": {"enabled": False},
            },
        }
    )


FUZZED = schemathesis.openapi.from_dict(DOCUMENT, config=config(FUZZ_EXAMPLES, coverage=True, mode="all"))

#: Against objects that exist: each read, and the writes that only touch the
#: test's own server. Not its tasks: a generated one could terminate, resize
#: or shelve it; nor launches, groups or server types, which would make more.
OWN_SERVER_WRITES = {"patch_server", "put_server_tags", "delete_server_tags", "put_server_tag", "delete_server_tag"}
REAL = schemathesis.openapi.from_dict(DOCUMENT, config=config(REAL_EXAMPLES, coverage=False, mode="positive")).include(
    operation_id=[
        operation["operationId"]
        for methods in DOCUMENT["paths"].values()
        for method, operation in methods.items()
        if method in ("get", "head") or operation["operationId"] in OWN_SERVER_WRITES
    ]
)


def target_length(case: Any, base: str) -> int:
    """The request target's length in bytes, as the proxy's HTTP parser counts it."""
    url = urlsplit(http.Request(**case.as_transport_kwargs(base_url=base)).prepare().url)
    return len(url.path) + (len(url.query) + 1 if url.query else 0)


def call_and_validate(case: Any, base: str, user: str = MEMBER) -> http.Response:
    """Send the case as ``user`` and run the checks on the answer."""
    response = case.call(base_url=base, headers={"X-Auth-Token": token(user)}, timeout=60)
    SENT[f"{case.operation.label} {response.status_code}"] += 1
    if target_length(case, base) > REQUEST_TARGET_LIMIT:
        # The HTTP parser's refusal (see REQUEST_TARGET_LIMIT), and nothing else.
        assert response.status_code == 400, response.text[:200]
        assert response.text.startswith(f"Got more than {REQUEST_TARGET_LIMIT} bytes"), response.text[:200]
        return response
    checks = CHECKS
    if response.status_code == 501 and case.operation.definition.raw["operationId"] in NOT_IMPLEMENTED:
        checks = [check for check in CHECKS if check is not schemathesis.checks.not_a_server_error]
    case.validate_response(response, checks=checks)
    return response


def send(base: str, path: str, method: str, user: str, status: int, **parts: Any) -> http.Response:
    """One explicit case of the operation at ``path`` and ``method``, checked
    as the generated ones are; and its answer is ``status``."""
    case = FUZZED[path][method].Case(**parts)
    response = call_and_validate(case, base, user)
    assert response.status_code == status, (method, path, response.text[:300])
    return response


@pytest.fixture(scope="module")
def proxy_url(devcloud: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = tmp_path_factory.mktemp("schemathesis") / "tasks.sqlite3"
    settings = Settings(
        nova=NovaSettings(endpoint=devcloud), store_url=f"sqlite:///{store}", tasks=TaskSettings(poll_interval=0.5)
    )
    with serving() as thread:
        yield thread.serve(create_app(settings, MAPPINGS))
    print(f"\nschemathesis: {sum(SENT.values())} requests, by operation and status: {dict(sorted(SENT.items()))}")


def nova_state(nova_as: Callable[..., Any]) -> dict[str, set[str]]:
    """What a stray write could have made: member-a's servers, server groups
    and keypairs, and every flavor."""
    member = nova_as(MEMBER).compute
    admin = nova_as(ADMIN).compute
    return {
        "servers": {s["id"] for s in member.get("/servers", headers=MV).json()["servers"]},
        "server_groups": {g["id"] for g in member.get("/os-server-groups", headers=MV).json()["server_groups"]},
        "keypairs": {k["keypair"]["name"] for k in member.get("/os-keypairs", headers=MV).json()["keypairs"]},
        "flavors": {f["id"] for f in admin.get("/flavors?is_public=None", headers=MV).json()["flavors"]},
    }


@pytest.fixture(scope="module")
def nova_unchanged(nova_as) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """After the module Nova holds nothing it did not hold before: what the
    module made it removed, and the fuzzed writes made nothing."""
    before = nova_state(nova_as)
    yield
    after = nova_state(nova_as)
    assert {kind: after[kind] - before[kind] for kind in after} == {kind: set() for kind in after}


def wait_for(check: Callable[[], bool], what: str, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within:g}s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def objects(proxy_url: str, nova_as, forget_servers, nova_unchanged: None) -> Iterator[dict[str, str]]:  # type: ignore[no-untyped-def]
    """Objects that exist, made through the proxy where it can (each answer
    checked): the path values the reads are sent with."""
    nova = nova_as(MEMBER).compute
    key = nova.post("/os-keypairs", json={"keypair": {"name": "schemathesis", "public_key": PUBLIC_KEY}}, headers=MV)
    assert key.status_code == 201, key.text
    made = {"project": PROJECT_A}
    servers: list[str] = []
    groups: list[str] = []

    def finished(task_id: str) -> bool:
        task = send(proxy_url, "/server_tasks/{task_id}", "GET", MEMBER, 200, path_parameters={"task_id": task_id})
        return bool(task.json()["state"] != "RUNNING")

    try:
        keypairs = send(proxy_url, "/keypairs", "GET", MEMBER, 200).json()["keypairs"]
        made["keypair"] = next(k["id"] for k in keypairs if k["name"] == "schemathesis")
        types = send(proxy_url, "/server_types", "GET", MEMBER, 200, query={"limit": 100}).json()["server_types"]
        made["server_type"] = next(t["id"] for t in types if t["name"] == "m1.tiny")
        made["placement"] = send(proxy_url, "/placements", "GET", MEMBER, 200).json()["placements"][0]["id"]

        launch = {
            "defaults": {"keypair_id": made["keypair"], "type_id": made["server_type"], "template_id": IMAGE},
            "servers": [{"name": "schemathesis", "hostname": "schemathesis"}],
        }
        project = {"project": PROJECT_A}
        launched = send(
            proxy_url, "/projects/{project}/servers", "POST", MEMBER, 202, path_parameters=project, body=launch
        ).json()
        servers = [s["id"] for s in launched]
        made["server_id"] = servers[0]
        made["task_id"] = launched[0]["_links"]["rel/server_task"]["href"].rsplit("/", 1)[-1]
        wait_for(lambda: finished(made["task_id"]), "the CREATE task finished")
        assert nova.get(f"/servers/{servers[0]}", headers=MV).json()["server"]["status"] == "ACTIVE"
        server = {"server_id": made["server_id"]}

        def run(action: str) -> None:
            body = {"action": action}
            task = send(proxy_url, "/servers/{server_id}/tasks", "POST", MEMBER, 202, path_parameters=server, body=body)
            wait_for(lambda: finished(task.json()["id"]), f"the {action} task finished")

        run("LOCK")
        run("UNLOCK")
        send(proxy_url, "/servers/{server_id}/tags/{tag}", "PUT", MEMBER, 204, path_parameters={**server, "tag": "st"})

        body = {"name": "Schemathesis group", "tags": ["st"],
                "defaults": {"template_id": IMAGE, "type_id": made["server_type"]}}  # fmt: skip
        group = send(
            proxy_url, "/projects/{project}/server_groups", "POST", MEMBER, 201, path_parameters=project, body=body
        ).json()
        groups.append(group["id"])
        made["group_id"] = group["id"]
        made["slug"] = group["slug"]
        yield made
    finally:
        for group_id in groups:
            nova.delete(f"/os-server-groups/{group_id}", headers=MV)
        forget_servers(servers)
        nova.delete("/os-keypairs/schemathesis", headers=MV)


def test_the_served_document_is_the_one_fuzzed(proxy_url: str) -> None:
    served = http.get(f"{proxy_url}/openapi.json", timeout=60)
    assert served.status_code == 200
    assert served.json() == DOCUMENT


def test_the_exceptions_are_the_documented_501s() -> None:
    """Each operation documenting a 501 is listed, with its reason, and no other is."""
    documented = {
        operation["operationId"]
        for methods in DOCUMENT["paths"].values()
        for operation in methods.values()
        if "501" in operation["responses"]
    }
    assert documented == set(NOT_IMPLEMENTED)
    assert all(NOT_IMPLEMENTED.values())


@FUZZED.parametrize()
def test_every_operation_fuzzed(case: Any, proxy_url: str, nova_unchanged: None) -> None:
    call_and_validate(case, proxy_url)


@REAL.parametrize()
def test_every_read_of_objects_that_exist(case: Any, proxy_url: str, objects: dict[str, str]) -> None:
    values = dict(objects)
    if "hostname" in case.path_parameters:
        # A generated PATCH may have renamed the server: its hostname now.
        server = http.get(f"{proxy_url}/servers/{objects['server_id']}", headers=auth(MEMBER), timeout=60)
        values["hostname"] = server.json()["hostname"]
    # The ids schemathesis cannot guess; the console type and the schema's
    # name stay generated (from their enums, or 404).
    case.path_parameters = {name: values.get(name, value) for name, value in case.path_parameters.items()}
    call_and_validate(case, proxy_url)


def test_a_server_type_from_creation_to_deletion(proxy_url: str, nova_as, nova_unchanged: None) -> None:  # type: ignore[no-untyped-def]
    """An admin's server type, each answer checked: the writes a member's
    fuzzing never reaches (Nova's policy refuses them)."""
    name = f"schemathesis-{uuid.uuid4().hex[:8]}"
    body = {
        "name": name, "description": "made by schemathesis", "visibility": "PRIVATE",
        "spec": {"memory_mb": 64, "root_disk_gb": 1, "cpu_units": 1},
        "shares": {"projects": [PROJECT_B]}, "tags": ["st"],
    }  # fmt: skip
    made = send(proxy_url, "/server_types", "POST", ADMIN, 201, body=body).json()
    one = {"server_type": made["id"]}

    def step(path: str, method: str, status: int, **parts: Any) -> Any:
        parts["path_parameters"] = {**one, **parts.get("path_parameters", {})}
        response = send(proxy_url, "/server_types/{server_type}" + path, method, ADMIN, status, **parts)
        return response.json() if response.content else None

    try:
        # The same, but for the shares the create answer repeats (GET has them at /shares).
        assert step("", "GET", 200) == {k: v for k, v in made.items() if k != "shares"}
        step("", "PATCH", 204, body={"description": "changed"})
        step("/tags", "PUT", 204, body=["a", "b"])
        step("/tags/{tag}", "PUT", 204, path_parameters={"tag": "c"})
        assert step("/tags", "GET", 200) == ["a", "b", "c"]
        step("/tags/{tag}", "DELETE", 204, path_parameters={"tag": "c"})
        step("/tags", "DELETE", 204)
        step("/shares/projects/{project}", "PUT", 204, path_parameters={"project": PROJECT_A})
        assert sorted(step("/shares", "GET", 200)["projects"]) == sorted([PROJECT_A, PROJECT_B])
        step("/shares/projects/{project}", "DELETE", 204, path_parameters={"project": PROJECT_A})
        step("/shares", "PUT", 204, body={"projects": [PROJECT_A]})
        step("/shares", "DELETE", 204)
        step("", "DELETE", 204)
        step("", "GET", 404)
    finally:
        admin = nova_as(ADMIN).compute
        for flavor in admin.get("/flavors?is_public=None", headers=MV).json()["flavors"]:
            if flavor["name"] == name:
                admin.delete(f"/flavors/{flavor['id']}", headers=MV)


def test_spec_exceptions_of_server_types(proxy_url: str, nova_as, nova_unchanged: None) -> None:  # type: ignore[no-untyped-def]
    """A share with a user is a 501 saying Nova shares with projects only,
    even to an admin, whom Nova would let share; and nothing is changed."""
    tiny = {"server_type": "m1.tiny"}
    user = {**tiny, "user": identity(MEMBER).user_id}
    spec = {"memory_mb": 64, "root_disk_gb": 1, "cpu_units": 1}
    asks = [
        ("/server_types", "POST",
         {"body": {"name": "schemathesis-shared", "spec": spec, "visibility": "PRIVATE",
                   "shares": {"users": [user["user"]]}}}),
        ("/server_types/{server_type}", "PATCH",
         {"path_parameters": tiny, "body": {"visibility": "PRIVATE", "shares": {"users": [user["user"]]}}}),
        ("/server_types/{server_type}/shares", "PUT", {"path_parameters": tiny, "body": {"users": [user["user"]]}}),
        ("/server_types/{server_type}/shares/users/{user}", "PUT", {"path_parameters": user}),
        ("/server_types/{server_type}/shares/users/{user}", "DELETE", {"path_parameters": user}),
    ]  # fmt: skip
    admin = nova_as(ADMIN).compute
    before = admin.get("/flavors/1", headers=MV).json()["flavor"]
    for path, method, parts in asks:
        error = send(proxy_url, path, method, ADMIN, 501, **parts).json()["error"]
        assert "projects only" in error["message"], (method, path, error)
    assert admin.get("/flavors/1", headers=MV).json()["flavor"] == before


def test_spec_exceptions_of_servers(proxy_url: str, objects: dict[str, str], nova_as) -> None:  # type: ignore[no-untyped-def]
    """Moving a server to another project is a 501 saying how to move one,
    and nothing of the request is applied; a console type the cloud does not
    offer is a 501, one it offers a URI."""
    nova = nova_as(MEMBER).compute
    server = {"server_id": objects["server_id"]}
    before = nova.get(f"/servers/{objects['server_id']}", headers=MV).json()["server"]
    body = {"project_id": PROJECT_B, "hostname": "moved"}
    error = send(proxy_url, "/servers/{server_id}", "PATCH", MEMBER, 501, path_parameters=server, body=body).json()
    assert (error["error"]["field"], "SNAPSHOT" in error["error"]["message"]) == ("project_id", True)
    after = nova.get(f"/servers/{objects['server_id']}", headers=MV).json()["server"]
    assert [after[k] for k in ("tenant_id", "OS-EXT-SRV-ATTR:hostname")] == [
        before[k] for k in ("tenant_id", "OS-EXT-SRV-ATTR:hostname")
    ]
    console = "/servers/{server_id}/consoles/{type}"
    assert send(proxy_url, console, "GET", MEMBER, 200, path_parameters={**server, "type": "novnc"}).json()["uri"]
    send(proxy_url, console, "GET", MEMBER, 501, path_parameters={**server, "type": "spice"})
