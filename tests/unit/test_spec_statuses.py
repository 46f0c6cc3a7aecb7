"""Every route of both spec revisions answers the success status the spec gives it, or is listed with why not.

The API Blueprint files are parsed for their actions: ``## GET /servers{?...}`` (method and URI in one
heading), ``### GET`` under a resource heading ``## /servers/{id}``, or the bracket form ``### Name [GET]``
under ``## Name [/servers/{id}]``; each action's ``+ Response NNN`` lines give its statuses (a Response
without a code is 200, as API Blueprint's parser assumes). Each action is matched to the mapping route with
its method whose path template matches the action's path, and its 2xx is compared with what the route
answers: a YAML route its declared ``response.status``; a named Python route (``handler:``) what
HANDLER_STATUSES says, which tests/devcloud/test_spec_conformance.py checks by calling each one against
devcloud; a not_applicable route its ``not_applicable.answer``.

DIFFERENCES lists every deliberate difference, with the reason; the test fails on any other, and on a listed
one that no longer exists. REVISION_DISAGREEMENTS lists where the seed and the later revision disagree about
a route's status, and which one the proxy follows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from vnext_proxy.mapping.loader import packaged_mappings
from vnext_proxy.mapping.model import MappingSet, NotApplicable, Route

SPEC = Path(str(packaged_mappings() / "spec"))  # copies of ../shared/spec/*.apib
REVISIONS = {"seed": "apiary.apib", "later": "apiary-later.apib"}

#: What each named Python route answers on success, by (handler, method). Nothing in the package declares it;
#: tests/devcloud/test_spec_conformance.py calls every one of these routes once and checks it.
HANDLER_STATUSES: dict[tuple[str, str], int] = {
    ("launch_servers", "POST"): 202,
    ("start_task", "POST"): 202,
    ("get_task", "GET"): 200,
    ("server_tasks", "GET"): 200,
    ("task_items", "GET"): 200,
    ("create_server_type", "POST"): 201,
    ("update_server_type", "PATCH"): 204,
    ("server_type_tags", "GET"): 200,
    ("server_type_tags", "PUT"): 204,
    ("server_type_tags", "DELETE"): 204,
    ("server_type_tag", "PUT"): 204,
    ("server_type_tag", "DELETE"): 204,
    ("server_type_shares", "GET"): 200,
    ("server_type_shares", "PUT"): 204,
    ("server_type_shares", "DELETE"): 204,
    ("server_type_project_share", "PUT"): 204,
    ("server_type_project_share", "DELETE"): 204,
    ("server_type_user_share", "PUT"): 501,
    ("server_type_user_share", "DELETE"): 501,
    ("create_server_group", "POST"): 201,
    ("get_server_group", "GET"): 200,
    ("project_server_group", "GET"): 200,
    ("project_server_groups", "GET"): 200,
}

#: Where an action's URI in the spec is a typo: the path the spec means, and how we know.
SPEC_PATH_ERRATA: dict[str, tuple[str, str]] = {
    "/project/{project}/servers": (
        "/projects/{project}/servers",
        "both revisions' heading says /project/; their prose (POST /projects/{project}/servers), the server "
        "schema's 'Create a new server' link and every other project route say /projects/",
    ),
}

_USER_SHARES = (
    "Nova shares a flavor with projects only (flavor access), never with one user: the proxy answers 501 "
    "Not Implemented, as the seed's Common HTTP Return Codes say for a facility the service does not provide"
)

#: Every deliberate difference: (revision, method, spec path) -> (spec status, proxy status, reason).
DIFFERENCES: dict[tuple[str, str, str], tuple[int, int, str]] = {
    ("later", "PUT", "/server_types/{id}/shares/users/{user}"): (204, 501, _USER_SHARES),
    ("later", "DELETE", "/server_types/{id}/shares/users/{user}"): (204, 501, _USER_SHARES),
}

_SEED_ONLY = "only the seed has server groups; the later revision dropped them (and their schema)"
_LATER_SCHEMAS = "object new in the later revision"
_LATER_TYPES = "server type writes are new in the later revision (the seed only creates them)"
_LATER_SERVERS = "new in the later revision"

#: Where the two revisions disagree about a route's success status: (method, path) -> (seed status, later
#: status, the revision the proxy follows, why). None: the revision has no such route, so by its own Common
#: HTTP Return Codes it answers 404 ("the URL requested is not found in the API route map"). The proxy
#: serves both revisions, so it follows the one that has the route.
REVISION_DISAGREEMENTS: dict[tuple[str, str], tuple[int | None, int | None, str, str]] = {
    ("GET", "/schemas/server_group"): (200, None, "seed", _SEED_ONLY),
    ("POST", "/projects/{project}/server_groups"): (201, None, "seed", _SEED_ONLY),
    ("GET", "/server_groups/{id}"): (200, None, "seed", _SEED_ONLY),
    ("GET", "/projects/{project}/server_groups/{slug}"): (200, None, "seed", _SEED_ONLY),
    ("GET", "/projects/{project}/server_groups"): (200, None, "seed", _SEED_ONLY),
    ("GET", "/schemas/placement"): (None, 200, "later", _LATER_SCHEMAS),
    ("GET", "/schemas/tag"): (None, 200, "later", _LATER_SCHEMAS),
    ("GET", "/schemas/property"): (None, 200, "later", _LATER_SCHEMAS),
    ("GET", "/placements"): (None, 200, "later", "placements replace the seed's regions in the later revision"),
    ("PATCH", "/server_types/{id}"): (None, 204, "later", _LATER_TYPES),
    ("DELETE", "/server_types/{id}"): (None, 204, "later", _LATER_TYPES),
    ("GET", "/server_types/{id}/tags"): (None, 200, "later", _LATER_TYPES),
    ("PUT", "/server_types/{id}/tags"): (None, 204, "later", _LATER_TYPES),
    ("DELETE", "/server_types/{id}/tags"): (None, 204, "later", _LATER_TYPES),
    ("PUT", "/server_types/{id}/tags/{tag}"): (None, 204, "later", _LATER_TYPES),
    ("DELETE", "/server_types/{id}/tags/{tag}"): (None, 204, "later", _LATER_TYPES),
    ("GET", "/server_types/{id}/shares"): (None, 200, "later", _LATER_TYPES),
    ("PUT", "/server_types/{id}/shares"): (None, 204, "later", _LATER_TYPES),
    ("DELETE", "/server_types/{id}/shares"): (None, 204, "later", _LATER_TYPES),
    ("PUT", "/server_types/{id}/shares/users/{user}"): (None, 204, "later", _LATER_TYPES + "; but see DIFFERENCES"),
    ("DELETE", "/server_types/{id}/shares/users/{user}"): (None, 204, "later", _LATER_TYPES + "; but see DIFFERENCES"),
    ("PUT", "/server_types/{id}/shares/projects/{project}"): (None, 204, "later", _LATER_TYPES),
    ("DELETE", "/server_types/{id}/shares/projects/{project}"): (None, 204, "later", _LATER_TYPES),
    ("PATCH", "/servers/{id}"): (None, 204, "later", _LATER_SERVERS),
    ("GET", "/servers/{id}/tags"): (None, 200, "later", _LATER_SERVERS),
    ("PUT", "/servers/{id}/tags"): (None, 204, "later", _LATER_SERVERS),
    ("DELETE", "/servers/{id}/tags"): (None, 204, "later", _LATER_SERVERS),
    ("PUT", "/servers/{id}/tags/{tag}"): (None, 204, "later", _LATER_SERVERS),
    ("DELETE", "/servers/{id}/tags/{tag}"): (None, 204, "later", _LATER_SERVERS),
}  # fmt: skip


# --- the API Blueprint -------------------------------------------------------------------------------------------------

_METHODS = "GET|HEAD|POST|PUT|PATCH|DELETE"
_HEADING = re.compile(r"^(#+)\s+(.*?)\s*$")
_ACTION_WITH_URI = re.compile(rf"^({_METHODS})\s+(/\S*)$")  # ## GET /servers{?limit}
_RESOURCE = re.compile(r"^(/\S*)$")  # ## /servers/{id}
_METHOD_ALONE = re.compile(rf"^({_METHODS})$")  # ### GET, under a resource
_BRACKET_RESOURCE = re.compile(r"^.*\[(/[^\]]*)\]$")  # ## Server [/servers/{id}]
_BRACKET_ACTION = re.compile(rf"^.*\[({_METHODS})(?:\s+(/[^\]]*))?\]$")  # ### Get a server [GET]
_RESPONSE = re.compile(r"^\s*[+*-]\s+Response\b(?:\s+(\d{3}))?")


@dataclass(frozen=True)
class SpecAction:
    revision: str
    method: str
    uri: str  # as the heading writes it
    line: int
    statuses: tuple[int, ...]

    @property
    def path(self) -> str:
        """The URI without its query part (``{?a,b}``, or the spec's ``?{lines}``), typo fixed."""
        path = self.uri.split("{?", 1)[0].split("?", 1)[0]
        return SPEC_PATH_ERRATA.get(path, (path, ""))[0]

    @property
    def success(self) -> int:
        found = [s for s in self.statuses if 200 <= s < 300]
        assert len(found) == 1, f"{self}: not exactly one 2xx response"
        return found[0]


def parse_blueprint(text: str, revision: str) -> list[SpecAction]:
    actions: list[SpecAction] = []
    resource: tuple[int, str] | None = None  # heading level, URI
    current: tuple[int, str, str, int] | None = None  # heading level, method, URI, line
    statuses: list[int] = []

    def close() -> None:
        if current is not None:
            actions.append(SpecAction(revision, current[1], current[2], current[3], tuple(statuses)))

    in_fence = False
    for number, line in enumerate(text.split("\n"), 1):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        heading = None if in_fence else _HEADING.match(line)
        if heading is None:
            response = None if in_fence or current is None else _RESPONSE.match(line)
            if response is not None:
                statuses.append(int(response[1] or 200))
            continue
        level, words = len(heading[1]), heading[2]
        if current is not None and level > current[0] and not re.search(rf"^({_METHODS})\b|/|\[", words):
            continue  # a sub-heading inside the action's text
        close()
        current, statuses = None, []
        if resource is not None and level <= resource[0]:
            resource = None
        if found := _ACTION_WITH_URI.match(words):
            current = (level, found[1], found[2], number)
        elif found := _BRACKET_ACTION.match(words):
            uri = found[2] or (resource[1] if resource else None)
            assert uri is not None, f"{revision}:{number}: an action without a URI or a resource: {line!r}"
            current = (level, found[1], uri, number)
        elif found := _METHOD_ALONE.match(words):
            assert resource is not None, f"{revision}:{number}: a method heading outside a resource: {line!r}"
            current = (level, found[1], resource[1], number)
        elif found := (_RESOURCE.match(words) or _BRACKET_RESOURCE.match(words)):
            resource = (level, found[1])
        else:
            # Anything that looks like a route but is none of the forms above is a parse failure, not prose.
            assert not re.search(rf"^({_METHODS})\b|/", words), f"{revision}:{number}: unparsed heading {line!r}"
    close()
    return actions


def spec_actions(revision: str) -> list[SpecAction]:
    return parse_blueprint((SPEC / REVISIONS[revision]).read_text(encoding="utf-8"), revision)


# --- the proxy --------------------------------------------------------------------------------------------------------


def _shape(path: str) -> str:
    """The path with every variable as ``{}``: /servers/{id} and /servers/{server_id} are one route."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def route_for(mappings: MappingSet, method: str, path: str) -> Route | None:
    """The mapping route with this method whose path template matches the spec's path (a spec variable
    matches only a route variable; a spec literal such as /schemas/server matches /schemas/{object}); the
    one with the most literal segments if several do."""
    spec = _shape(path)
    found: list[tuple[int, Route]] = []
    for route in mappings.routes:
        if route.method != method:
            continue
        pattern = "".join(
            "[^/]+" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^}]*\})", route.path)
        )
        if re.fullmatch(pattern, spec):
            found.append((len([s for s in route.path.split("/") if s and not s.startswith("{")]), route))
    if not found:
        return None
    best = max(score for score, _ in found)
    routes = [r for score, r in found if score == best]
    assert len(routes) == 1, f"{method} {path} matches several routes: {[r.uri for r in routes]}"
    return routes[0]


def proxy_status(route: Route) -> int:
    if route.status == "not_applicable":
        assert route.not_applicable is not None
        return route.not_applicable.answer
    if route.handler is not None:
        return HANDLER_STATUSES[(route.handler, route.method)]
    return route.response.status


def differences(mappings: MappingSet, actions: Iterable[SpecAction]) -> dict[tuple[str, str, str], tuple[int, int]]:
    found = {}
    for action in actions:
        route = route_for(mappings, action.method, action.path)
        assert route is not None, f"{action.revision}:{action.line}: {action.method} {action.uri} has no route"
        status = proxy_status(route)
        if status != action.success:
            found[(action.revision, action.method, action.path)] = (action.success, status)
    return found


def _by_route(revision: str) -> dict[tuple[str, str], tuple[str, int]]:
    """The revision's success status per (method, path shape), with a path as the spec writes it."""
    found: dict[tuple[str, str], tuple[str, int]] = {}
    for action in spec_actions(revision):
        key = (action.method, _shape(action.path))
        if key in found:  # GET /server_types/{id} and /server_types/{name}: one route, one status
            assert found[key][1] == action.success, f"{revision} gives {key} two statuses"
        found.setdefault(key, (action.path, action.success))
    return found


