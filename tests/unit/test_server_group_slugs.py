"""Server groups' pure parts (vnext_proxy.server_groups): the slug made of a
group's name, and the view of a group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from vnext_proxy.server_groups import NOVA_POLICY, ServerGroup, group_view, slugify


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Windows App servers", "windows-app-servers"),
        ("web", "web"),
        ("WEB", "web"),
        ("Web  Servers", "web-servers"),  # a run of separators is one dash
        ("web\tservers\n", "web-servers"),
        ("web_servers", "web-servers"),
        ("Web 2.0 (prod)!", "web-2-0-prod"),
        ("db-primary", "db-primary"),
        ("db--primary", "db-primary"),
        ("2024 batch", "2024-batch"),
        # Leading and trailing separators go.
        ("  web  ", "web"),
        ("--web--", "web"),
        ("(web)", "web"),
        ("...web...servers...", "web-servers"),
        # Accents are dropped, the letters kept.
        ("Café Crème", "cafe-creme"),
        ("Ångström", "angstrom"),
        ("İstanbul", "istanbul"),
        ("naïve façade", "naive-facade"),
        # Compatibility forms become plain letters and digits.
        ("\uff37\uff25\uff22\uff11", "web1"),  # fullwidth WEB1
        ("ﬁle servers", "file-servers"),
        ("web①", "web1"),
        # Whatever has no Latin form is dropped; nothing left is "group".
        ("Серверы web", "web"),
        ("数据库 db", "db"),
        ("数据库", "group"),
        ("Серверы", "group"),
        ("🚀🚀", "group"),
        ("!!!", "group"),
        ("---", "group"),
        ("   ", "group"),
        ("", "group"),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_slugs_are_only_lowercase_letters_digits_and_inner_dashes() -> None:
    weird = "".join(chr(c) for c in range(0x20, 0x250))
    slug = slugify(weird)
    assert slug.strip("abcdefghijklmnopqrstuvwxyz0123456789-") == ""
    assert not slug.startswith("-")
    assert not slug.endswith("-")
    assert "--" not in slug


def test_a_long_name_keeps_its_whole_length() -> None:
    assert slugify("A" * 300) == "a" * 300
    assert slugify(" ".join(["web"] * 100)) == "-".join(["web"] * 100)


NOW = datetime(2026, 11, 27, 8, 30, 15, 123456, tzinfo=UTC)
GROUP_ID = "7e6d5c4b-3a29-4817-a6f5-e4d3c2b1a098"
PROJECT = "d8a1c3b5e7f94a2b8c6d0e1f3a5b7c9d"
USER = "0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d"


def test_group_view_of_a_full_group() -> None:
    defaults = {"type_id": "t", "template_id": "i", "hostname_pattern": "web-%(rand_num)3d"}
    group = ServerGroup(
        id=GROUP_ID,
        project_id=PROJECT,
        name="Web Servers",
        slug="web-servers",
        created_by=USER,
        created_at=NOW,
        description="The front end",
        defaults=defaults,
        tags=["web", "prod"],
    )
    assert group_view(group) == {
        "id": GROUP_ID,
        "name": "Web Servers",
        "slug": "web-servers",
        "description": "The front end",
        "created_by": USER,
        "created_at": "2026-11-27T08:30:15Z",
        "project_id": PROJECT,
        "defaults": {"type_id": "t", "template_id": "i", "hostname_pattern": "web-%(rand_num)3d"},
        "tags": ["web", "prod"],
        "_links": {
            "self": {"href": f"/server_groups/{GROUP_ID}"},
            "describedby": {"href": "/schemas/server_group"},
        },
    }


def test_group_view_of_a_group_made_in_nova() -> None:
    """What the proxy knows of a Nova server group it did not make."""
    group = ServerGroup(GROUP_ID, "", "批处理", slugify("批处理"), None, datetime(1970, 1, 1, tzinfo=UTC))
    assert group_view(group) == {
        "id": GROUP_ID,
        "name": "批处理",
        "slug": "group",
        "description": None,
        "created_by": None,
        "created_at": "1970-01-01T00:00:00Z",
        "project_id": "",
        "defaults": {},
        "tags": [],
        "_links": {
            "self": {"href": f"/server_groups/{GROUP_ID}"},
            "describedby": {"href": "/schemas/server_group"},
        },
    }


def test_group_view_shows_the_time_in_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    group = ServerGroup(GROUP_ID, PROJECT, "g", "g", USER, datetime(2026, 11, 28, 1, 2, 3, tzinfo=tokyo))
    assert group_view(group)["created_at"] == "2026-11-27T16:02:03Z"


def test_groups_do_not_share_their_defaults_or_tags() -> None:
    first = ServerGroup(GROUP_ID, PROJECT, "a", "a", USER, NOW)
    second = ServerGroup(GROUP_ID, PROJECT, "b", "b", USER, NOW)
    first.defaults["type_id"] = "t"
    first.tags.append("web")
    assert (group_view(second)["defaults"], group_view(second)["tags"]) == ({}, [])


def test_nova_is_asked_for_a_policy_that_never_refuses_a_launch() -> None:
    assert NOVA_POLICY == "soft-anti-affinity"
