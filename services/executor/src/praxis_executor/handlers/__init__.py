"""The executor's handler tables: what the bootstrap wires to NATS. Worker reports and lease ticks reach
``handlers.workers`` / ``handlers.ownership`` through the worker supervisor instead."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from praxis_contracts.base import Message
from praxis_contracts.executor import CancelRun, PauseRun, RecoverRun, ResumeRun
from praxis_contracts.scheduler import RunQueued, RunRejected, RunScheduled, RunWaiting
from praxis_executor.handlers.control import cancel_run, pause_run, recover_run, resume_run
from praxis_executor.handlers.lifecycle import run_queued, run_rejected, run_scheduled, run_waiting

Handler = Callable[..., Awaitable[Any]]

COMMAND_HANDLERS: dict[type[Message], Handler] = {
    CancelRun: cancel_run,
    PauseRun: pause_run,
    ResumeRun: resume_run,
    RecoverRun: recover_run,
}
EVENT_HANDLERS: dict[type[Message], list[Handler]] = {
    RunQueued: [run_queued],
    RunScheduled: [run_scheduled],
    RunRejected: [run_rejected],
    RunWaiting: [run_waiting],
}