def revision_disagreements() -> dict[tuple[str, str], tuple[int | None, int | None]]:
    seed, later = _by_route("seed"), _by_route("later")
    found = {}
    for key in sorted(seed.keys() | later.keys()):
        seed_status = seed[key][1] if key in seed else None
        later_status = later[key][1] if key in later else None
        if seed_status != later_status:
            found[(key[0], (seed.get(key) or later[key])[0])] = (seed_status, later_status)
    return found


# --- the tests --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("revision", sorted(REVISIONS))
def test_every_action_of_the_spec_is_found(revision: str) -> None:
    """The parser finds each revision's actions (counted by hand from the headings) and each has one 2xx."""
    actions = spec_actions(revision)
    assert len(actions) == {"seed": 28, "later": 47}[revision]
    assert all(a.statuses for a in actions)
    for action in actions:
        assert action.success  # exactly one 2xx
    # The heading forms the files use: method and URI in one heading, and methods under a resource.
    assert ("HEAD", "/servers/{id}") in {(a.method, a.uri) for a in actions}
    assert ("GET", "/schemas/server") in {(a.method, a.uri) for a in actions}


def test_parser_reads_every_heading_form_and_the_default_status() -> None:
    blueprint = "\n".join([
        "# Group Things",
        "## GET /things{?limit}",
        "+ Response (application/json)",
        "```json",
        "## GET /not/a/route",
        "```",
        "## /things/{id}",
        "### PATCH",
        "+ Request (application/json)",
        "+ Response 204",
        "+ Response 400 (application/json)",
        "### HEAD",
        "+ Response 200",
        "## A thing's tags [/things/{id}/tags]",
        "### List them [GET]",
        "#### Notes",
        "+ Response 200 (application/json)",
        "### Add one [PUT /things/{id}/tags/{tag}]",
        "+ Response 204",
        "# Group Other",
        "## Prose about nothing",
    ])  # fmt: skip
    found = [(a.method, a.uri, a.statuses, a.success) for a in parse_blueprint(blueprint, "test")]
    assert found == [
        ("GET", "/things{?limit}", (200,), 200),
        ("PATCH", "/things/{id}", (204, 400), 204),
        ("HEAD", "/things/{id}", (200,), 200),
        ("GET", "/things/{id}/tags", (200,), 200),
        ("PUT", "/things/{id}/tags/{tag}", (204,), 204),
    ]
    with pytest.raises(AssertionError, match="unparsed heading"):
        parse_blueprint("## Get /things", "test")
    with pytest.raises(AssertionError, match="outside a resource"):
        parse_blueprint("## GET", "test")


