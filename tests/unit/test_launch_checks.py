"""The pure part of launching servers (vnext_proxy.tasks.launch): merging
defaults, expanding hostname patterns, checking a launch against what Nova
has, and the Nova request body built for each server. No Nova here: the
facts are built by hand."""

from __future__ import annotations

import base64
import random
import re
from dataclasses import replace
from typing import Any

import pytest

from vnext_proxy.tasks.launch import (
    MAX_HOSTNAME,
    MAX_USER_DATA_BYTES,
    NovaFacts,
    check_launch,
    group_ids,
    merge_servers,
    nova_server_body,
    pattern_problem,
)

# vNext ids (as the handler maps them) and what Nova calls them.
TYPE = "5f0e9c1a-7b2d-4c3e-8f1a-2b3c4d5e6f70"
BIG_TYPE = "6a1f0d2b-8c3e-4d4f-9a2b-3c4d5e6f7081"
TEMPLATE = "0b6a8c2e-1d3f-4a5b-9c7d-2e4f6a8b0c1d"
KEYPAIR = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
PLACEMENT = "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a"
GROUP = "7e6d5c4b-3a29-4817-a6f5-e4d3c2b1a098"
OTHER_GROUP = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
WEB_1 = "aa11aa11-aa11-4a11-8a11-aa11aa11aa11"
DB_1 = "bb22bb22-bb22-4b22-8b22-bb22bb22bb22"
DB_2 = "cc33cc33-cc33-4c33-8c33-cc33cc33cc33"


def facts(**changes: Any) -> NovaFacts:
    """A project with two server types, one template, one keypair, one zone,
    one visible group, three servers (two tagged db) and room for 10 instances."""
    base = NovaFacts(
        flavors={TYPE: "1", "m1.small": "1", BIG_TYPE: "2", "m1.big": "2"},
        images=frozenset({TEMPLATE}),
        keypairs={KEYPAIR: "mykey", "mykey": "mykey"},
        zones={PLACEMENT: "nova", "nova": "nova"},
        hostnames=frozenset({"existing-1"}),
        flavor_sizes={"1": (1, 2048), "2": (4, 8192)},
        room={"instances": 10, "cores": 20, "ram": 51200},
        groups=frozenset({GROUP}),
        servers={WEB_1: ("web",), DB_1: ("db", "primary"), DB_2: ("db",)},
    )
    return replace(base, **changes)


def server(**attributes: Any) -> dict[str, Any]:
    """A valid merged server; ``None`` drops an attribute."""
    base: dict[str, Any] = {"hostname": "web-1", "type_id": TYPE, "template_id": TEMPLATE}
    return {k: v for k, v in {**base, **attributes}.items() if v is not None}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- pattern_problem -----------------------------------------------------------

TOO_WIDE = f"a number in a hostname is at most {MAX_HOSTNAME} digits wide"


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("web-%(rand_num)5d", None),
        ("web-%(rand_name)5d", None),
        ("web-%(rand_num)d", None),  # six digits by default
        ("web-%(rand_num)63d", None),
        ("web-%(rand_num)07d", None),
        ("web", None),  # no number at all is the duplicate check's business
        ("web-%(rand_num)64d", TOO_WIDE),
        ("web-%(rand_num)99d", TOO_WIDE),
        ("web-%(rand_num)100d", TOO_WIDE),  # three digits of width, whatever they say
        ("web-%(rand_num)001d", TOO_WIDE),
        ("%(rand_num)3d-%(rand_num)64d", TOO_WIDE),  # any number in the pattern
        (None, None),
        (42, None),  # not a string: the schema refuses it, not this
    ],
)
def test_pattern_problem(pattern: Any, problem: str | None) -> None:
    assert pattern_problem(pattern) == problem


# --- group_ids -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"servers": [{"hostname": "a"}]}, set()),
        ({"defaults": {"group_id": GROUP}, "servers": [{}]}, {GROUP}),
        ({"servers": [{"group_id": GROUP}, {"group_id": OTHER_GROUP}, {}]}, {GROUP, OTHER_GROUP}),
        ({"defaults": {"group_id": GROUP}, "servers": [{"group_id": GROUP}]}, {GROUP}),
        ({"defaults": None, "servers": None}, set()),
        ({}, set()),
        # Only strings name a group; a server that is not an object names none.
        ({"defaults": {"group_id": 7}, "servers": [{"group_id": None}, "web", [GROUP]]}, set()),
    ],
)
def test_group_ids(body: dict[str, Any], expected: set[str]) -> None:
    assert group_ids(body) == expected


