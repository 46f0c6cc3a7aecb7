"""A server's task history: the proxy's own tasks, plus the actions Nova
recorded that the proxy did not start (a v2 client's reboot, say), rebuilt
from os-instance-actions. Pure: the caller fetches, this merges."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.tasks.model import ABORTED, COMPLETED, RUNNING, Task
from vnext_proxy.timeutil import parse_time


def nova_action_names(mappings: MappingSet) -> dict[str, str]:
    """Nova's instance-action name -> the vNext action that causes it (the
    first declared wins: ``reboot`` is REBOOT, not HARD_REBOOT)."""
    names: dict[str, str] = {}
    for spec in mappings.actions.values():
        if spec.revert_of is not None:
            continue
        for variant in spec.variants:
            names.setdefault(variant.nova_action, spec.name)
    return names


def merge_history(
    stored: list[Task],
    nova_actions: list[dict[str, Any]],
    server: dict[str, Any] | None,
    mappings: MappingSet,
    namespace: uuid.UUID,
) -> list[Task]:
    """Every task of the server, newest first, each Nova action once."""
    known = {t.request_id for t in stored} | {t.params.get("confirm_request_id") for t in stored}
    names = nova_action_names(mappings)
    busy = server is not None and server.get("OS-EXT-STS:task_state") is not None
    rebuilt: list[Task] = []
    for position, action in enumerate(nova_actions):  # Nova lists newest first
        request_id = action.get("request_id")
        vnext = names.get(action.get("action", ""))
        if request_id in known or vnext is None:
            continue
        started = _parse(action.get("start_time"))
        if action.get("message") == "Error":
            state = ABORTED
        else:
            state = RUNNING if position == 0 and busy else COMPLETED
        rebuilt.append(
            Task(
                id=str(uuid.uuid5(namespace, f"instance-action:{action.get('instance_uuid')}:{request_id}")),
                server_id=str(action.get("instance_uuid")),
                project_id=action.get("project_id"),
                action=vnext,
                state=state,
                created_at=started,
                created_by=action.get("user_id"),
                deadline_at=started,
                request_id=request_id,
                updated_at=_parse(action.get("updated_at") or action.get("start_time")),
                ended_at=None if state == RUNNING else _parse(action.get("updated_at") or action.get("start_time")),
                reason="Nova recorded an error" if state == ABORTED else None,
                params={"from_nova": True},
            )
        )
    return sorted([*stored, *rebuilt], key=lambda t: t.created_at, reverse=True)


def _parse(value: Any) -> datetime:
    return parse_time(value) if isinstance(value, str) else datetime.fromtimestamp(0, UTC)
