"""Runs: submit (validated against the protocol's parameters), list, read, and control (cancel/pause/resume)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body

from praxis_contracts.base import Command
from praxis_contracts.discovery import GetProtocol, ProtocolReply
from praxis_contracts.executor import CancelRun, GetRun, ListRuns, PauseRun, ResumeRun, RunDetail, RunList
from praxis_contracts.protocols import InvalidParameter, ProtocolDefinition
from praxis_contracts.runs import RunStatus
from praxis_contracts.scheduler import SubmitRun
from praxis_gateway.api.deps import BusDep, CurrentUser
from praxis_gateway.api.schemas import CancelBody, ControlAccepted, RunAccepted, RunCreate, RunOut, RunsOut
from praxis_gateway.bus import Bus
from praxis_gateway.errors import ApiError
from praxis_gateway.lookups import queue_entry
from praxis_servicekit.queries import QueryFailed

router = APIRouter(prefix="/runs", tags=["runs"])

Control = Literal["cancel", "pause", "resume"]


def submission(body: RunCreate, definition: ProtocolDefinition, submitted_by: str) -> SubmitRun:
    """The ``SubmitRun`` command for a request, or :class:`ApiError` 422 naming the offending parameter."""
    try:
        parameters = definition.validate_parameters(body.parameters)
    except InvalidParameter as exc:
        raise ApiError(422, str(exc), parameter=exc.name) from exc
    requirements = {a.name for a in definition.assets}
    for pin in body.pins:
        if pin not in requirements:
            known = ", ".join(sorted(requirements)) or "none"
            raise ApiError(422, f"pin '{pin}': the protocol has no such asset (known: {known})", parameter=pin)
    run_id = uuid.uuid4().hex
    return SubmitRun(
        run_id=run_id,
        protocol_id=definition.id,
        protocol_name=definition.name,
        source_hash=definition.source_hash,
        function=definition.function,
        parameters=parameters,
        requirements=definition.assets,
        pins=body.pins,
        simulate=body.simulate,
        allow_real_hardware_in_simulation=body.allow_real_hardware_in_simulation,
        priority=body.priority,
        submitted_by=submitted_by,
        estimated_duration_s=definition.estimated_duration_s,
        correlation_id=run_id,
    )


@router.post("", status_code=202, response_model=RunAccepted)
async def create_run(bus: BusDep, user: CurrentUser, body: RunCreate) -> RunAccepted:
    """Submit a run (queued for the scheduler)."""
    definition = (await bus.ask(GetProtocol(protocol_id=body.protocol_id), ProtocolReply)).definition
    command = submission(body, definition, user.name)
    await bus.send(command)
    return RunAccepted(id=command.run_id)


@router.get("", response_model=RunsOut)
async def read_runs(bus: BusDep, status: RunStatus | None = None, limit: int = 100) -> RunList:
    """List runs, newest first."""
    return await bus.ask(ListRuns(status=status, limit=limit), RunList)


@router.get("/{run_id}", response_model=RunOut)
async def read_run(bus: BusDep, run_id: str) -> RunDetail | dict[str, Any]:
    """Read a run: status, assignment, steps (the journal), error and outputs."""
    try:
        return await bus.ask(GetRun(run_id=run_id), RunDetail)
    except QueryFailed as exc:
        if exc.reply.code != "not_found":
            raise
        entry = await queue_entry(bus, run_id)  # the executor's projection may lag the submit a little
        if entry is None:
            raise
        return {"id": run_id, "status": RunStatus.QUEUED, "protocol_name": entry.protocol_name, "queue": entry}


async def _control(bus: Bus, command: Command, run_id: str, requested: Control) -> ControlAccepted:
    await bus.send(command)
    return ControlAccepted(id=run_id, requested=requested)


@router.post("/{run_id}/cancel", status_code=202, response_model=ControlAccepted)
async def cancel_run(
    bus: BusDep, user: CurrentUser, run_id: str, body: Annotated[CancelBody | None, Body()] = None
) -> ControlAccepted:
    """Cancel a run; it stops before its next machine call."""
    reason = (body.reason if body else None) or f"cancelled by {user.name}"
    return await _control(bus, CancelRun(run_id=run_id, reason=reason, correlation_id=run_id), run_id, "cancel")


@router.post("/{run_id}/pause", status_code=202, response_model=ControlAccepted)
async def pause_run(bus: BusDep, run_id: str) -> ControlAccepted:
    """Pause a run before its next machine call."""
    return await _control(bus, PauseRun(run_id=run_id, correlation_id=run_id), run_id, "pause")


@router.post("/{run_id}/resume", status_code=202, response_model=ControlAccepted)
async def resume_run(bus: BusDep, run_id: str) -> ControlAccepted:
    """Resume a paused run."""
    return await _control(bus, ResumeRun(run_id=run_id, correlation_id=run_id), run_id, "resume")
