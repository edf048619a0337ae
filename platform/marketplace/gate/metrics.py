"""Prometheus metrics of the gate, in a registry of the app's own (tests run many apps at once)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Microsecond-scale buckets, fine enough for the gate's own decision time.
LATENCY_BUCKETS = (
    0.000_005,
    0.000_01,
    0.000_025,
    0.000_05,
    0.000_1,
    0.000_25,
    0.000_5,
    0.001,
    0.002_5,
    0.005,
    0.01,
    0.05,
)


class GateMetrics:
    """Decision counters by visitor class, action and route class, and the gate's latency."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.decisions = Counter(
            "gate_decisions",
            "Requests decided by the policy gate.",
            ["visitor_class", "action", "route_class", "enforced"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gate_decision_latency_seconds",
            "Time the gate spends deciding one request (identification and rule lookup).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe(
        self, visitor_class: str, action: str, route_class: str, enforced: bool, seconds: float
    ) -> None:
        self.decisions.labels(
            visitor_class, action, route_class, "true" if enforced else "false"
        ).inc()
        self.latency.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
