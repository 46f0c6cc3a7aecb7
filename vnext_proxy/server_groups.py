"""Server groups: what vNext adds to Nova's server groups (pure parts).

Each vNext group is a Nova server group (which gives membership: a server
joins at launch, and Nova lists its groups, so a server's ``group_id`` is the
group's id) plus what Nova has no place for, kept in the proxy's store: a
slug, a description, tags, and the defaults applied to servers launched into
it. Nova needs a placement policy; vNext has none, so the proxy asks for
``soft-anti-affinity``: spread when possible, never refuse a launch.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vnext_proxy.timeutil import show_time

NOVA_POLICY = "soft-anti-affinity"


@dataclass(frozen=True)
class ServerGroup:
    id: str  # Nova's server group id
    project_id: str
    name: str
    slug: str
    created_by: str | None
    created_at: datetime
    description: str | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


def slugify(name: str) -> str:
    """'Windows App servers' -> 'windows-app-servers'."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "group"


def group_view(group: ServerGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "slug": group.slug,
        "description": group.description,
        "created_by": group.created_by,
        "created_at": show_time(group.created_at),
        "project_id": group.project_id,
        "defaults": group.defaults,
        "tags": group.tags,
        "_links": {
            "self": {"href": f"/server_groups/{group.id}"},
            "describedby": {"href": "/schemas/server_group"},
        },
    }
