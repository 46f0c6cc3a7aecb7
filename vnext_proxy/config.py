"""The proxy's settings: read from YAML, checked whole at start-up, then frozen.

``config.example.yaml`` documents every key; ``CONFIG_SCHEMA`` below is the
contract it documents. Any problem (unknown key, missing key, wrong type)
stops start-up with the file, line, key path and reason.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vnext_proxy.schemacheck import schema_problems
from vnext_proxy.yamlsource import InputError, Problem, YamlDocument, load_yaml, parse_yaml

_SECONDS = {"type": "number", "exclusiveMinimum": 0}

DEFAULT_ID_NAMESPACE = uuid.UUID("5f1d3b52-8c0e-4f4e-9a57-7d0f3c9e6a21")

_CREDENTIALS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["username", "password", "project_name"],
    "properties": {
        "auth_url": {"type": "string", "format": "uri"},
        "username": {"type": "string", "minLength": 1},
        "password": {"type": "string"},
        "project_name": {"type": "string", "minLength": 1},
        "user_domain_name": {"type": "string"},
        "project_domain_name": {"type": "string"},
    },
}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["nova"],
    "properties": {
        "listen": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "host": {"type": "string", "minLength": 1},
                "port": {"type": "integer", "minimum": 0, "maximum": 65535},
                "workers": {"type": "integer", "minimum": 1, "maximum": 64},
            },
        },
        "nova": {
            "type": "object",
            "additionalProperties": False,
            "oneOf": [{"required": ["endpoint"]}, {"required": ["keystone"]}],
            "description": "give exactly one of 'endpoint' (a static Nova URL) or 'keystone'",
            "properties": {
                "endpoint": {"type": "string", "pattern": "^https?://"},
                "keystone": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["auth_url"],
                    "properties": {
                        "auth_url": {"type": "string", "pattern": "^https?://"},
                        "interface": {"enum": ["public", "internal", "admin"]},
                        "region_name": {"type": ["string", "null"]},
                        "service_type": {"type": "string", "minLength": 1},
                    },
                },
                "microversion": {"type": "string", "pattern": r"^2\.[0-9]{1,3}$"},
                "passthrough": {"type": "boolean"},
                "timeouts": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"connect": _SECONDS, "request": _SECONDS},
                },
            },
        },
        "tasks": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "poll_interval": _SECONDS,
                "default_deadline": _SECONDS,
                # Keyed by task action: the mappings declare them, so the
                # names are checked once both are read (deadline_problems).
                "deadlines": {"type": "object", "additionalProperties": _SECONDS},
                "service_credentials": _CREDENTIALS,
            },
        },
        "store": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"url": {"type": "string", "pattern": "^(sqlite|postgresql)://"}},
        },
        "logging": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"level": {"enum": ["DEBUG", "INFO", "WARNING", "ERROR"]}, "access_log": {"type": "boolean"}},
        },
        "limits": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "max_body_bytes": {"type": "integer", "minimum": 1024},
                "max_servers_per_launch": {"type": "integer", "minimum": 1, "maximum": 1000},
                "cache_bytes": {"type": "integer", "minimum": 0},
                "request_timeout": _SECONDS,
                "shutdown_timeout": _SECONDS,
                "idle_timeout": _SECONDS,
            },
        },
        "notifications": {
            "type": "object",
            "additionalProperties": False,
            "required": ["url"],
            "properties": {
                "url": {"type": "string", "pattern": "^amqps?://"},
                "exchange": {"type": "string", "minLength": 1},
                "queue": {"type": "string", "minLength": 1},
                "topic": {"type": "string", "minLength": 1},
            },
        },
        "ui": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"enabled": {"type": "boolean"}},
        },
        "mappings_dir": {"type": "string", "minLength": 1},
        "explain": {"type": "boolean"},
        "id_namespace": {
            "type": "string",
            "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        },
    },
}


@dataclass(frozen=True)
class KeystoneSettings:
    auth_url: str
    interface: str = "public"
    region_name: str | None = None
    service_type: str = "compute"


@dataclass(frozen=True)
class NovaSettings:
    endpoint: str | None = None
    keystone: KeystoneSettings | None = None
    microversion: str = "2.100"
    connect_timeout: float = 5.0
    request_timeout: float = 30.0
    #: Serve Nova's own API unchanged under /v2.1 (and its version list
    #: under /compute/) beside vNext's routes: one endpoint for both.
    passthrough: bool = False


@dataclass(frozen=True)
class ServiceCredentials:
    username: str
    password: str = field(repr=False)
    project_name: str
    auth_url: str | None = None
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"


@dataclass(frozen=True)
class NotificationSettings:
    """Where Nova's versioned notifications are read from (RabbitMQ)."""

    #: amqp://user:password@host:5672/vhost, as Nova's transport_url names it.
    url: str = field(repr=False)
    #: Nova's control_exchange.
    exchange: str = "nova"
    #: The proxy's own durable queue, bound to ``<topic>.*``.
    queue: str = "vnext-proxy"
    #: Nova's [notifications] versioned_notifications_topics.
    topic: str = "versioned_notifications"


