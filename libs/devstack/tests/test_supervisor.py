"""Restart policy and supervision logic, with a fake clock and a fake process (pure logic: no subprocesses)."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from praxis_devstack.errors import DevStackError
from praxis_devstack.supervisor import RestartPolicy, Supervisor, describe_exit, stop_signals_deferred

POLICY = RestartPolicy(initial_delay=1.0, max_delay=30.0, reset_after=60.0, startup_crash_limit=3)


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeProc:
    """Stands in for ServiceProcess: ``exit(code)`` ends the current run, ``restart`` begins the next."""

    log_path: Path = Path("/logs/scheduler.log")
    pid: int | None = 100
    returncode: int | None = None
    restarts: int = 0
    markers: list[str | None] = field(default_factory=list)
    group_signals: list[int] = field(default_factory=list)
    fail_restart: bool = False

    @property
    def alive(self) -> bool:
        return self.pid is not None and self.returncode is None

    def exit(self, code: int) -> None:
        self.returncode = code

    def restart(self, marker: str | None = None) -> FakeProc:
        if self.fail_restart:
            self.pid = None
            raise FileNotFoundError("console script 'praxis-scheduler' not found")
        self.restarts += 1
        self.markers.append(marker)
        self.pid, self.returncode = 100 + self.restarts, None
        return self

    def signal_group(self, sig: int) -> bool:
        self.group_signals.append(sig)
        return True

    def log_tail(self, lines: int = 30) -> str:
        return f"scheduler run {self.restarts}: boom"


def _up(clock: Clock, proc: FakeProc, *, healthy: bool = True) -> Supervisor:
    sup = Supervisor(POLICY, clock=clock)
    sup.add("scheduler", proc)
    if healthy:
        sup.mark_healthy()
    return sup


def test_delay_doubles_and_is_capped() -> None:
    assert [POLICY.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert RestartPolicy(initial_delay=0.05, max_delay=0.2).delay(1000) == 0.2
    with pytest.raises(ValueError):
        POLICY.delay(0)
    with pytest.raises(ValueError):
        RestartPolicy(initial_delay=5, max_delay=1)
    with pytest.raises(ValueError):
        RestartPolicy(startup_crash_limit=0)


def test_describe_exit() -> None:
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-signal.SIGKILL) == "was killed by SIGKILL"
    assert describe_exit(-200) == "was killed by signal 200"


def test_exit_is_restarted_after_a_growing_delay_and_logged_once_with_tail(capsys: pytest.CaptureFixture[str]) -> None:
    clock, proc = Clock(), FakeProc()
    sup = _up(clock, proc)
    clock.now += 5
    proc.exit(-signal.SIGKILL)
    sup.tick()
    err = capsys.readouterr().err
    assert "scheduler was killed by SIGKILL after 5.0s; restart #1 in 1s" in err
    assert "scheduler run 0: boom" in err and "last 30 lines of /logs/scheduler.log" in err
    assert proc.group_signals == [signal.SIGTERM]
    assert sup.seconds_until_due() == 1.0

    clock.now += 0.5
    sup.tick()
    assert proc.restarts == 0  # backoff not over yet
    clock.now += 0.5
    sup.tick()
    assert proc.restarts == 1 and proc.alive
    assert "restarted scheduler (pid 101)" in capsys.readouterr().out
    assert proc.markers[0] is not None and "restart #1 of scheduler" in proc.markers[0]

    proc.exit(3)  # crashes again at once: twice the delay, and no second log tail
    sup.tick()
    err = capsys.readouterr().err
    assert "scheduler exited with code 3 after 0.0s; restart #2 in 2s (2 exits in a row)" in err
    assert "boom" not in err
    assert sup.seconds_until_due() == 2.0


def test_delay_resets_after_the_service_stayed_up(capsys: pytest.CaptureFixture[str]) -> None:
    clock, proc = Clock(), FakeProc()
    sup = _up(clock, proc)
    for _ in range(3):  # a crash loop: 1 s, 2 s, 4 s
        proc.exit(1)
        sup.tick()
        clock.now += sup.seconds_until_due() or 0.0
        sup.tick()
    assert proc.restarts == 3
    clock.now += POLICY.reset_after
    sup.tick()  # seen up for reset_after: the count starts afresh
    proc.exit(1)
    sup.tick()
    err = capsys.readouterr().err
    assert err.count("boom") == 2  # the first exit of each series shows the tail
    assert "restart #4 in 1s" in err


def test_a_service_that_never_came_up_is_given_up_with_its_log_tail(capsys: pytest.CaptureFixture[str]) -> None:
    clock, proc = Clock(), FakeProc()
    sup = _up(clock, proc, healthy=False)
    for _ in range(POLICY.startup_crash_limit - 1):
        proc.exit(3)
        sup.tick()
        clock.now += sup.seconds_until_due() or 0.0
        sup.tick()
    proc.exit(3)
    with pytest.raises(DevStackError, match=r"scheduler exited with code 3 .*3 times in a row") as info:
        sup.tick()
    assert info.value.exit_code == 1 and "scheduler run 2: boom" in str(info.value)


def test_a_service_that_came_up_is_never_given_up(capsys: pytest.CaptureFixture[str]) -> None:
    clock, proc = Clock(), FakeProc()
    sup = _up(clock, proc)
    for _ in range(10):
        proc.exit(3)
        sup.tick()
        clock.now += sup.seconds_until_due() or 0.0
        sup.tick()
    assert proc.restarts == 10
    assert "restart #10 in 30s (10 exits in a row)" in capsys.readouterr().err


def test_a_failed_restart_counts_as_an_exit_and_is_retried(capsys: pytest.CaptureFixture[str]) -> None:
    clock, proc = Clock(), FakeProc()
    sup = _up(clock, proc)
    proc.exit(1)
    sup.tick()
    proc.fail_restart = True
    clock.now += 1.0
    sup.tick()
    assert "could not be restarted (console script 'praxis-scheduler' not found); restart #1 in 2s" in (
        capsys.readouterr().err
    )
    proc.fail_restart = False
    clock.now += 2.0
    sup.tick()
    assert proc.alive and proc.restarts == 1


def test_a_service_that_exited_during_start_up_is_not_up_just_because_it_runs_now() -> None:
    clock, proc = Clock(), FakeProc()
    sup = _up(clock, proc, healthy=False)
    proc.exit(3)
    sup.tick()
    clock.now += 1.0
    sup.tick()
    assert proc.alive
    sup.mark_healthy()  # the stack is healthy while this crash loop happens to be between two turns
    for _ in range(POLICY.startup_crash_limit - 2):
        proc.exit(3)
        sup.tick()
        clock.now += sup.seconds_until_due() or 0.0
        sup.tick()
    proc.exit(3)
    with pytest.raises(DevStackError, match="giving up"):
        sup.tick()


def test_a_closed_supervisor_restarts_nothing() -> None:
    clock, proc = Clock(), FakeProc()
    sup = _up(clock, proc)
    sup.close()
    proc.exit(0)
    clock.now += 100
    sup.tick()
    assert proc.restarts == 0 and sup.seconds_until_due() is None


def test_the_same_name_twice_is_refused() -> None:
    sup = _up(Clock(), FakeProc())
    with pytest.raises(ValueError, match="already supervised"):
        sup.add("scheduler", FakeProc())


def test_a_stop_signal_during_a_tick_is_delivered_after_it() -> None:
    done = False
    with pytest.raises(KeyboardInterrupt):
        with stop_signals_deferred():
            signal.raise_signal(signal.SIGINT)
            done = True  # the tick's work finishes first
    assert done
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
