"""Reload: read the config and mappings again, check them whole, and swap
the generation that serves new requests, or keep the running one.

``vnext-proxy serve`` reloads on SIGHUP (``vnext-proxy reload`` sends it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from typing import Literal

from aiohttp import web

from vnext_proxy.aio import spawn
from vnext_proxy.loading import load_checked, restart_problems
from vnext_proxy.web.keys import GENERATIONS, METRICS
from vnext_proxy.yamlsource import InputError

log = logging.getLogger("vnext_proxy.reload")

Outcome = Literal["applied", "unchanged", "refused"]


async def reload(app: web.Application) -> Outcome:
    """Applied whole, or not at all: on any problem the running generation
    keeps serving, and each problem is logged with its file and line."""
    generations = app[GENERATIONS]
    async with generations.reloading:
        outcome = await _reload_once(app)
    app[METRICS].reload_done(outcome)
    return outcome


async def _reload_once(app: web.Application) -> Outcome:
    generations = app[GENERATIONS]
    running = generations.current
    config = generations.config
    if config is None:
        log.error("reload refused: this proxy was not started from a config file")
        return "refused"
    try:
        # Reading and checking takes a moment of CPU: requests go on meanwhile.
        settings, mappings = await asyncio.to_thread(load_checked, config, running.mappings)
        problems = restart_problems(running.settings, settings, config)
        if problems:
            raise InputError(problems)
    except InputError as exc:
        for problem in exc.problems:
            log.error("reload refused: %s", problem)
        log.error("reload refused: still serving mappings %s", running.version)
        return "refused"
    except Exception:  # a reload never stops a serving proxy
        log.exception("reload refused: unexpected error; still serving mappings %s", running.version)
        return "refused"
    if mappings is running.mappings and settings == running.settings:
        log.info("reload: nothing changed; serving mappings %s", running.version)
        return "unchanged"
    generation = generations.swap(settings, mappings)
    logging.getLogger().setLevel(settings.log_level)
    app[METRICS].mappings_loaded(generation.version)
    log.info(
        "reloaded: serving mappings %s (was %s), %d routes",
        generation.version,
        running.version,
        len(generation.mappings.routes),
    )
    return "applied"


class EarlyHangups:
    """SIGHUP ends a process that has no handler for it: from the moment a
    serving process starts (its pid file may already be read), a SIGHUP is
    recorded, and answered with a reload once the app runs."""

    def __init__(self) -> None:
        self.seen = False
        signal.signal(signal.SIGHUP, self._record)
        # A worker starts with SIGHUP blocked (see hangups_held), so one
        # sent while it started is pending: delivered now, and recorded.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})

    def _record(self, signum: int, frame: object) -> None:
        self.seen = True


@contextlib.contextmanager
def hangups_held() -> Iterator[None]:
    """SIGHUP blocked while worker processes are started: they inherit the
    mask, so one sent before a worker can take it waits in the worker
    (EarlyHangups takes it) instead of ending it; here it waits too."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})


def reload_on_sighup(
    app: web.Application, *, also: Callable[[], None] | None = None, early: EarlyHangups | None = None
) -> None:
    """While ``app`` runs, SIGHUP reloads it (and calls ``also``: the
    serving command passes the signal on to its worker processes)."""

    def on_signal() -> None:
        if also is not None:
            also()
        spawn(reload(app), name="reload")

    async def install(app: web.Application) -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, on_signal)
        if early is not None and early.seen:
            on_signal()

    async def remove(app: web.Application) -> None:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)

    app.on_startup.append(install)
    app.on_cleanup.append(remove)