@dataclass(frozen=True)
class TaskSettings:
    poll_interval: float = 2.0
    default_deadline: float = 600.0
    deadlines: tuple[tuple[str, float], ...] = ()
    service_credentials: ServiceCredentials | None = None
    #: Where each deadline's action is named: (action, config file, line).
    deadline_sources: tuple[tuple[str, str, int], ...] = field(default=(), compare=False, repr=False)

    def deadline_for(self, action: str) -> float:
        return dict(self.deadlines).get(action, self.default_deadline)


@dataclass(frozen=True)
class Settings:
    nova: NovaSettings
    host: str = "127.0.0.1"
    port: int = 8780
    tasks: TaskSettings = TaskSettings()
    store_url: str = "sqlite:///var/vnext-proxy.sqlite3"
    log_level: str = "INFO"
    #: An operator's own mappings; None serves the ones shipped in the package.
    mappings_dir: Path | None = None
    #: Namespace of the UUIDv5 ids given to Nova ids that are not UUIDs.
    #: Changing it changes every such id, so keep it stable once serving.
    id_namespace: uuid.UUID = DEFAULT_ID_NAMESPACE
    #: Honour X-VNext-Explain: 1 (answer plus the Nova calls made for it).
    explain: bool = False
    #: Processes serving the port together (SO_REUSEPORT).
    workers: int = 1
    access_log: bool = True
    max_body_bytes: int = 1024 * 1024
    #: Servers one POST /projects/{project}/servers may launch.
    max_servers_per_launch: int = 100
    #: Bytes each kept-renders cache (one per vNext object) and each list
    #: route's kept listings may hold.
    cache_bytes: int = 32 * 2**20
    #: A whole vNext request, all its Nova calls included.
    request_timeout: float = 60.0
    #: How long a stopping proxy lets requests in flight finish.
    shutdown_timeout: float = 30.0
    #: A connection that has not sent a whole request's headers (a slow
    #: client, or an idle keep-alive) is closed after this many seconds.
    idle_timeout: float = 75.0
    #: Serve the side-by-side pages (/_compare, /_coverage, /_timeline).
    ui_enabled: bool = True
    #: Nova's notifications wake the task poller (None: it polls only).
    notifications: NotificationSettings | None = None


def load_settings(path: Path) -> Settings:
    """Read, check and freeze a config file; raise InputError listing every problem."""
    return _settings_from(load_yaml(path))


def parse_settings(text: str, name: str = "<config>") -> Settings:
    return _settings_from(parse_yaml(text, name))


