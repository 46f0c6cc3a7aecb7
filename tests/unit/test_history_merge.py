"""A server's task history (vnext_proxy.tasks.history.merge_history): the
proxy's own tasks merged with the instance actions Nova lists for the server
(GET /servers/{id}/os-instance-actions at 2.100, newest first)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.tasks.history import merge_history, nova_action_names
from vnext_proxy.tasks.model import ABORTED, COMPLETED, RUNNING, Task

NAMESPACE = uuid.UUID("6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5")
SERVER = "5d3e8a2c-1b4f-4e6a-9c7d-0f2e4a6b8c1d"
OTHER_SERVER = "8c1d5d3e-4e6a-4a2c-9c7d-1b4f0f2e4a6b"
PROJECT = "d8a1c3b5e7f94a2b8c6d0e1f3a5b7c9d"
USER = "0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d"
V2_USER = "1f2e3d4c5b6a49788796a5b4c3d2e1f0"


def at(minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 27, 8, minute, second, tzinfo=UTC)


def nova_time(when: datetime) -> str:
    """As Nova writes an instance action's times: UTC, no zone, microseconds."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")


def req(n: int) -> str:
    return f"req-{uuid.UUID(int=n)}"


def nova_action(
    action: str,
    request_id: str,
    start: datetime,
    updated: datetime | None = None,
    *,
    message: str | None = None,
    user_id: str = V2_USER,
    server_id: str = SERVER,
) -> dict[str, Any]:
    """One entry of Nova 2.100's ``instanceActions``."""
    return {
        "action": action,
        "instance_uuid": server_id,
        "message": message,
        "project_id": PROJECT,
        "request_id": request_id,
        "start_time": nova_time(start),
        "updated_at": nova_time(updated or start + timedelta(seconds=5)),
        "user_id": user_id,
    }


def stored_task(action: str, request_id: str | None, created: datetime, **changes: Any) -> Task:
    """A task the proxy started and keeps in its store."""
    task = Task(
        id=f"task-{request_id}", server_id=SERVER, project_id=PROJECT, action=action, state=COMPLETED,
        created_at=created, created_by=USER, deadline_at=created + timedelta(minutes=10), request_id=request_id,
        updated_at=created + timedelta(seconds=20), ended_at=created + timedelta(seconds=20),
    )  # fmt: skip
    return replace(task, **changes)


def server(task_state: str | None = None) -> dict[str, Any]:
    return {"id": SERVER, "status": "ACTIVE", "OS-EXT-STS:vm_state": "active", "OS-EXT-STS:task_state": task_state}


def expected_id(request_id: str, server_id: str = SERVER) -> str:
    return str(uuid.uuid5(NAMESPACE, f"instance-action:{server_id}:{request_id}"))


def test_nova_action_names_come_from_the_mappings(mappings: MappingSet) -> None:
    names = nova_action_names(mappings)
    assert names["create"] == "CREATE"
    assert names["reboot"] == "REBOOT"  # the first declared wins over HARD_REBOOT
    assert names["stop"] == "POWER_OFF"
    assert names["createImage"] == "SNAPSHOT"
    assert names["migrate"] == names["live-migration"] == "MOVE"
    assert names["resize"] == "RESIZE"  # not REVERT_RESIZE, which is a resize too
    assert "REVERT_RESIZE" not in names.values()
    assert "confirmResize" not in names


def test_an_action_made_in_nova_becomes_a_finished_task(mappings: MappingSet) -> None:
    action = nova_action("stop", req(1), at(5, 1), at(5, 9))
    [task] = merge_history([], [action], server(), mappings, NAMESPACE)
    assert task == Task(
        id=expected_id(req(1)),
        server_id=SERVER,
        project_id=PROJECT,
        action="POWER_OFF",
        state=COMPLETED,
        created_at=at(5, 1),
        created_by=V2_USER,
        deadline_at=at(5, 1),
        request_id=req(1),
        updated_at=at(5, 9),
        ended_at=at(5, 9),
        reason=None,
        params={"from_nova": True},
    )


def test_the_rebuilt_id_is_deterministic_and_differs_by_server_and_request(mappings: MappingSet) -> None:
    def rebuilt_id(request_id: str, server_id: str = SERVER, namespace: uuid.UUID = NAMESPACE) -> str:
        action = nova_action("reboot", request_id, at(1), server_id=server_id)
        [task] = merge_history([], [action], None, mappings, namespace)
        return task.id

    assert rebuilt_id(req(1)) == rebuilt_id(req(1)) == expected_id(req(1))
    assert uuid.UUID(rebuilt_id(req(1))).version == 5
    # One multi-create request makes a create action on each server: two tasks.
    assert rebuilt_id(req(1), OTHER_SERVER) == expected_id(req(1), OTHER_SERVER) != rebuilt_id(req(1))
    assert rebuilt_id(req(2)) != rebuilt_id(req(1))
    # Another deployment (another id namespace) names the same action otherwise.
    assert rebuilt_id(req(1), namespace=uuid.UUID(int=1)) != rebuilt_id(req(1))