# --- merge_servers -----------------------------------------------------------------


def test_each_server_overrides_the_request_defaults() -> None:
    body = {
        "defaults": {"type_id": TYPE, "template_id": TEMPLATE, "keypair_id": KEYPAIR},
        "servers": [{"hostname": "a"}, {"hostname": "b", "type_id": BIG_TYPE, "keypair_id": "mykey"}],
    }
    assert merge_servers(body, random.Random(0)) == [
        {"type_id": TYPE, "template_id": TEMPLATE, "keypair_id": KEYPAIR, "hostname": "a"},
        {"type_id": BIG_TYPE, "template_id": TEMPLATE, "keypair_id": "mykey", "hostname": "b"},
    ]


def test_group_defaults_come_first_then_the_request_then_the_server() -> None:
    groups = {GROUP: {"type_id": "group-type", "template_id": "group-template", "user_data": "Z3JvdXA="}}
    body = {
        "defaults": {"group_id": GROUP, "template_id": TEMPLATE},
        "servers": [{"hostname": "a"}, {"hostname": "b", "user_data": "b3du"}],
    }
    assert merge_servers(body, random.Random(0), groups) == [
        {"type_id": "group-type", "template_id": TEMPLATE, "user_data": "Z3JvdXA=", "group_id": GROUP, "hostname": "a"},
        {"type_id": "group-type", "template_id": TEMPLATE, "user_data": "b3du", "group_id": GROUP, "hostname": "b"},
    ]


def test_only_the_servers_own_group_lends_its_defaults() -> None:
    groups = {GROUP: {"type_id": "in-group"}, OTHER_GROUP: {"type_id": "in-other"}}
    body = {
        "servers": [
            {"hostname": "a", "group_id": OTHER_GROUP},
            {"hostname": "b"},
            {"hostname": "c", "group_id": "unseen"},
        ]
    }
    assert merge_servers(body, random.Random(0), groups) == [
        {"type_id": "in-other", "hostname": "a", "group_id": OTHER_GROUP},
        {"hostname": "b"},
        {"hostname": "c", "group_id": "unseen"},  # not visible: check_launch says so
    ]


def test_a_servers_affinity_replaces_the_defaults_whole() -> None:
    near = {"near": {"server_ids": [WEB_1]}}
    not_near = {"not_near": {"server_tags": ["db"]}}
    body = {"defaults": {"affinity": near}, "servers": [{"hostname": "a"}, {"hostname": "b", "affinity": not_near}]}
    merged = merge_servers(body, random.Random(0))
    assert [s["affinity"] for s in merged] == [near, not_near]


def test_hostname_pattern_makes_each_servers_hostname() -> None:
    body = {"defaults": {"hostname_pattern": "web-%(rand_num)5d"}, "servers": [{}, {}, {}]}
    merged = merge_servers(body, random.Random(1))
    hostnames = [s["hostname"] for s in merged]
    assert all(re.fullmatch(r"web-\d{5}", h) for h in hostnames), hostnames
    assert len(set(hostnames)) == 3
    # The pattern is not a server attribute: Nova never sees it.
    assert all(set(s) == {"hostname"} for s in merged)


@pytest.mark.parametrize(
    ("pattern", "shape"),
    [
        ("web-%(rand_num)d", r"web-\d{6}"),  # six by default
        ("web-%(rand_name)3d", r"web-\d{3}"),  # the spec spells it both ways
        ("%(rand_num)2d-x-%(rand_num)4d", r"\d{2}-x-\d{4}"),
        ("db%(rand_num)1d.example.com", r"db\d\.example\.com"),
        ("fixed", r"fixed"),
        ("web-%(rand_num)99d", r"web-\d{63}"),  # widths past a hostname are cut (pattern_problem refuses them first)
    ],
)
def test_hostname_pattern_shapes(pattern: str, shape: str) -> None:
    [merged] = merge_servers({"defaults": {"hostname_pattern": pattern}, "servers": [{}]}, random.Random(3))
    assert re.fullmatch(shape, merged["hostname"]), merged["hostname"]


def test_hostnames_are_the_same_for_the_same_seed() -> None:
    body = {"defaults": {"hostname_pattern": "web-%(rand_num)8d"}, "servers": [{}, {}, {}, {}]}
    first = merge_servers(body, random.Random(2026))
    again = merge_servers(body, random.Random(2026))
    other = merge_servers(body, random.Random(2027))
    assert first == again
    assert [s["hostname"] for s in first] != [s["hostname"] for s in other]


