"""Queue order with aging, duration estimates and ETAs.

Order: highest *effective* priority first, then submission order (``seq``). Aging::

    effective_priority = priority + seconds_waited / aging_step_s

so a queued run gains one priority level per ``aging_step_s`` (default 300 s: 5 minutes) of waiting. A run of
priority 0 overtakes a newly submitted run of priority 10 after 50 minutes, so low priority never starves.
Two runs of equal priority age at the same rate, so the earlier one stays ahead.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

Interval = tuple[datetime, datetime]
ETA_ROUNDS = 8


@dataclass(frozen=True)
class QueuedRun:
    run_id: str
    priority: int
    seq: int
    submitted_at: datetime


def effective_priority(run: QueuedRun, now: datetime, aging_step_s: float) -> float:
    waited = max(0.0, (now - run.submitted_at).total_seconds())
    return run.priority + waited / aging_step_s


def queue_order(runs: Iterable[QueuedRun], now: datetime, aging_step_s: float) -> list[QueuedRun]:
    return sorted(runs, key=lambda r: (-effective_priority(r, now, aging_step_s), r.seq))


def estimate_duration(declared: float | None, history: Sequence[float], default: float) -> float:
    """Declared by the protocol, else the median of its past runs, else the default (seconds)."""
    if declared is not None and declared > 0:
        return declared
    if history:
        return float(statistics.median(history))
    return default


def earliest_start(busy: Iterable[Interval], not_before: datetime, duration: timedelta) -> datetime:
    """The earliest ``t >= not_before`` such that ``[t, t + duration)`` misses every busy interval."""
    t = not_before
    for start, end in sorted(busy):
        if end <= t:
            continue
        if start >= t + duration:
            break
        t = end
    return t


@dataclass(frozen=True)
class EtaRequest:
    """A waiting run as the ETA estimate sees it: per required requirement, the asset ids that could serve it."""

    run_id: str
    candidates: tuple[tuple[str, ...], ...]
    duration: timedelta


def estimate_etas(
    runs: Sequence[EtaRequest],
    busy: Mapping[str, Sequence[Interval]],
    covered: Callable[[str], Iterable[str]],
    now: datetime,
) -> dict[str, datetime | None]:
    """List-schedule the waiting runs in queue order on the assets' busy intervals.

    Each run takes, per requirement, the candidate that frees up first; its start is pushed until all its
    assets are free together for its whole duration, and then it occupies them. An estimate: runs that
    finish early or late, and new bookings, move it. ``None`` when a run has no candidate at all.
    """
    timeline: dict[str, list[Interval]] = {k: list(v) for k, v in busy.items()}

    def busy_of(asset_id: str) -> list[Interval]:
        return [i for a in covered(asset_id) for i in timeline.get(a, ())]

    etas: dict[str, datetime | None] = {}
    for run in runs:
        chosen: list[str] = []
        for options in run.candidates:
            free = [o for o in options if o not in chosen]
            if not free:
                break
            chosen.append(min(free, key=lambda o: (earliest_start(busy_of(o), now, run.duration), o)))
        else:
            start = now
            for _ in range(ETA_ROUNDS):
                later = max((earliest_start(busy_of(a), start, run.duration) for a in chosen), default=start)
                if later == start:
                    break
                start = later
            etas[run.run_id] = start
            for asset_id in chosen:
                for a in covered(asset_id):
                    timeline.setdefault(a, []).append((start, start + run.duration))
            continue
        etas[run.run_id] = None
    return etas