def test_an_action_the_proxy_started_is_shown_once(mappings: MappingSet) -> None:
    own = stored_task("REBOOT", req(2), at(10))
    actions = [
        nova_action("reboot", req(2), at(10), user_id=USER),  # the proxy's REBOOT, as Nova recorded it
        nova_action("create", req(1), at(0)),
    ]
    merged = merge_history([own], actions, server(), mappings, NAMESPACE)
    assert [(t.action, t.request_id) for t in merged] == [("REBOOT", req(2)), ("CREATE", req(1))]
    assert merged[0] is own  # the stored task, untouched: not the rebuilt one


def test_a_confirm_the_proxy_made_is_not_shown_as_a_task(mappings: MappingSet) -> None:
    resize = stored_task("RESIZE", req(2), at(10), params={"type_id": "2", "confirm_request_id": req(3)})
    actions = [
        nova_action("confirmResize", req(3), at(11), user_id=USER),
        nova_action("resize", req(2), at(10), user_id=USER),
        nova_action("create", req(1), at(0)),
    ]
    merged = merge_history([resize], actions, server(), mappings, NAMESPACE)
    assert [(t.action, t.request_id) for t in merged] == [("RESIZE", req(2)), ("CREATE", req(1))]


@pytest.mark.parametrize(
    "action",
    ["confirmResize", "revertResize", "trigger_crash_dump", "some_future_action", ""],
)
def test_actions_no_vnext_action_causes_are_left_out(mappings: MappingSet, action: str) -> None:
    assert merge_history([], [nova_action(action, req(1), at(1))], server(), mappings, NAMESPACE) == []


def test_an_action_without_a_name_is_left_out(mappings: MappingSet) -> None:
    action = nova_action("reboot", req(1), at(1))
    del action["action"]
    assert merge_history([], [action], server(), mappings, NAMESPACE) == []


def test_newest_first_across_stored_and_rebuilt(mappings: MappingSet) -> None:
    stored = [stored_task("POWER_OFF", req(4), at(30)), stored_task("CREATE", req(1), at(0))]
    actions = [  # newest first, as Nova lists them
        nova_action("start", req(5), at(40)),
        nova_action("stop", req(4), at(30), user_id=USER),
        nova_action("reboot", req(3), at(20)),
        nova_action("pause", req(2), at(10)),
        nova_action("create", req(1), at(0), user_id=USER),
    ]
    merged = merge_history(stored, actions, server(), mappings, NAMESPACE)
    assert [(t.action, t.created_at.minute, "from_nova" in t.params) for t in merged] == [
        ("POWER_ON", 40, True),
        ("POWER_OFF", 30, False),
        ("REBOOT", 20, True),
        ("PAUSE", 10, True),
        ("CREATE", 0, False),
    ]


def test_order_is_by_time_whatever_order_they_came_in(mappings: MappingSet) -> None:
    stored = [stored_task("CREATE", req(1), at(0)), stored_task("LOCK", req(9), at(50))]
    actions = [nova_action("pause", req(2), at(10)), nova_action("unpause", req(3), at(45))]
    merged = merge_history(stored, actions, server(), mappings, NAMESPACE)
    assert [t.created_at for t in merged] == [at(50), at(45), at(10), at(0)]


def test_nova_times_are_read_as_utc_to_the_microsecond(mappings: MappingSet) -> None:
    action = nova_action("reboot", req(1), at(1))
    action["start_time"] = "2026-11-27T08:01:02.345678"
    action["updated_at"] = "2026-11-27T08:01:09Z"
    [task] = merge_history([], [action], None, mappings, NAMESPACE)
    assert task.created_at == datetime(2026, 11, 27, 8, 1, 2, 345678, tzinfo=UTC)
    assert task.updated_at == task.ended_at == datetime(2026, 11, 27, 8, 1, 9, tzinfo=UTC)


def test_without_updated_at_the_start_time_stands_in(mappings: MappingSet) -> None:
    action = nova_action("reboot", req(1), at(1))
    action["updated_at"] = None
    [task] = merge_history([], [action], None, mappings, NAMESPACE)
    assert task.updated_at == task.ended_at == task.created_at == at(1)


def test_without_any_time_the_task_is_the_oldest(mappings: MappingSet) -> None:
    untimed = nova_action("lock", req(2), at(5))
    untimed["start_time"] = untimed["updated_at"] = None
    merged = merge_history([stored_task("CREATE", req(1), at(0))], [untimed], server(), mappings, NAMESPACE)
    assert [(t.action, t.created_at) for t in merged] == [("CREATE", at(0)), ("LOCK", datetime(1970, 1, 1, tzinfo=UTC))]


# --- The state of a task rebuilt from Nova --------------------------------------------