def test_a_given_hostname_wins_over_the_pattern_and_uses_no_randomness() -> None:
    body = {"defaults": {"hostname_pattern": "web-%(rand_num)5d"}, "servers": [{"hostname": "mine"}, {}]}
    merged = merge_servers(body, random.Random(9))
    assert merged[0] == {"hostname": "mine"}
    # The second server draws exactly what a lone patterned server would.
    [alone] = merge_servers({"defaults": body["defaults"], "servers": [{}]}, random.Random(9))
    assert merged[1] == alone


def test_the_groups_pattern_applies_unless_the_request_has_one() -> None:
    groups = {GROUP: {"hostname_pattern": "grp-%(rand_num)3d", "type_id": TYPE}}
    in_group = {"servers": [{"group_id": GROUP}]}
    [merged] = merge_servers(in_group, random.Random(0), groups)
    assert re.fullmatch(r"grp-\d{3}", merged["hostname"])
    assert "hostname_pattern" not in merged
    assert merged["type_id"] == TYPE

    overridden = {"defaults": {"hostname_pattern": "req-%(rand_num)4d"}, "servers": [{"group_id": GROUP}]}
    [merged] = merge_servers(overridden, random.Random(0), groups)
    assert re.fullmatch(r"req-\d{4}", merged["hostname"])


def test_no_pattern_and_no_hostname_leaves_the_hostname_out() -> None:
    assert merge_servers({"servers": [{"type_id": TYPE}]}, random.Random(0)) == [{"type_id": TYPE}]


def test_no_servers_merge_to_none() -> None:
    assert merge_servers({"defaults": {"type_id": TYPE}}, random.Random(0)) == []
    assert merge_servers({"servers": []}, random.Random(0)) == []


@pytest.mark.parametrize(
    ("defaults", "own", "placement"),
    [
        ({}, {"region_id": "r1"}, "r1"),  # the seed revision's name for placement_id
        ({"region_id": "r1"}, {}, "r1"),
        ({"region_id": "r1"}, {"placement_id": "p2"}, "p2"),
        ({}, {"region_id": "r1", "placement_id": "p2"}, "p2"),
    ],
)
def test_region_id_is_the_placement(defaults: dict[str, Any], own: dict[str, Any], placement: str) -> None:
    [merged] = merge_servers({"defaults": defaults, "servers": [{"hostname": "a", **own}]}, random.Random(0))
    assert merged["placement_id"] == placement


def test_a_servers_region_id_beats_the_default_placement() -> None:
    body = {"defaults": {"placement_id": "default-zone"}, "servers": [{"hostname": "a", "region_id": "own-zone"}]}
    [merged] = merge_servers(body, random.Random(0))
    assert merged["placement_id"] == "own-zone"


# --- check_launch -------------------------------------------------------------------


def test_a_valid_launch_has_no_problems() -> None:
    servers = [
        server(
            hostname="web-1",
            keypair_id=KEYPAIR,
            placement_id=PLACEMENT,
            group_id=GROUP,
            user_data=b64(b"#cloud-config\n"),
            affinity={"near": {"server_ids": [WEB_1]}, "not_near": {"server_tags": ["db"]}},
        ),
        server(hostname="web-2.example.com", type_id="m1.big", keypair_id="mykey", placement_id="nova"),
        server(hostname="A" * MAX_HOSTNAME, user_data=b64(b"x" * MAX_USER_DATA_BYTES)),
    ]
    assert check_launch(servers, facts()) == []


def test_no_servers_is_a_problem() -> None:
    assert check_launch([], facts()) == [{"field": "servers", "message": "give at least one server"}]


def only(problems: list[dict[str, str]]) -> dict[str, str]:
    assert len(problems) == 1, problems
    return problems[0]


