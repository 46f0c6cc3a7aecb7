"""Prometheus metrics of one proxy app."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, GCCollector, Histogram, Info, ProcessCollector


class Metrics:
    """One registry per app, so several apps (tests, replicas) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # The process's own figures (memory, CPU, open files, start time).
        ProcessCollector(registry=self.registry)
        # The garbage collector's work per generation (serve tunes it).
        GCCollector(registry=self.registry)
        self.requests = Counter(
            "vnext_requests", "vNext requests served", ["route", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "vnext_request_seconds", "Time to answer a vNext request", ["route", "method"], registry=self.registry
        )
        self.nova_calls = Counter(
            "vnext_nova_calls", "Calls made to Nova", ["method", "status"], registry=self.registry
        )
        self.running_tasks = Gauge("vnext_running_tasks", "Tasks in state RUNNING", registry=self.registry)
        self.poll_seconds = Histogram("vnext_poll_cycle_seconds", "One task poll cycle", registry=self.registry)
        self.mappings = Info("vnext_mappings", "The mapping set being served", registry=self.registry)
        self.reloads = Counter(
            "vnext_reloads", "Reloads of config and mappings, by result", ["result"], registry=self.registry
        )

        # Label lookups take a lock each; a request's series are few and kept.
        self._request_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._nova_series: dict[tuple[str, int], Any] = {}

    def nova_call(self, method: str, status: int) -> None:
        series = self._nova_series.get((method, status))
        if series is None:
            series = self._nova_series[method, status] = self.nova_calls.labels(method, str(status))
        series.inc()

    def poll_cycle_done(self, seconds: float) -> None:
        self.poll_seconds.observe(seconds)

    def tasks_running(self, count: int) -> None:
        self.running_tasks.set(count)

    def request_done(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        series = self._request_series.get(key)
        if series is None:
            series = (self.requests.labels(route, method, str(status)), self.latency.labels(route, method))
            self._request_series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def mappings_loaded(self, version: str) -> None:
        self.mappings.info({"version": version})

    def reload_done(self, result: str) -> None:
        """``applied``, ``unchanged`` or ``refused``."""
        self.reloads.labels(result).inc()
