"""The executor's handler tables: what the bootstrap wires to NATS."""

from __future__ import annotations

from praxis_contracts.executor import CancelRun, GetRun, GetRunEvents, ListRuns, PauseRun, ResumeRun
from praxis_contracts.scheduler import RunQueued, RunRejected, RunScheduled, RunWaiting
from praxis_executor.handlers.control import cancel_run, pause_run, resume_run
from praxis_executor.handlers.lifecycle import run_queued, run_rejected, run_scheduled, run_waiting
from praxis_executor.handlers.views import get_run, get_run_events, list_runs

COMMAND_HANDLERS = {CancelRun: cancel_run, PauseRun: pause_run, ResumeRun: resume_run}
EVENT_HANDLERS = {
    RunQueued: [run_queued],
    RunScheduled: [run_scheduled],
    RunRejected: [run_rejected],
    RunWaiting: [run_waiting],
}
QUERY_HANDLERS = {GetRun: get_run, ListRuns: list_runs, GetRunEvents: get_run_events}