@pytest.mark.parametrize(
    ("attributes", "field", "message"),
    [
        # Hostnames
        ({"hostname": None}, "servers[0].hostname", "a hostname is required (or defaults.hostname_pattern)"),
        ({"hostname": ""}, "servers[0].hostname", "a hostname is required (or defaults.hostname_pattern)"),
        ({"hostname": "a" * 64}, "servers[0].hostname", "a hostname is at most 63 characters"),
        ({"hostname": "web_1"}, "servers[0].hostname", "'web_1' is not a valid hostname"),
        ({"hostname": "-web"}, "servers[0].hostname", "'-web' is not a valid hostname"),
        ({"hostname": "web-"}, "servers[0].hostname", "'web-' is not a valid hostname"),
        ({"hostname": "web..example"}, "servers[0].hostname", "'web..example' is not a valid hostname"),
        ({"hostname": "wéb"}, "servers[0].hostname", "'wéb' is not a valid hostname"),
        ({"hostname": "web 1"}, "servers[0].hostname", "'web 1' is not a valid hostname"),
        ({"hostname": "existing-1"}, "servers[0].hostname", "'existing-1' is already used in this project"),
        # What Nova must have
        ({"type_id": None}, "servers[0].type_id", "a server type is required"),
        ({"type_id": "m1.huge"}, "servers[0].type_id", "no server type 'm1.huge'"),
        ({"keypair_id": "theirs"}, "servers[0].keypair_id", "no keypair of yours 'theirs': GET /keypairs lists yours"),
        ({"placement_id": "mars"}, "servers[0].placement_id", "no placement 'mars'"),
        ({"template_id": None}, "servers[0].template_id", "a server template (image) is required"),
        ({"template_id": "ubuntu"}, "servers[0].template_id", "no server template 'ubuntu'"),
        (
            {"template_id": "ffffffff-ffff-4fff-8fff-ffffffffffff"},
            "servers[0].template_id",
            "no server template 'ffffffff-ffff-4fff-8fff-ffffffffffff'",
        ),
        ({"group_id": OTHER_GROUP}, "servers[0].group_id", f"no server group '{OTHER_GROUP}'"),
        # User data
        ({"user_data": "not base64!"}, "servers[0].user_data", "user_data must be base64"),
        ({"user_data": "aGVsbG8"}, "servers[0].user_data", "user_data must be base64"),  # padding missing
        ({"user_data": 12}, "servers[0].user_data", "user_data must be base64"),
        (
            {"user_data": b64(b"x" * (MAX_USER_DATA_BYTES + 1))},
            "servers[0].user_data",
            "user_data is at most 65535 bytes once decoded",
        ),
        # Affinity
        (
            {"affinity": {"near": {"server_ids": ["gone"]}}},
            "servers[0].affinity.near.server_ids",
            "no server 'gone' in this project",
        ),
        (
            {"affinity": {"not_near": {"server_ids": [WEB_1, "gone"]}}},
            "servers[0].affinity.not_near.server_ids",
            "no server 'gone' in this project",
        ),
        (
            {"affinity": {"near": {"server_tags": ["cache"]}}},
            "servers[0].affinity.near.server_tags",
            "no server in this project is tagged ['cache']",
        ),
        (
            {"affinity": {"not_near": {"server_tags": ["cache", "queue"]}}},
            "servers[0].affinity.not_near.server_tags",
            "no server in this project is tagged ['cache', 'queue']",
        ),
    ],
)
def test_each_problem_is_reported_on_its_field(attributes: dict[str, Any], field: str, message: str) -> None:
    assert only(check_launch([server(**attributes)], facts())) == {"field": field, "message": message}


@pytest.mark.parametrize(
    "attributes",
    [
        {"user_data": ""},  # empty user data is base64 of nothing
        {"affinity": {"near": {"server_tags": ["cache", "db"]}}},  # any one of the tags will do
        {"affinity": {"near": {}, "not_near": {"server_ids": [], "server_tags": []}}},
        {"affinity": None},
        {"hostname": "1"},  # one character, all digits
        {"hostname": "a" * 61 + ".b"},  # 63 with a dot
    ],
    ids=["empty-user-data", "any-tag", "empty-affinity", "no-affinity", "one-digit", "dotted-63"],
)
def test_edges_that_are_not_problems(attributes: dict[str, Any]) -> None:
    assert check_launch([server(**attributes)], facts()) == []


def test_a_template_must_be_one_nova_has_in_the_same_spelling() -> None:
    # is_uuid takes any case; the images Nova answered for are keyed as asked.
    assert check_launch([server(template_id=TEMPLATE.upper())], facts()) == [
        {"field": "servers[0].template_id", "message": f"no server template {TEMPLATE.upper()!r}"}
    ]
    upper = facts(images=frozenset({TEMPLATE.upper()}))
    assert check_launch([server(template_id=TEMPLATE.upper())], upper) == []


