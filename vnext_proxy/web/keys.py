"""Typed application state (aiohttp AppKeys)."""

from __future__ import annotations

from aiohttp import web

from vnext_proxy.config import Settings
from vnext_proxy.execution.context import Services
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.nova.caller import CallerFacts
from vnext_proxy.nova.client import NovaClient
from vnext_proxy.nova.identity import TokenOwners
from vnext_proxy.stores import Store
from vnext_proxy.tasks.engine import TaskEngine
from vnext_proxy.web.metrics import Metrics

SETTINGS = web.AppKey("settings", Settings)
MAPPINGS = web.AppKey("mappings", MappingSet)
NOVA = web.AppKey("nova", NovaClient)
CALLER = web.AppKey("caller", CallerFacts)
OWNERS = web.AppKey("token owners", TokenOwners)
TASKS = web.AppKey("tasks", TaskEngine)
STORE = web.AppKey("store", Store)
#: What route execution is given: set once the store is open.
SERVICES = web.AppKey("services", Services)
METRICS = web.AppKey("metrics", Metrics)
