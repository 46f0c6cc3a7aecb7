"""devcloud's users, projects and roles, with fixed ids.

Its real Keystone (devcloud.keystone) is seeded with them; its fast mode
(``--token-table``) takes a fixed token for each instead. Either way the
proxy only ever forwards ``X-Auth-Token``, as it would in a real cloud.
Project ids are Keystone-style 32-hex strings. ``PROJECT_A`` is the project
that Nova's fake Neutron owns, so only its servers get addresses and MACs.
"""

from __future__ import annotations

from dataclasses import dataclass

PROJECT_A = "6f70656e737461636b20342065766572"
PROJECT_B = "b2f9c4a1d7e34f0c9a8b6e5d4c3b2a10"
ADMIN_PROJECT = "ad0000000000400080000000000000ad"


@dataclass(frozen=True)
class Identity:
    """A user in a project with roles, as Keystone's auth_token middleware
    describes a token's holder; ``token`` is the fast mode's fixed token."""

    token: str
    user_id: str
    user_name: str
    project_id: str
    project_name: str
    roles: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


IDENTITIES: tuple[Identity, ...] = (
    Identity(
        "devcloud-admin",
        "ad00000000004000800000000000a001",
        "admin",
        ADMIN_PROJECT,
        "admin",
        ("admin", "member", "reader"),
    ),
    Identity(
        "devcloud-member-a",
        "a1000000000040008000000000000a01",
        "alice",
        PROJECT_A,
        "project-a",
        ("member", "reader"),
    ),
    Identity(
        "devcloud-manager-a",
        "a2000000000040008000000000000a02",
        "mary",
        PROJECT_A,
        "project-a",
        ("manager", "member", "reader"),
    ),
    Identity(
        "devcloud-reader-a",
        "a3000000000040008000000000000a03",
        "rita",
        PROJECT_A,
        "project-a",
        ("reader",),
    ),
    # The proxy's service user (tasks.service_credentials): an admin.
    Identity(
        "devcloud-service",
        "5e000000000040008000000000000501",
        "vnext-service",
        ADMIN_PROJECT,
        "service",
        ("admin", "member", "reader"),
    ),
    Identity(
        "devcloud-member-b",
        "b1000000000040008000000000000b01",
        "bob",
        PROJECT_B,
        "project-b",
        ("member", "reader"),
    ),
)

TOKENS: dict[str, Identity] = {identity.token: identity for identity in IDENTITIES}
