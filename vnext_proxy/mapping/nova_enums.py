"""Nova's state enumerations (nova/compute/vm_states.py, task_states.py,
power_state.py). Value maps declared total over one of these are checked
at load time to give every Nova value a vNext value."""

from __future__ import annotations

VM_STATES = (
    "active", "building", "paused", "suspended", "stopped", "rescued", "resized",
    "soft-delete", "deleted", "error", "shelved", "shelved_offloaded",
)  # fmt: skip

TASK_STATES = (
    "scheduling", "block_device_mapping", "networking", "spawning", "image_snapshot",
    "image_snapshot_pending", "image_pending_upload", "image_uploading", "image_backup",
    "updating_password", "resize_prep", "resize_migrating", "resize_migrated", "resize_finish",
    "resize_reverting", "resize_confirming", "rebooting", "reboot_pending", "reboot_started",
    "rebooting_hard", "reboot_pending_hard", "reboot_started_hard", "pausing", "unpausing",
    "suspending", "resuming", "powering-off", "powering-on", "rescuing", "unrescuing",
    "rebuilding", "rebuild_block_device_mapping", "rebuild_spawning", "migrating", "deleting",
    "soft-deleting", "restoring", "shelving", "shelving_image_pending_upload",
    "shelving_image_uploading", "shelving_offloading", "unshelving",
)  # fmt: skip

#: 0 NOSTATE, 1 RUNNING, 3 PAUSED, 4 SHUTDOWN, 6 CRASHED, 7 SUSPENDED (2, 5 unused).
POWER_STATES = (0, 1, 3, 4, 6, 7)

ENUMS: dict[str, tuple[str | int, ...]] = {
    "vm_state": VM_STATES,
    "task_state": TASK_STATES,
    "power_state": POWER_STATES,
}