def test_spec_path_errata_are_still_needed(mappings: MappingSet) -> None:
    """Each typo fixed is in the spec, the proxy has no route at it, and has one at the path meant."""
    for typo, (meant, _why) in SPEC_PATH_ERRATA.items():
        actions = [a for r in REVISIONS for a in spec_actions(r) if a.uri.split("{?", 1)[0] == typo]
        assert actions, f"no action of the spec is at {typo} any more"
        for action in actions:
            assert route_for(mappings, action.method, typo) is None
            assert route_for(mappings, action.method, meant) is not None


def test_every_spec_action_has_a_route(mappings: MappingSet) -> None:
    for revision in REVISIONS:
        for action in spec_actions(revision):
            assert route_for(mappings, action.method, action.path) is not None, action


def test_every_named_route_of_the_spec_has_its_status_listed(mappings: MappingSet) -> None:
    """A handler route the spec has must be in HANDLER_STATUSES (and be called by the devcloud test); a
    listed one must still exist."""
    spec_routes = [route_for(mappings, a.method, a.path) for revision in REVISIONS for a in spec_actions(revision)]
    named = {(r.handler, r.method) for r in spec_routes if r is not None and r.handler is not None}
    assert named == set(HANDLER_STATUSES)


def test_the_proxy_answers_the_spec_status_or_a_listed_difference(mappings: MappingSet) -> None:
    found = differences(mappings, [a for revision in REVISIONS for a in spec_actions(revision)])
    listed = {key: (spec, proxy) for key, (spec, proxy, _why) in DIFFERENCES.items()}
    unlisted = {k: v for k, v in found.items() if listed.get(k) != v}
    gone = {k: v for k, v in listed.items() if found.get(k) != v}
    assert not unlisted, f"differences from the spec not in DIFFERENCES (spec, proxy): {unlisted}"
    assert not gone, f"DIFFERENCES lists what no longer differs (or differs otherwise): {gone}"


