"""The agent's own Prometheus metrics (the shared ones live in ``praxis_servicekit.metrics``)."""

from __future__ import annotations

from prometheus_client import Counter

CALL_REFUSALS = Counter(
    "praxis_agent_call_refusals_total",
    "Machine calls a bench agent refused without acting (CallRefusal reasons: stale worker, conflict, ...)",
    ["bench", "reason"],
)
