"""Prometheus metrics of one app: requests and latency by route, assessments and alerts by segment.

Each app has its own registry (several apps live in one test process); ``GET /metrics`` exposes it.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kykytutka_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "kykytutka_request_seconds",
            "Request latency",
            ["route"],
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.assessments = Counter(
            "kykytutka_assessments", "Assessments by segment", ["segment"], registry=self.registry
        )
        self.alerts = Counter(
            "kykytutka_alerts", "Raised alerts by segment", ["segment"], registry=self.registry
        )
