"""Domain errors of runs: each carries a reason a person can read, and the edge maps it (409, 422, a log line)."""

from __future__ import annotations

from praxis_contracts.runs import RunStatus


class RunError(Exception):
    """Base of the executor's domain errors."""


class IllegalTransition(RunError):
    """The run's state cannot take this event or command (a finished run never changes again)."""

    def __init__(self, status: RunStatus, what: str, reason: str | None = None) -> None:
        super().__init__(reason or f"a {status.value} run cannot {what}")
        self.status = status
        self.what = what


class InvalidChoice(RunError):
    """An operator's choice the parked run does not offer."""


class StaleWorker(RunError):
    """A report or a lifecycle step from a worker that no longer drives the run (another owner, a newer epoch).

    Fencing: the moment a run is taken over, everything the old worker says is refused, so a run is never driven
    by two workers at once even while the old one is still being stopped.
    """
