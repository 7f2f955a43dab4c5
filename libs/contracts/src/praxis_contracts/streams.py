"""JetStream stream definitions as data; servicekit creates or updates them idempotently at boot.

Event streams keep history (limits retention) so projections can be rebuilt and WebSocket clients can
replay a run; command streams are work queues (one owner consumes each command once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    retention: Literal["limits", "workqueue"] = "limits"
    max_age_s: float = 7 * 24 * 3600
    duplicate_window_s: float = 120.0
    max_msgs: int = -1
    replicas: int = 1


def _evt(owner: str, name: str, max_age_s: float = 30 * 24 * 3600) -> StreamSpec:
    return StreamSpec(name=name, subjects=(f"praxis.{owner}.evt.>",), max_age_s=max_age_s)


def _cmd(owner: str, name: str) -> StreamSpec:
    return StreamSpec(name=name, subjects=(f"praxis.{owner}.cmd.>",), retention="workqueue")


DISCOVERY_EVT = _evt("discovery", "PRAXIS_DISCOVERY_EVT")
DISCOVERY_CMD = _cmd("discovery", "PRAXIS_DISCOVERY_CMD")
SCHEDULER_EVT = _evt("scheduler", "PRAXIS_SCHEDULER_EVT")
SCHEDULER_CMD = _cmd("scheduler", "PRAXIS_SCHEDULER_CMD")
EXECUTOR_EVT = _evt("executor", "PRAXIS_EXECUTOR_EVT")
EXECUTOR_CMD = _cmd("executor", "PRAXIS_EXECUTOR_CMD")
HARDWARE_EVT = _evt("hardware", "PRAXIS_HARDWARE_EVT", max_age_s=7 * 24 * 3600)
DLQ = StreamSpec(name="PRAXIS_DLQ", subjects=("praxis.dlq.>",), max_age_s=30 * 24 * 3600)

ALL_STREAMS: tuple[StreamSpec, ...] = (
    DISCOVERY_EVT,
    DISCOVERY_CMD,
    SCHEDULER_EVT,
    SCHEDULER_CMD,
    EXECUTOR_EVT,
    EXECUTOR_CMD,
    HARDWARE_EVT,
    DLQ,
)


def stream_for(subject: str, streams: tuple[StreamSpec, ...] = ALL_STREAMS) -> StreamSpec | None:
    """The stream whose ``<prefix>.>`` filter captures ``subject`` (None: core NATS only)."""
    for spec in streams:
        for pattern in spec.subjects:
            if pattern.endswith(".>") and subject.startswith(pattern[:-1]):
                return spec
            if pattern == subject:
                return spec
    return None
