"""Queue order with aging, duration estimates and ETAs (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from praxis_scheduler.domain.queue import (
    EtaRequest,
    QueuedRun,
    earliest_start,
    effective_priority,
    estimate_duration,
    estimate_etas,
    queue_order,
)

NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
STEP = 300.0


def queued(run_id: str, priority: int, seq: int, waited_min: float) -> QueuedRun:
    return QueuedRun(run_id, priority, seq, NOW - timedelta(minutes=waited_min))


class TestQueueOrder:
    def test_higher_priority_goes_first(self):
        runs = [queued("low", 0, 1, 1), queued("high", 5, 2, 1)]
        assert [r.run_id for r in queue_order(runs, NOW, STEP)] == ["high", "low"]

    def test_equal_priority_keeps_submission_order(self):
        runs = [queued("second", 1, 2, 0), queued("first", 1, 1, 0)]
        assert [r.run_id for r in queue_order(runs, NOW, STEP)] == ["first", "second"]

    def test_a_long_waiting_low_priority_run_overtakes_a_fresh_high_priority_one(self):
        runs = [queued("old-low", 0, 1, 55), queued("new-high", 10, 2, 0)]
        assert [r.run_id for r in queue_order(runs, NOW, STEP)] == ["old-low", "new-high"]

    def test_before_enough_aging_priority_still_wins(self):
        runs = [queued("old-low", 0, 1, 45), queued("new-high", 10, 2, 0)]
        assert [r.run_id for r in queue_order(runs, NOW, STEP)] == ["new-high", "old-low"]

    def test_effective_priority_grows_one_level_per_aging_step(self):
        assert effective_priority(queued("r", 2, 1, 10), NOW, STEP) == 4.0


class TestDurationEstimate:
    def test_a_declared_duration_wins(self):
        assert estimate_duration(120.0, [10.0, 20.0], 900.0) == 120.0

    def test_else_the_median_of_past_runs(self):
        assert estimate_duration(None, [10.0, 30.0, 1000.0], 900.0) == 30.0

    def test_else_the_default(self):
        assert estimate_duration(None, [], 900.0) == 900.0


class TestEta:
    def test_earliest_start_skips_busy_intervals_too_close_together(self):
        busy = [(NOW, NOW + timedelta(minutes=10)), (NOW + timedelta(minutes=15), NOW + timedelta(minutes=30))]
        assert earliest_start(busy, NOW, timedelta(minutes=10)) == NOW + timedelta(minutes=30)
        assert earliest_start(busy, NOW, timedelta(minutes=5)) == NOW + timedelta(minutes=10)

    def test_waiting_runs_queue_behind_each_other_on_the_same_asset(self):
        busy = {"b1/lh": [(NOW - timedelta(minutes=5), NOW + timedelta(minutes=20))]}
        runs = [
            EtaRequest("a", (("b1/lh",),), timedelta(minutes=30)),
            EtaRequest("b", (("b1/lh",),), timedelta(minutes=10)),
        ]
        etas = estimate_etas(runs, busy, lambda a: [a], NOW)
        assert etas == {"a": NOW + timedelta(minutes=20), "b": NOW + timedelta(minutes=50)}

    def test_a_run_takes_the_candidate_that_frees_first(self):
        busy = {"b1/x": [(NOW, NOW + timedelta(hours=2))], "b2/x": [(NOW, NOW + timedelta(minutes=10))]}
        etas = estimate_etas([EtaRequest("a", (("b1/x", "b2/x"),), timedelta(minutes=5))], busy, lambda a: [a], NOW)
        assert etas["a"] == NOW + timedelta(minutes=10)

    def test_a_run_without_candidates_has_no_eta(self):
        assert estimate_etas([EtaRequest("a", ((),), timedelta(minutes=5))], {}, lambda a: [a], NOW) == {"a": None}
