"""One journal entry per machine call, and where entries go.

The entry is what the executor stores and publishes as ``StepCompleted``: ``args`` and ``result`` in the codec's
JSON form (faithful: the call could be replayed from it), plus a ``summary`` a person can read (resources,
volumes, channels) and the ``state_diff`` of the trackers the call changed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class CallRecord:
    sequence: int
    bench_id: str
    machine: str
    method: str
    args: dict[str, Any]
    ok: bool
    result: Any = None
    error_type: str | None = None
    error: str | None = None
    duration_ms: float = 0.0
    device_ms: float = 0.0
    replayed: bool = False
    summary: dict[str, Any] = field(default_factory=dict)
    state_diff: dict[str, Any] = field(default_factory=dict)

    def to_report(self) -> dict[str, Any]:
        """The fields of the worker's ``call`` report (``error`` is the device's message, ``error_type`` its class)."""
        return dataclasses.asdict(self)


class Journal(Protocol):
    async def record(self, entry: CallRecord) -> None: ...


class MemoryJournal:
    """Keeps entries in a list (tests, and callers that publish after the run)."""

    def __init__(self) -> None:
        self.entries: list[CallRecord] = []

    async def record(self, entry: CallRecord) -> None:
        self.entries.append(entry)
