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

    def route_figures(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Per (route, method): requests, the share answered 4xx and 5xx, and
        the median time, estimated from the latency histogram's buckets as
        Prometheus' histogram_quantile does."""
        counts: dict[tuple[str, str], dict[str, float]] = {}
        for sample in next(iter(self.requests.collect())).samples:
            if sample.name.endswith("_total"):
                key = (sample.labels["route"], sample.labels["method"])
                tally = counts.setdefault(key, {"requests": 0.0, "4xx": 0.0, "5xx": 0.0})
                tally["requests"] += sample.value
                status = sample.labels["status"]
                if status[0] in "45":
                    tally[f"{status[0]}xx"] += sample.value
        buckets: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for sample in next(iter(self.latency.collect())).samples:
            if sample.name.endswith("_bucket"):
                key = (sample.labels["route"], sample.labels["method"])
                buckets.setdefault(key, []).append((float(sample.labels["le"]), sample.value))
        figures = {}
        for key, tally in counts.items():
            total = tally["requests"]
            figures[key] = {
                "requests": int(total),
                "client_error_share": round(tally["4xx"] / total, 4) if total else 0.0,
                "server_error_share": round(tally["5xx"] / total, 4) if total else 0.0,
                "p50_ms": _median_ms(sorted(buckets.get(key, []))),
            }
        return figures


def _median_ms(buckets: list[tuple[float, float]]) -> float | None:
    """The median from cumulative (upper bound, count) buckets, linear within its bucket."""
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = buckets[-1][1] / 2
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return round(lower * 1000, 2)
            share = (rank - below) / (count - below) if count > below else 1.0
            return round((lower + (upper - lower) * share) * 1000, 2)
        lower, below = upper, count
    return None