@pytest.mark.parametrize(
    ("task_state", "message", "state"),
    [
        (None, None, COMPLETED),  # the server is idle: the action ended
        ("rebooting", None, RUNNING),  # the newest action is what the server is busy with
        ("rebooting", "Error", ABORTED),  # Nova says it failed, busy or not
        (None, "Error", ABORTED),
    ],
)
def test_the_newest_actions_state(
    mappings: MappingSet, task_state: str | None, message: str | None, state: str
) -> None:
    action = nova_action("reboot", req(2), at(10), at(11), message=message)
    [task, _] = merge_history(
        [], [action, nova_action("create", req(1), at(0))], server(task_state), mappings, NAMESPACE
    )
    assert (task.action, task.state) == ("REBOOT", state)
    assert task.ended_at == (None if state == RUNNING else at(11))
    assert task.reason == ("Nova recorded an error" if state == ABORTED else None)
    assert task.updated_at == at(11)


def test_only_the_newest_action_can_be_running(mappings: MappingSet) -> None:
    actions = [
        nova_action("reboot", req(3), at(20)),
        nova_action("stop", req(2), at(10)),
        nova_action("create", req(1), at(0)),
    ]
    merged = merge_history([], actions, server("rebooting"), mappings, NAMESPACE)
    assert [(t.action, t.state) for t in merged] == [
        ("REBOOT", RUNNING),
        ("POWER_OFF", COMPLETED),
        ("CREATE", COMPLETED),
    ]


def test_when_the_newest_action_is_the_proxys_the_older_ones_are_not_running(mappings: MappingSet) -> None:
    own = stored_task("REBOOT", req(2), at(10), state=RUNNING, ended_at=None)
    actions = [nova_action("reboot", req(2), at(10), user_id=USER), nova_action("pause", req(1), at(5))]
    merged = merge_history([own], actions, server("rebooting"), mappings, NAMESPACE)
    assert [(t.action, t.state) for t in merged] == [("REBOOT", RUNNING), ("PAUSE", COMPLETED)]
    assert merged[0] is own


def test_when_the_newest_action_is_not_a_vnext_one_the_older_ones_are_not_running(mappings: MappingSet) -> None:
    actions = [nova_action("confirmResize", req(3), at(20)), nova_action("resize", req(2), at(10))]
    [task] = merge_history([], actions, server("resize_confirming"), mappings, NAMESPACE)
    assert (task.action, task.state) == ("RESIZE", COMPLETED)


def test_a_failed_older_action_stays_aborted(mappings: MappingSet) -> None:
    actions = [
        nova_action("start", req(3), at(20)),
        nova_action("attach_interface", req(2), at(10), message="Error"),
        nova_action("create", req(1), at(0)),
    ]
    merged = merge_history([], actions, server(), mappings, NAMESPACE)
    assert [(t.action, t.state, t.reason) for t in merged] == [
        ("POWER_ON", COMPLETED, None),
        ("ATTACH_NETWORK_INTERFACE", ABORTED, "Nova recorded an error"),
        ("CREATE", COMPLETED, None),
    ]


def test_a_deleted_server_has_its_whole_history_ended(mappings: MappingSet) -> None:
    """Nova still lists a deleted server's actions; it answers no server (None)."""
    stored = [stored_task("CREATE", req(1), at(0))]
    actions = [
        nova_action("delete", req(3), at(20), at(21)),
        nova_action("reboot", req(2), at(10), message="Error"),
        nova_action("create", req(1), at(0), user_id=USER),
    ]
    merged = merge_history(stored, actions, None, mappings, NAMESPACE)
    assert [(t.action, t.state, t.id) for t in merged] == [
        ("TERMINATE", COMPLETED, expected_id(req(3))),
        ("REBOOT", ABORTED, expected_id(req(2))),
        ("CREATE", COMPLETED, f"task-{req(1)}"),
    ]
    assert merged[0].ended_at == at(21)


def test_nothing_from_nova_leaves_the_stored_tasks(mappings: MappingSet) -> None:
    stored = [stored_task("CREATE", req(1), at(0)), stored_task("REBOOT", req(2), at(9))]
    assert merge_history(stored, [], server(), mappings, NAMESPACE) == [stored[1], stored[0]]
    assert merge_history([], [], None, mappings, NAMESPACE) == []


def test_a_stored_task_without_a_request_id_hides_no_action(mappings: MappingSet) -> None:
    # A task never sent to Nova (refused first) has no request id.
    refused = stored_task("RESIZE", None, at(30), state=ABORTED)
    merged = merge_history([refused], [nova_action("reboot", req(2), at(10))], server(), mappings, NAMESPACE)
    assert [(t.action, t.request_id) for t in merged] == [("RESIZE", None), ("REBOOT", req(2))]


def test_a_rebuilt_task_once_stored_is_not_rebuilt_again(mappings: MappingSet) -> None:
    """The handler keeps each ended rebuilt task; the next listing finds it stored."""
    actions = [nova_action("stop", req(2), at(10)), nova_action("create", req(1), at(0))]
    first = merge_history([], actions, server(), mappings, NAMESPACE)
    again = merge_history(first, actions, server(), mappings, NAMESPACE)
    assert again == first
    assert len({t.id for t in again}) == 2