def test_a_long_value_is_quoted_cut() -> None:
    [problem] = check_launch([server(type_id="x" * 1000)], facts())
    assert problem["field"] == "servers[0].type_id"
    assert problem["message"].startswith("no server type 'xxxx")
    assert problem["message"].endswith("... (1002 characters)")
    assert len(problem["message"]) < 250


def test_a_hostname_twice_in_the_request_names_the_first() -> None:
    servers = [server(hostname="web-1"), server(hostname="web-2"), server(hostname="web-1"), server(hostname="web-2")]
    assert check_launch(servers, facts()) == [
        {"field": "servers[2].hostname", "message": "'web-1' is also servers[0]'s hostname"},
        {"field": "servers[3].hostname", "message": "'web-2' is also servers[1]'s hostname"},
    ]


def test_hostnames_already_used_are_reported_for_every_server() -> None:
    servers = [server(hostname="existing-1"), server(hostname="existing-1")]
    assert check_launch(servers, facts()) == [
        {"field": "servers[0].hostname", "message": "'existing-1' is already used in this project"},
        {"field": "servers[1].hostname", "message": "'existing-1' is already used in this project"},
    ]


def test_hostnames_differing_only_in_case_are_distinct() -> None:
    servers = [server(hostname="Existing-1"), server(hostname="web-1"), server(hostname="WEB-1")]
    assert check_launch(servers, facts()) == []


def test_a_hostname_with_a_trailing_newline_is_not_valid() -> None:
    assert only(check_launch([server(hostname="web-1\n")], facts())) == {
        "field": "servers[0].hostname",
        "message": "'web-1\\n' is not a valid hostname",
    }


def test_every_problem_of_every_server_at_once() -> None:
    servers = [
        server(hostname="bad_name", type_id="nope", keypair_id="nope", placement_id="nope"),
        server(hostname=None, template_id=None, group_id="nope", user_data="%%%"),
    ]
    assert check_launch(servers, facts()) == [
        {"field": "servers[0].hostname", "message": "'bad_name' is not a valid hostname"},
        {"field": "servers[0].type_id", "message": "no server type 'nope'"},
        {"field": "servers[0].keypair_id", "message": "no keypair of yours 'nope': GET /keypairs lists yours"},
        {"field": "servers[0].placement_id", "message": "no placement 'nope'"},
        {"field": "servers[1].hostname", "message": "a hostname is required (or defaults.hostname_pattern)"},
        {"field": "servers[1].user_data", "message": "user_data must be base64"},
        {"field": "servers[1].template_id", "message": "a server template (image) is required"},
        {"field": "servers[1].group_id", "message": "no server group 'nope'"},
    ]


# Quota: flavor "1" is 1 core / 2048 MB, "2" is 4 cores / 8192 MB.


def launch_of(*types: str) -> list[dict[str, Any]]:
    return [server(hostname=f"web-{i}", type_id=t) for i, t in enumerate(types)]


@pytest.mark.parametrize(
    ("types", "room", "messages"),
    [
        ((TYPE, TYPE), {"instances": 2, "cores": 2, "ram": 4096}, []),  # exactly full
        (
            (TYPE, TYPE, TYPE),
            {"instances": 2, "cores": 20, "ram": 51200},
            ["over quota: 3 instances asked for, 2 left"],
        ),
        ((BIG_TYPE, BIG_TYPE), {"instances": 10, "cores": 7, "ram": 51200}, ["over quota: 8 cores asked for, 7 left"]),
        (
            (TYPE, "m1.big"),
            {"instances": 10, "cores": 20, "ram": 10239},
            ["over quota: 10240 ram asked for, 10239 left"],
        ),
        (
            (BIG_TYPE,),
            {"instances": 0, "cores": 0, "ram": 0},
            [
                "over quota: 1 instances asked for, 0 left",
                "over quota: 4 cores asked for, 0 left",
                "over quota: 8192 ram asked for, 0 left",
            ],
        ),
        ((BIG_TYPE,) * 50, {"instances": -1, "cores": -1, "ram": -1}, []),  # unlimited
        ((BIG_TYPE,) * 50, {"instances": 100}, []),  # what Nova does not say is unlimited
        ((BIG_TYPE,) * 50, {}, []),  # no quota known: Nova will say
    ],
)
def test_quota_room_for_the_whole_request(types: tuple[str, ...], room: dict[str, int], messages: list[str]) -> None:
    problems = check_launch(launch_of(*types), facts(room=room))
    assert problems == [{"field": "servers", "message": m} for m in messages]


