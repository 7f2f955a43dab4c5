"""What handlers need from the outside world, as protocols (the bootstrap passes real ones, tests fakes)."""

from __future__ import annotations

from typing import Protocol


class Supervisor(Protocol):
    """Owns the worker subprocesses of this executor instance."""

    def start(self, run_id: str) -> None:
        """Start the run's worker in the background (called after the 'starting' state is committed)."""

    def is_running(self, run_id: str) -> bool: ...

    def control(self, run_id: str, action: str) -> bool:
        """Send ``cancel`` / ``pause`` / ``resume`` to the worker; False if this instance has no such worker."""
        ...
