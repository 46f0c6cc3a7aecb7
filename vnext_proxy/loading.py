"""Read the config and the mappings it names, checked against each other:
at start-up, by ``check``, and at each reload. Every problem of both is
reported together, with file and line."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from vnext_proxy.config import Settings, deadline_problems, load_settings
from vnext_proxy.mapping.loader import load_mappings, mappings_version, microversion_problems
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.nova import operations
from vnext_proxy.yamlsource import InputError, Problem, load_yaml


def load_checked(config: Path, running: MappingSet | None = None) -> tuple[Settings, MappingSet]:
    """The settings and mapping set of ``config``; raise InputError listing
    every problem. A ``running`` set whose version the files still have is
    kept rather than read again (a reload that changes only the config)."""
    problems: list[Problem] = []
    settings = None
    try:
        settings = load_settings(config)
    except InputError as exc:
        problems.extend(exc.problems)
    try:
        directory = settings.mappings_dir if settings else None
        if running is not None and running.version == mappings_version(directory):
            mappings = running
        else:
            mappings = load_mappings(directory)
    except InputError as exc:
        problems.extend(exc.problems)
    if problems or settings is None:
        raise InputError(problems)
    # The task actions a deadline may name are the ones the mappings declare.
    problems.extend(deadline_problems(settings.tasks, mappings.actions))
    # Every call a mapping or the proxy's Python makes must be possible at
    # the configured microversion.
    problems.extend(microversion_problems(mappings, settings.nova.microversion))
    problems.extend(
        Problem(str(config), 0, "nova.microversion", f"{need}, but nova.microversion is {settings.nova.microversion}")
        for need in operations.microversion_problems(settings.nova.microversion)
    )
    if problems:
        raise InputError(problems)
    return settings, mappings


@dataclass(frozen=True)
class _Reloadable:
    """Where a setting a reload applies lives: its Settings path, its config key."""

    attribute: tuple[str, ...]
    key: tuple[str, ...]


#: What a reload applies. Each is read per request (or per task) from the
#: request's generation; everything else (listen, Nova, store, service
#: credentials, the id namespace, the body limit, the poll interval) is
#: built into sockets, sessions and pools at start, so it needs a restart.
RELOADABLE = (
    _Reloadable(("mappings_dir",), ("mappings_dir",)),
    _Reloadable(("explain",), ("explain",)),
    _Reloadable(("log_level",), ("logging", "level")),
    _Reloadable(("access_log",), ("logging", "access_log")),
    _Reloadable(("max_servers_per_launch",), ("limits", "max_servers_per_launch")),
    _Reloadable(("cache_bytes",), ("limits", "cache_bytes")),
    _Reloadable(("request_timeout",), ("limits", "request_timeout")),
    _Reloadable(("tasks", "default_deadline"), ("tasks", "default_deadline")),
    _Reloadable(("tasks", "deadlines"), ("tasks", "deadlines")),
    _Reloadable(("ui_enabled",), ("ui", "enabled")),
)

#: Config keys of the settings that need a restart, by Settings path.
RESTART_ONLY: dict[tuple[str, ...], tuple[str, ...]] = {
    ("host",): ("listen", "host"),
    ("port",): ("listen", "port"),
    ("workers",): ("listen", "workers"),
    ("store_url",): ("store", "url"),
    ("id_namespace",): ("id_namespace",),
    ("max_body_bytes",): ("limits", "max_body_bytes"),
    ("shutdown_timeout",): ("limits", "shutdown_timeout"),
    ("idle_timeout",): ("limits", "idle_timeout"),
    ("tasks", "poll_interval"): ("tasks", "poll_interval"),
    ("tasks", "service_credentials"): ("tasks", "service_credentials"),
    ("notifications",): ("notifications",),
    ("nova", "endpoint"): ("nova", "endpoint"),
    ("nova", "keystone"): ("nova", "keystone"),
    ("nova", "microversion"): ("nova", "microversion"),
    ("nova", "passthrough"): ("nova", "passthrough"),
    ("nova", "connect_timeout"): ("nova", "timeouts", "connect"),
    ("nova", "request_timeout"): ("nova", "timeouts", "request"),
}


def restart_problems(running: Settings, loaded: Settings, config: Path) -> list[Problem]:
    """A reload refuses a config that changes what only a restart applies:
    it would otherwise serve with some of the file and not the rest."""
    reloadable = {r.attribute for r in RELOADABLE}
    changed = [
        path for path in setting_paths(running) if path not in reloadable and _get(running, path) != _get(loaded, path)
    ]
    if not changed:
        return []
    doc = load_yaml(config)
    reason = "changed, but it applies only when the proxy starts: restart it, or undo the change to reload"
    return [doc.problem(RESTART_ONLY.get(path, path), reason) for path in changed]


def setting_paths(settings: Settings) -> list[tuple[str, ...]]:
    """Every setting, by its path through Settings' nested dataclasses
    (nova.*, tasks.*), except bookkeeping that takes no part in equality."""
    paths: list[tuple[str, ...]] = []
    for top in fields(settings):
        value = getattr(settings, top.name)
        if top.name in ("nova", "tasks"):
            paths += [(top.name, inner.name) for inner in fields(value) if inner.compare]
        elif top.compare:
            paths.append((top.name,))
    return paths


def _get(settings: Settings, path: tuple[str, ...]) -> Any:
    value: Any = settings
    for name in path:
        value = getattr(value, name)
    return value