def _settings_from(doc: YamlDocument) -> Settings:
    if doc.problems:
        raise InputError(doc.problems)
    if not isinstance(doc.data, dict):
        raise InputError([Problem(doc.file, 1, "", "the config must be a YAML mapping of settings")])
    problems = schema_problems(doc, CONFIG_SCHEMA)
    creds = (doc.data.get("tasks") or {}).get("service_credentials") if not problems else None
    if creds is not None and "auth_url" not in creds and "keystone" not in doc.data.get("nova", {}):
        path = ("tasks", "service_credentials")
        problems.append(doc.problem(path, "needs an auth_url, as nova.endpoint is static (no nova.keystone)"))
    if problems:
        raise InputError(problems)
    settings = _build(doc.data, Path(doc.file).parent)
    sources = tuple(
        (action, doc.file, doc.line_of(("tasks", "deadlines", action))) for action, _ in settings.tasks.deadlines
    )
    return dataclasses.replace(settings, tasks=dataclasses.replace(settings.tasks, deadline_sources=sources))


def deadline_problems(tasks: TaskSettings, actions: Collection[str]) -> list[Problem]:
    """Deadlines set for an action the mappings do not declare. The config
    is read before the mappings (it may name their directory), so this is
    checked once both are, with the task actions they declare."""
    known = ", ".join(sorted(actions))
    where = {action: (file, line) for action, file, line in tasks.deadline_sources}
    problems = [
        Problem(
            *where.get(action, ("<config>", 0)),
            f"tasks.deadlines.{action}",
            f"unknown key: not a task action of the mappings ({known})",
        )
        for action, _ in tasks.deadlines
        if action not in actions
    ]
    return sorted(problems, key=lambda p: p.line)


def _build(raw: dict[str, Any], base_dir: Path) -> Settings:
    nova = raw["nova"]
    keystone = nova.get("keystone")
    timeouts = nova.get("timeouts", {})
    tasks = raw.get("tasks", {})
    creds = tasks.get("service_credentials")
    extra: dict[str, Any] = {}
    if "mappings_dir" in raw:
        extra["mappings_dir"] = (base_dir / raw["mappings_dir"]).resolve()
    if "explain" in raw:
        extra["explain"] = raw["explain"]
    if "id_namespace" in raw:
        extra["id_namespace"] = uuid.UUID(raw["id_namespace"])
    return Settings(
        nova=NovaSettings(
            endpoint=nova.get("endpoint", "").rstrip("/") or None,
            keystone=KeystoneSettings(**keystone) if keystone else None,
            microversion=nova.get("microversion", NovaSettings.microversion),
            connect_timeout=float(timeouts.get("connect", NovaSettings.connect_timeout)),
            request_timeout=float(timeouts.get("request", NovaSettings.request_timeout)),
            passthrough=nova.get("passthrough", NovaSettings.passthrough),
        ),
        host=raw.get("listen", {}).get("host", Settings.host),
        port=raw.get("listen", {}).get("port", Settings.port),
        tasks=TaskSettings(
            poll_interval=float(tasks.get("poll_interval", TaskSettings.poll_interval)),
            default_deadline=float(tasks.get("default_deadline", TaskSettings.default_deadline)),
            deadlines=tuple(sorted((k, float(v)) for k, v in tasks.get("deadlines", {}).items())),
            service_credentials=ServiceCredentials(**creds) if creds else None,
        ),
        store_url=raw.get("store", {}).get("url", Settings.store_url),
        log_level=raw.get("logging", {}).get("level", Settings.log_level),
        access_log=raw.get("logging", {}).get("access_log", Settings.access_log),
        workers=raw.get("listen", {}).get("workers", Settings.workers),
        max_body_bytes=raw.get("limits", {}).get("max_body_bytes", Settings.max_body_bytes),
        max_servers_per_launch=raw.get("limits", {}).get("max_servers_per_launch", Settings.max_servers_per_launch),
        cache_bytes=raw.get("limits", {}).get("cache_bytes", Settings.cache_bytes),
        request_timeout=float(raw.get("limits", {}).get("request_timeout", Settings.request_timeout)),
        shutdown_timeout=float(raw.get("limits", {}).get("shutdown_timeout", Settings.shutdown_timeout)),
        idle_timeout=float(raw.get("limits", {}).get("idle_timeout", Settings.idle_timeout)),
        ui_enabled=raw.get("ui", {}).get("enabled", Settings.ui_enabled),
        notifications=NotificationSettings(**raw["notifications"]) if "notifications" in raw else None,
        **extra,
    )