def test_a_not_applicable_route_is_compared_by_its_answer(mappings: MappingSet) -> None:
    """A spec route the proxy does not serve counts with the status it answers (404 or 501), so it shows as
    a difference unless listed."""
    action = next(a for a in spec_actions("later") if (a.method, a.path) == ("GET", "/servers/{id}/tags"))
    route = route_for(mappings, action.method, action.path)
    assert route is not None
    gone = replace(route, status="not_applicable", not_applicable=NotApplicable("not here", 404, "nothing"))
    others = tuple(r for r in mappings.routes if r is not route)
    assert differences(replace(mappings, routes=(*others, gone)), [action]) == {
        ("later", "GET", "/servers/{id}/tags"): (200, 404)
    }


def test_where_the_revisions_disagree_and_whom_the_proxy_follows(mappings: MappingSet) -> None:
    found = revision_disagreements()
    listed = {key: (seed, later) for key, (seed, later, _follows, _why) in REVISION_DISAGREEMENTS.items()}
    assert found == listed, "REVISION_DISAGREEMENTS is not what the two revisions say"
    for (method, path), (seed, later, follows, _why) in REVISION_DISAGREEMENTS.items():
        followed = {"seed": seed, "later": later}[follows]
        route = route_for(mappings, method, path)
        assert followed is not None, f"{method} {path}: the proxy cannot follow a revision without the route"
        assert route is not None, f"{method} {path}: {follows} has it, the proxy does not serve it"
        if (follows, method, path) not in DIFFERENCES:
            assert proxy_status(route) == followed, (method, path, follows)


