"""What handlers need from the outside world, as protocols: the bootstrap passes the SQL adapters and the worker
supervisor, unit tests pass fakes (``praxis_executor.testing``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from praxis_contracts.base import Message
from praxis_contracts.hardware import BenchDescription
from praxis_contracts.runs import RunStatus
from praxis_executor.domain.run import Run
from praxis_executor.worker.protocol import CallReport, JournalEntry

Tracing = dict[str, str | None]
"""``correlation_id`` / ``causation_id`` for the events a change publishes."""


@dataclass(frozen=True)
class RunInputs:
    """What a replay must see exactly as the first worker saw it: the benches' descriptions at the run's start."""

    benches: dict[str, BenchDescription]
    filename: str | None = None


@dataclass(frozen=True)
class OwnedRun:
    """One run this executor instance owns, as its lease renewal found it."""

    run_id: str
    status: RunStatus
    cancel_requested: bool
    pause_requested: bool
    epoch: int


class RunRepository(Protocol):
    async def get(self, run_id: str) -> Run | None:
        """The run, locked for this unit of work (None: no such run)."""
        ...

    async def add(self, run: Run, tracing: Tracing) -> None:
        """Insert a new run and publish its recorded changes."""
        ...

    async def save(self, run: Run, tracing: Tracing) -> None:
        """Write the run's state and publish its recorded changes as run events (each with the next seq)."""
        ...

    async def record_calls(self, run: Run, calls: Sequence[CallReport], tracing: Tracing) -> int:
        """Journal calls (a step already journaled is skipped) and publish ``StepCompleted``; returns how many
        were new."""
        ...

    async def save_outputs(self, run_id: str, outputs: dict[str, Any]) -> int:
        """Store the outputs apart from the run row; returns their size in bytes of JSON."""
        ...

    async def journal(self, run_id: str) -> list[JournalEntry]: ...

    async def inputs(self, run_id: str) -> RunInputs | None: ...

    async def save_inputs(self, run_id: str, inputs: RunInputs) -> None: ...


class Leases(Protocol):
    """Ownership of runs by executor instances: a lease renewed while the owner lives."""

    async def claim(self, run_id: str, owner: str) -> None:
        """Start (or refresh) ``owner``'s lease on a run it has just taken in this unit of work."""
        ...

    async def renew(self, owner: str) -> list[OwnedRun]:
        """Extend every lease ``owner`` holds on an active run; returns those runs."""
        ...

    async def take_over(self, owner: str, limit: int) -> list[str]:
        """Claim active runs nobody owns or whose lease ran out; returns their ids."""
        ...

    async def release_all(self, owner: str) -> int:
        """Give up every lease of ``owner`` (graceful stop: another replica may take the runs at once)."""
        ...


class UnitOfWork(Protocol):
    runs: RunRepository
    leases: Leases

    def after_commit(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` once the transaction is durable (e.g. start a worker for a run just claimed)."""
        ...

    def publish(self, message: Message) -> None:
        """Send ``message`` through the outbox when the transaction commits (not a run event: those are the
        repository's)."""
        ...

    async def commit(self) -> None: ...


class Owner(Protocol):
    """This executor instance as the handlers see it: its name, and what it does with a run it owns."""

    @property
    def instance(self) -> str: ...

    def drive(self, run_id: str) -> None:
        """Make sure a worker runs for ``run_id`` (called after the commit that made this instance its owner)."""
        ...
