"""The run state machine.

``queued -> scheduled -> starting -> running -> completed | failed | cancelled``; a run may also be ``rejected``
(never placeable), ``paused`` (between machine calls) or parked as ``needs_operator`` (the outcome of one step is
unknown after a crash). Terminal states never change again: a late or duplicate event cannot resurrect a run.
"""

from __future__ import annotations

from praxis_contracts.runs import RunStatus

S = RunStatus

ALLOWED: dict[RunStatus, frozenset[RunStatus]] = {
    S.QUEUED: frozenset({S.QUEUED, S.SCHEDULED, S.REJECTED, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.STARTING, S.CANCELLED, S.FAILED}),
    S.STARTING: frozenset({S.RUNNING, S.CANCELLED, S.FAILED, S.COMPLETED}),
    S.RUNNING: frozenset({S.PAUSED, S.COMPLETED, S.FAILED, S.CANCELLED, S.NEEDS_OPERATOR}),
    S.PAUSED: frozenset({S.RUNNING, S.CANCELLED, S.FAILED, S.NEEDS_OPERATOR}),
    S.NEEDS_OPERATOR: frozenset({S.CANCELLED, S.FAILED, S.RUNNING}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
}


class IllegalTransition(ValueError):
    def __init__(self, current: RunStatus, target: RunStatus) -> None:
        super().__init__(f"a {current.value} run cannot become {target.value}")
        self.current = current
        self.target = target


def can_transition(current: RunStatus, target: RunStatus) -> bool:
    return target in ALLOWED[current]


def check_transition(current: RunStatus, target: RunStatus) -> None:
    if not can_transition(current, target):
        raise IllegalTransition(current, target)


def cancel_is_immediate(current: RunStatus) -> bool:
    """Before a worker exists, cancelling is just a state change; afterwards the worker must stop first."""
    return current in (S.QUEUED, S.SCHEDULED)
