"""The tunable numbers of the scheduling rules, in one value object so handlers and tests agree on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class Policy:
    """Scheduling policy.

    ``lease_s``: how long a run's reservations last without a renewal from the executor.
    ``default_duration_s``: the duration estimate of a run when neither the protocol declares one nor any past
    run of the protocol finished.
    ``aging_step_s``: a queued run gains one priority level per this many seconds of waiting (see
    :func:`praxis_scheduler.domain.queue.effective_priority`).
    ``heartbeat_grace_factor``: a bench is online while its last heartbeat is younger than this many
    heartbeat intervals.
    """

    lease_s: float = 600.0
    default_duration_s: float = 900.0
    aging_step_s: float = 300.0
    heartbeat_grace_factor: float = 3.0
    duration_history: int = 50

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_s)

    @classmethod
    def from_settings(cls, settings: Any) -> Policy:
        """Read the fields a settings object has; the others keep their defaults."""
        if settings is None:
            return cls()
        known = cls.__dataclass_fields__
        values = {name: getattr(settings, name) for name in known if hasattr(settings, name)}
        return cls(**values)


DEFAULT_POLICY = Policy()
