"""vNext ids and times made from Nova's: pure functions shared by the
renderer and the hooks (so neither imports the other), and by whoever must
find the way back from a vNext id to a Nova one."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from vnext_proxy.timeutil import parse_time, show_time


@lru_cache(maxsize=65536)
def vnext_id(namespace: uuid.UUID, kind: str, nova_id: Any) -> str | None:
    """A stable UUID for a Nova id that is not one (flavor "1", an AZ name).

    Ids that already are UUIDs are kept, so nothing needs storing: the way
    back is to compute this for each candidate and compare.
    """
    if nova_id is None or nova_id == "":
        return None
    text = str(nova_id)
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return str(uuid.uuid5(namespace, f"{kind}:{text}"))


def keypair_id(namespace: uuid.UUID, user_id: Any, name: str) -> str:
    """Nova knows a keypair by its owner and name only: its vNext id is a UUIDv5 of both."""
    return str(uuid.uuid5(namespace, f"keypair:{user_id}:{name}"))


def format_timestamp(value: Any) -> str | None:
    """Nova mixes '2026-01-02T03:04:05Z' and '2026-01-02T03:04:05.123456';
    vNext shows ISO 8601 in UTC with a Z, to the second."""
    if not isinstance(value, str) or not value:
        return None
    return show_time(parse_time(value))
