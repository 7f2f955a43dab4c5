"""Runs: submit (validated against the protocol's parameters), list, read (paged journal, outputs), and control
(cancel/pause/resume, and an operator's recovery of a parked run).

Control routes look the run up before sending anything: an unknown run is a 404 and a run whose state refuses
the command is a 409 with the reason from ``praxis_contracts.runs.refusal`` (the rule the executor enforces), so
no command is published that could only be dropped or, worse, create a phantom run.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import StreamingResponse

from praxis_contracts.discovery import GetProtocol, ProtocolReply
from praxis_contracts.executor import (
    CancelRun,
    GetRun,
    ListRuns,
    PauseRun,
    RecoverRun,
    ResumeRun,
    RunDetail,
    RunList,
    StepCompleted,
)
from praxis_contracts.protocols import InvalidParameter, ProtocolDefinition
from praxis_contracts.runs import RECOVERY_CHOICES, RunAction, RunStatus, refusal
from praxis_contracts.scheduler import SubmitRun
from praxis_gateway import outputs
from praxis_gateway.api.deps import BusDep, CurrentUser, OperatorUser, RuntimeDep
from praxis_gateway.api.schemas import (
    CancelBody,
    ControlAccepted,
    RecoverAccepted,
    RecoverBody,
    RunAccepted,
    RunCreate,
    RunOut,
    RunsOut,
    StepsOut,
)
from praxis_gateway.bus import Bus
from praxis_gateway.errors import ApiError
from praxis_gateway.lookups import RunState, queue_entry, run_state
from praxis_servicekit.queries import QueryFailed

router = APIRouter(prefix="/runs", tags=["runs"])

MAX_STEPS_PAGE = 1000
StepsAfter = Annotated[int, Query(ge=0, description="only steps numbered after this one")]
StepsLimit = Annotated[int, Query(ge=0, le=MAX_STEPS_PAGE, description="at most this many steps (0: none)")]


def submission(body: RunCreate, definition: ProtocolDefinition, submitted_by: str, role: str = "") -> SubmitRun:
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
        submitted_role=role,
        estimated_duration_s=definition.estimated_duration_s,
        correlation_id=run_id,
    )


@router.post("", status_code=202, response_model=RunAccepted)
async def create_run(bus: BusDep, user: CurrentUser, body: RunCreate) -> RunAccepted:
    """Submit a run (queued for the scheduler)."""
    definition = (await bus.ask(GetProtocol(protocol_id=body.protocol_id), ProtocolReply)).definition
    command = submission(body, definition, user.name, user.role)
    await bus.send(command)
    return RunAccepted(id=command.run_id)


@router.get("", response_model=RunsOut)
async def read_runs(bus: BusDep, status: RunStatus | None = None, limit: int = 100) -> RunList:
    """List runs, newest first."""
    return await bus.ask(ListRuns(status=status, limit=limit), RunList)


async def detail_page(bus: Bus, run_id: str, after: int, limit: int) -> RunDetail | dict[str, Any]:
    """The executor's detail with one page of the journal; a queued stand-in while only the scheduler knows the
    run (the executor's projection may lag the submit a little); the executor's 404 when nobody knows it."""
    try:
        return await bus.ask(GetRun(run_id=run_id, steps_after=after, steps_limit=limit), RunDetail)
    except QueryFailed as exc:
        if exc.reply.code != "not_found":
            raise
        entry = await queue_entry(bus, run_id)
        if entry is None:
            raise
        return {"id": run_id, "status": RunStatus.QUEUED, "protocol_name": entry.protocol_name, "queue": entry}


@router.get("/{run_id}", response_model=RunOut)
async def read_run(
    bus: BusDep, run_id: str, steps_after: StepsAfter = 0, steps_limit: StepsLimit = 500
) -> RunDetail | dict[str, Any]:
    """Read a run: status, parked step, pending control requests, assignment, one page of its journal, outputs.

    ``steps`` holds at most ``steps_limit`` journal steps numbered after ``steps_after``; ``steps_total`` is the
    journal's length (page on with ``GET /runs/{id}/steps``). When ``outputs_inline`` is false the outputs were
    too large to travel with the run: fetch them from ``GET /runs/{id}/outputs``.
    """
    return await detail_page(bus, run_id, steps_after, steps_limit)


def next_after(steps: list[StepCompleted], steps_total: int) -> int | None:
    """Where the next page starts; None when this page reached the end of the journal (or came back empty, so a
    client looping on ``next_after`` always stops). Steps are numbered 1..steps_total in journal order."""
    if not steps:
        return None
    last = steps[-1].step
    return last if last < steps_total else None


@router.get("/{run_id}/steps", response_model=StepsOut)
async def read_steps(bus: BusDep, run_id: str, after: StepsAfter = 0, limit: StepsLimit = 500) -> StepsOut:
    """Page through a run's journal: steps numbered after ``after``, at most ``limit`` of them.

    Follow ``next_after`` until it is null to read the whole journal; a queued run has an empty one.
    """
    page = await detail_page(bus, run_id, after, limit)
    if not isinstance(page, RunDetail):
        return StepsOut(run_id=run_id, steps=[], steps_total=0, next_after=None)
    return StepsOut(
        run_id=run_id,
        steps=page.steps,
        steps_total=page.steps_total,
        next_after=next_after(page.steps, page.steps_total),
    )


@router.get(
    "/{run_id}/outputs",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/json": {}}, "description": "the run's outputs, as the protocol returned them"}
    },
)
async def read_outputs(runtime: RuntimeDep, run_id: str) -> StreamingResponse:
    """Download a run's full outputs as JSON, however large.

    The executor hands them out in slices that each fit a NATS message; the gateway streams them on in order.
    """
    limit = outputs.slice_limit(runtime.nc.max_payload, runtime.settings.outputs_slice_chars)
    first = await outputs.first_slice(runtime.bus, run_id, limit)
    return StreamingResponse(outputs.stream(runtime.bus, first, limit), media_type="application/json")


async def checked(bus: Bus, run_id: str, action: RunAction) -> RunState:
    """The run's state once it is known to take ``action``: else 404 (nobody knows the run) or 409 with the
    reason and the status, before anything is published."""
    state = await run_state(bus, run_id)
    reason = refusal(state.status, action, pause_requested=state.pause_requested)
    if reason is not None:
        raise ApiError(409, reason, status=state.status.value)
    return state


@router.post("/{run_id}/cancel", status_code=202, response_model=ControlAccepted)
async def cancel_run(
    bus: BusDep, user: CurrentUser, run_id: str, body: Annotated[CancelBody | None, Body()] = None
) -> ControlAccepted:
    """Cancel a run; it stops before its next machine call.

    A queued run can be cancelled too. 404 when no service knows the run, 409 when it has already finished.
    """
    await checked(bus, run_id, "cancel")
    reason = (body.reason if body else None) or f"cancelled by {user.name}"
    await bus.send(CancelRun(run_id=run_id, reason=reason, requested_by=user.name, correlation_id=run_id))
    return ControlAccepted(id=run_id, requested="cancel")


@router.post("/{run_id}/pause", status_code=202, response_model=ControlAccepted)
async def pause_run(bus: BusDep, user: CurrentUser, run_id: str) -> ControlAccepted:
    """Pause a run before its next machine call.

    Only a starting or running run that is not already pausing: else 409 with the reason and the status.
    """
    await checked(bus, run_id, "pause")
    await bus.send(PauseRun(run_id=run_id, requested_by=user.name, correlation_id=run_id))
    return ControlAccepted(id=run_id, requested="pause")


@router.post("/{run_id}/resume", status_code=202, response_model=ControlAccepted)
async def resume_run(bus: BusDep, user: CurrentUser, run_id: str) -> ControlAccepted:
    """Resume a paused (or pausing) run.

    409 with the reason and the status for any other run.
    """
    await checked(bus, run_id, "resume")
    await bus.send(ResumeRun(run_id=run_id, requested_by=user.name, correlation_id=run_id))
    return ControlAccepted(id=run_id, requested="resume")


@router.post("/{run_id}/recover", status_code=202, response_model=RecoverAccepted)
async def recover_run(bus: BusDep, user: OperatorUser, run_id: str, body: RecoverBody) -> RecoverAccepted:
    """Decide for a run that needs an operator: the parked step happened, retry it, or abort the run.

    **Needs the operator or admin role** (a scientist key gets 403): the decision is about what an instrument
    physically did, which whoever stands at the bench must judge. 404 when no service knows the run; 409 (with
    its status) when the run is not `needs_operator`; 422 when `choice` is not one the run offers (the body
    lists its `choices`).
    """
    state = await checked(bus, run_id, "recover")
    offered = list(state.parked.choices) if state.parked else list(RECOVERY_CHOICES)
    if body.choice not in offered:
        raise ApiError(
            422, f"choice '{body.choice}' is not offered for this run; it offers: {', '.join(offered)}", choices=offered
        )
    await bus.send(RecoverRun(run_id=run_id, choice=body.choice, requested_by=user.name, correlation_id=run_id))
    return RecoverAccepted(id=run_id, choice=body.choice)
