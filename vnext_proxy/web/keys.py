"""Typed application state (aiohttp AppKeys)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.web_urldispatcher import UrlMappingMatchInfo

from vnext_proxy.config import Settings
from vnext_proxy.nova.caller import CallerFacts
from vnext_proxy.nova.client import NovaClient
from vnext_proxy.nova.identity import TokenOwners
from vnext_proxy.nova.notifications import NotificationListener
from vnext_proxy.stores import Store
from vnext_proxy.tasks.engine import TaskEngine
from vnext_proxy.tasks.poller import TaskPoller
from vnext_proxy.web.metrics import Metrics

if TYPE_CHECKING:
    # Generations build routes from the edge's handlers, which read these keys.
    from vnext_proxy.web.generations import Generation, Generations

#: The settings the proxy started with: what only a restart changes (the
#: listening socket, Nova's session, the store) is built from these.
#: Everything a request reads comes from its generation (GENERATION).
SETTINGS = web.AppKey("settings", Settings)
GENERATIONS: web.AppKey[Generations] = web.AppKey("generations")
NOVA = web.AppKey("nova", NovaClient)
CALLER = web.AppKey("caller", CallerFacts)
OWNERS = web.AppKey("token owners", TokenOwners)
TASKS = web.AppKey("tasks", TaskEngine)
#: The one poller of running tasks (its cycles run in the background).
POLLER = web.AppKey("poller", TaskPoller)
#: Nova's notifications, when the config names their bus.
NOTIFICATIONS = web.AppKey("notifications", NotificationListener)
STORE = web.AppKey("store", Store)
METRICS = web.AppKey("metrics", Metrics)

#: The generation a request was pinned to when it arrived: it finishes on it.
GENERATION: web.RequestKey[Generation] = web.RequestKey("generation")
#: The vNext route a request matched in its generation's router.
ROUTE_MATCH = web.RequestKey("route match", UrlMappingMatchInfo)