def test_quota_is_not_checked_when_a_type_is_unknown() -> None:
    problems = check_launch(launch_of(TYPE, "m9.nope"), facts(room={"instances": 0, "cores": 0, "ram": 0}))
    assert problems == [{"field": "servers[1].type_id", "message": "no server type 'm9.nope'"}]


# --- nova_server_body -----------------------------------------------------------------


def test_the_smallest_body() -> None:
    assert nova_server_body(server(hostname="web-1", type_id="m1.big"), facts()) == {
        "server": {"name": "web-1", "hostname": "web-1", "imageRef": TEMPLATE, "flavorRef": "2", "networks": "auto"}
    }


def test_every_attribute_reaches_nova_by_its_nova_name() -> None:
    user_data = b64(b"#!/bin/sh\necho hi\n")
    launched = server(
        hostname="web-1.example.com",
        keypair_id=KEYPAIR,
        placement_id=PLACEMENT,
        user_data=user_data,
        group_id=GROUP,
        affinity={"near": {"server_ids": [WEB_1]}, "not_near": {"server_ids": [DB_1], "server_tags": ["db"]}},
    )
    assert nova_server_body(launched, facts()) == {
        "server": {
            "name": "web-1.example.com",
            "hostname": "web-1.example.com",
            "imageRef": TEMPLATE,
            "flavorRef": "1",
            "networks": "auto",
            "key_name": "mykey",
            "availability_zone": "nova",
            "user_data": user_data,
        },
        "os:scheduler_hints": {
            "group": GROUP,
            "same_host": [WEB_1],
            # The ids given, then the tagged servers, each once.
            "different_host": [DB_1, DB_2],
        },
    }


@pytest.mark.parametrize(
    ("affinity", "hints"),
    [
        ({"near": {"server_tags": ["db"]}}, {"same_host": [DB_1, DB_2]}),
        ({"near": {"server_tags": ["primary", "web"]}}, {"same_host": [WEB_1, DB_1]}),  # in the project's order
        ({"not_near": {"server_ids": [DB_2, DB_2]}}, {"different_host": [DB_2]}),
        ({"near": {"server_tags": ["cache"]}}, {}),  # check_launch refuses this; no hint is made of it
        ({"near": {}, "not_near": {"server_ids": []}}, {}),
    ],
)
def test_affinity_becomes_scheduler_hints(affinity: dict[str, Any], hints: dict[str, Any]) -> None:
    body = nova_server_body(server(affinity=affinity), facts())
    assert body.get("os:scheduler_hints", {}) == hints
    assert ("os:scheduler_hints" in body) == bool(hints)


def test_names_and_ids_map_to_the_same_nova_names() -> None:
    by_id = nova_server_body(server(type_id=TYPE, keypair_id=KEYPAIR, placement_id=PLACEMENT), facts())
    by_name = nova_server_body(server(type_id="m1.small", keypair_id="mykey", placement_id="nova"), facts())
    assert by_id == by_name
    assert (by_id["server"]["flavorRef"], by_id["server"]["key_name"], by_id["server"]["availability_zone"]) == (
        "1",
        "mykey",
        "nova",
    )


def test_attributes_vnext_does_not_launch_with_stay_out_of_novas_body() -> None:
    extra = server(region_id="r1", tags=["web"], metadata={"a": "b"}, hostname_pattern="x-%(rand_num)d", name="N")
    assert nova_server_body(extra, facts()) == nova_server_body(server(), facts())


def test_merged_then_checked_then_built() -> None:
    """The three steps as the handler runs them."""
    body = {
        "defaults": {"hostname_pattern": "app-%(rand_num)4d", "type_id": "m1.small", "keypair_id": KEYPAIR},
        "servers": [{"template_id": TEMPLATE}, {"template_id": TEMPLATE, "hostname": "app-db", "type_id": "m1.big"}],
    }
    merged = merge_servers(body, random.Random(5))
    assert check_launch(merged, facts()) == []
    bodies = [nova_server_body(s, facts()) for s in merged]
    assert re.fullmatch(r"app-\d{4}", bodies[0]["server"]["hostname"])
    assert bodies[0]["server"]["name"] == bodies[0]["server"]["hostname"]
    assert bodies[1] == {
        "server": {
            "name": "app-db",
            "hostname": "app-db",
            "imageRef": TEMPLATE,
            "flavorRef": "2",
            "networks": "auto",
            "key_name": "mykey",
        }
    }