def test_for_unimplemented_functionality_the_proxy_follows_the_seeds_501(mappings: MappingSet) -> None:
    """The revisions' Common HTTP Return Codes disagree: the seed answers 501 Not Implemented for a facility
    the service does not provide; the later revision drops 501 and lists "does not implement the requested
    functionality" under 400. The proxy keeps the seed's 501 (a user share; a console type the cloud lacks,
    which Nova refuses with 400)."""
    codes = {}
    for revision, name in REVISIONS.items():
        text = (SPEC / name).read_text(encoding="utf-8")
        section = text.split("### Common HTTP Return Codes", 1)[1].split("\n# ", 1)[0]
        codes[revision] = dict(re.findall(r"^#### (\d{3}) [^\n]*\n(.*?)(?=^#### |\Z)", section, re.M | re.S))
    assert set(codes["seed"]) - set(codes["later"]) == {"501"}
    assert set(codes["later"]) <= set(codes["seed"])
    unimplemented = "does not implement the requested functionality"
    assert unimplemented in codes["later"]["400"]
    assert unimplemented not in codes["seed"]["400"]
    assert (
        HANDLER_STATUSES[("server_type_user_share", "PUT")]
        == HANDLER_STATUSES[("server_type_user_share", "DELETE")]
        == 501
    )
    console = route_for(mappings, "GET", "/servers/{server}/consoles/{type}")
    assert console is not None
    assert (400, 501) in console.errors
