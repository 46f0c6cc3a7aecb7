"""The task decisions, stepped by hand: no Nova, no sleeping."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vnext_proxy.mapping.body import fill
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.tasks import rules
from vnext_proxy.tasks.model import ABORTED, COMPLETED, RUNNING, TIMED_OUT, Task

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def task(action: str, **changes: Any) -> Task:
    base = Task(
        id="t", server_id="s", project_id="p", action=action, state=RUNNING, created_at=NOW,
        created_by="u", deadline_at=NOW + timedelta(minutes=10), request_id="req-1",
        params={"start_vm_state": "active"},
    )  # fmt: skip
    return replace(base, **changes)


def server(vm_state: str, task_state: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"OS-EXT-STS:vm_state": vm_state, "OS-EXT-STS:task_state": task_state, **extra}


def action(*results: str | None, message: str | None = None) -> dict[str, Any]:
    events = [{"event": f"e{i}", "result": r, "finish_time": None if r is None else "x"} for i, r in enumerate(results)]
    return {"action": "x", "message": message, "events": events}


def variant(mappings: MappingSet, name: str, **params: Any):  # type: ignore[no-untyped-def]
    return mappings.actions[name].variant_for(params)


def test_power_off_needs_the_state_and_a_finished_action(mappings: MappingSet) -> None:
    v = variant(mappings, "POWER_OFF")
    assert rules.assess(task("POWER_OFF"), v, server("active", "powering-off"), None, NOW).state == RUNNING
    waiting = rules.assess(task("POWER_OFF"), v, server("stopped"), None, NOW)
    assert waiting == rules.Verdict(RUNNING, next_step=rules.FETCH_ACTION)
    assert rules.assess(task("POWER_OFF"), v, server("stopped"), action(None), NOW).state == RUNNING
    assert rules.assess(task("POWER_OFF"), v, server("stopped"), action("Success"), NOW).state == COMPLETED


def test_reboot_from_active_waits_for_novas_events(mappings: MappingSet) -> None:
    v = variant(mappings, "REBOOT")
    # ACTIVE before the reboot starts looks like the end state: the action says no.
    assert rules.assess(task("REBOOT"), v, server("active"), {"events": []}, NOW).state == RUNNING
    assert rules.assess(task("REBOOT"), v, server("active"), action("Success"), NOW).state == COMPLETED


def test_a_failure_only_the_instance_action_shows_aborts(mappings: MappingSet) -> None:
    v = variant(mappings, "RESIZE", type_id="5")
    failed = {"action": "resize", "message": "Error", "events": [
        {"event": "conductor_migrate_server", "result": "Error", "finish_time": "x",
         "details": "No valid host was found. No valid host found for resize"},
    ]}  # fmt: skip
    verdict = rules.assess(task("RESIZE"), v, server("active"), failed, NOW)
    assert verdict.state == ABORTED
    # The step is for every reader; the event's details Nova shows admins only.
    assert verdict.reason == "Nova's conductor_migrate_server step failed"
    assert verdict.admin_reason == "No valid host was found. No valid host found for resize"
    with_fault = rules.assess(task("RESIZE"), v, {**server("active"), "fault": {"message": "Out of room"}}, failed, NOW)
    assert with_fault.reason == "Nova's conductor_migrate_server step failed: Out of room"


def test_resize_is_confirmed_then_completes(mappings: MappingSet) -> None:
    v = variant(mappings, "RESIZE", type_id="2")
    assert rules.assess(task("RESIZE"), v, server("resized"), None, NOW).next_step == rules.CONFIRM
    confirming = task("RESIZE", phase="confirming")
    assert rules.assess(confirming, v, server("resized"), None, NOW) == rules.Verdict(RUNNING)
    assert rules.assess(confirming, v, server("active"), None, NOW).state == COMPLETED
    # Confirmed by Nova itself (resize_confirm_window): the finished action says done.
    assert rules.assess(task("RESIZE"), v, server("active"), action("Success", "Success"), NOW).state == COMPLETED


def test_move_live_and_cold_are_variants(mappings: MappingSet) -> None:
    assert variant(mappings, "MOVE", live=True).nova_action == "live-migration"
    assert not variant(mappings, "MOVE", live=True).confirm
    assert variant(mappings, "MOVE").nova_action == "migrate"
    assert variant(mappings, "MOVE", live=False).confirm


def test_error_state_aborts_unless_it_was_there_before(mappings: MappingSet) -> None:
    v = variant(mappings, "REBUILD", template_id="x")
    broken = server("error", fault={"message": "Build of instance aborted"})
    verdict = rules.assess(task("REBUILD"), v, broken, None, NOW)
    assert verdict == rules.Verdict(ABORTED, "Nova put the server in ERROR: Build of instance aborted")
    hard = variant(mappings, "HARD_REBOOT")
    from_error = task("HARD_REBOOT", params={"start_vm_state": "error"})
    assert rules.assess(from_error, hard, server("error", "rebooting_hard"), None, NOW).state == RUNNING


def test_terminate_completes_when_nova_forgets_or_soft_deletes(mappings: MappingSet) -> None:
    v = variant(mappings, "TERMINATE")
    assert rules.assess(task("TERMINATE"), v, None, None, NOW).state == COMPLETED
    assert rules.assess(task("TERMINATE"), v, server("soft-delete"), action("Success"), NOW).state == COMPLETED
    gone_elsewhere = rules.assess(task("PAUSE"), variant(mappings, "PAUSE"), None, None, NOW)
    assert gone_elsewhere == rules.Verdict(ABORTED, "the server no longer exists")


def test_deadline_times_out(mappings: MappingSet) -> None:
    late = NOW + timedelta(minutes=11)
    verdict = rules.assess(task("PAUSE"), variant(mappings, "PAUSE"), server("active", "pausing"), None, late)
    assert verdict.state == TIMED_OUT


@pytest.mark.parametrize(
    ("template", "params", "expected"),
    [
        ({"createBackup": {"name": "{name}", "rotation": "{rotation}"}}, {"name": "b", "rotation": 2},
         {"createBackup": {"name": "b", "rotation": 2}}),
        ({"interfaceAttachment": {"port_id": "{port_id}", "net_id": "{network_id}"}}, {"network_id": "n"},
         {"interfaceAttachment": {"net_id": "n"}}),
        ({"pause": None}, {}, {"pause": None}),
        ({"x": "pre-{a}-post"}, {"a": 1}, {"x": "pre-1-post"}),
    ],
)  # fmt: skip
def test_body_templates_keep_types_and_drop_absent_keys(template: Any, params: dict[str, Any], expected: Any) -> None:
    assert fill(template, params) == expected


def test_every_task_state_has_an_item(mappings: MappingSet) -> None:
    assert rules.item_action("resize_prep", mappings.task_items) == "PREPARING"
    assert rules.item_action(None, mappings.task_items) is None


def test_trusted_transitions_spare_the_action_read(mappings: MappingSet) -> None:
    v = variant(mappings, "POWER_OFF")
    seen = task("POWER_OFF", last_task_state="powering-off")
    assert rules.assess(seen, v, server("stopped"), None, NOW).state == COMPLETED
    # Never seen in a task state: Nova's instance action must say.
    assert rules.assess(task("POWER_OFF"), v, server("stopped"), None, NOW).next_step == rules.FETCH_ACTION
    # Idle again without reaching the end: read the action, it may have failed.
    back = rules.assess(seen, v, server("active"), None, NOW)
    assert back.next_step == rules.FETCH_ACTION
    failed = rules.assess(seen, v, server("active"), action("Error"), NOW)
    assert failed.state == ABORTED
    # REBUILD of a stopped server passes a transient ACTIVE: never trusted.
    rebuild = task("REBUILD", last_task_state="rebuild_block_device_mapping")
    assert rules.assess(
        rebuild, variant(mappings, "REBUILD", template_id="x"), server("active"), None, NOW
    ).next_step == (rules.FETCH_ACTION)
