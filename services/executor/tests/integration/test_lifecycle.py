"""Run lifecycle handlers against the real executor schema: states, event log seqs, races with cancel."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from praxis_contracts.executor import CancelRun, GetRun, GetRunEvents, RunDetail, RunEventPage
from praxis_contracts.runs import AssetAssignment, Assignment, RunStatus
from praxis_contracts.scheduler import RunQueued, RunRejected, RunScheduled
from praxis_executor.db.tables import outbox
from praxis_executor.handlers.control import cancel_run
from praxis_executor.handlers.lifecycle import run_queued, run_rejected, run_scheduled
from praxis_executor.handlers.views import get_run, get_run_events

pytestmark = pytest.mark.integration


def queued(run_id: str) -> RunQueued:
    return RunQueued(
        run_id=run_id,
        protocol_id="p-1",
        protocol_name="demo",
        source_hash="abc",
        function="demo",
        parameters={"x": 1},
        correlation_id=run_id,
    )


def scheduled(run_id: str) -> RunScheduled:
    asset = AssetAssignment(requirement="lh", kind="machine", bench_id="b1", machine="lh", asset_id="b1/lh")
    return RunScheduled(
        run_id=run_id,
        protocol_id="p-1",
        source_hash="abc",
        function="demo",
        parameters={"x": 1},
        assignment=Assignment(assets=[asset], reservation_ids=["r1"]),
        correlation_id=run_id,
    )


async def handle(uow_factory: Any, handler: Any, message: Any, **deps: Any) -> Any:
    async with uow_factory() as uow:
        result = await handler(message, uow, **deps)
        await uow.commit()
        return result


async def detail(uow_factory: Any, run_id: str) -> RunDetail:
    reply = await handle(uow_factory, get_run, GetRun(run_id=run_id))
    assert isinstance(reply, RunDetail), reply
    return reply


async def events(uow_factory: Any, run_id: str, after: int = 0) -> RunEventPage:
    reply = await handle(uow_factory, get_run_events, GetRunEvents(run_id=run_id, after=after))
    assert isinstance(reply, RunEventPage), reply
    return reply


class TestLifecycle:
    async def test_queued_then_scheduled_starts_a_worker_after_commit(
        self, executor_uow, supervisor, unique_id
    ) -> None:
        run_id = f"run-{unique_id}"
        await handle(executor_uow, run_queued, queued(run_id))
        await handle(executor_uow, run_scheduled, scheduled(run_id), supervisor=supervisor)
        run = await detail(executor_uow, run_id)
        assert run.status == RunStatus.STARTING
        assert run.assignment is not None and run.assignment.assets[0].machine == "lh"
        assert supervisor.started == [run_id]
        page = await events(executor_uow, run_id)
        assert [e.seq for e in page.events] == [1, 2, 3]
        assert [e.event["status"] for e in page.events] == ["queued", "scheduled", "starting"]
        assert [e.seq for e in (await events(executor_uow, run_id, after=2)).events] == [3]

    async def test_run_events_go_to_the_outbox_in_the_same_transaction(self, executor_uow, unique_id) -> None:
        run_id = f"run-{unique_id}"
        await handle(executor_uow, run_queued, queued(run_id))
        async with executor_uow() as uow:
            rows = (
                await uow.session.execute(sa.select(outbox.c.subject).where(outbox.c.payload.contains(run_id)))
            ).all()
        assert [r.subject for r in rows] == ["praxis.executor.evt.run_status_changed.v1"]

    async def test_a_redelivered_queued_event_creates_one_run_and_one_event(self, executor_uow, unique_id) -> None:
        run_id = f"run-{unique_id}"
        await handle(executor_uow, run_queued, queued(run_id))
        await handle(executor_uow, run_queued, queued(run_id))
        assert [e.seq for e in (await events(executor_uow, run_id)).events] == [1]

    async def test_rejected_run_finishes_with_the_reason(self, executor_uow, unique_id) -> None:
        run_id = f"run-{unique_id}"
        await handle(executor_uow, run_queued, queued(run_id))
        await handle(executor_uow, run_rejected, RunRejected(run_id=run_id, reason="no liquid handler anywhere"))
        run = await detail(executor_uow, run_id)
        assert run.status == RunStatus.REJECTED and run.error == "no liquid handler anywhere"
        assert (await events(executor_uow, run_id)).events[-1].type == "RunFinished"


class TestCancel:
    async def test_cancel_before_start_is_immediate(self, executor_uow, supervisor, unique_id) -> None:
        run_id = f"run-{unique_id}"
        await handle(executor_uow, run_queued, queued(run_id))
        await handle(executor_uow, cancel_run, CancelRun(run_id=run_id), supervisor=supervisor)
        assert (await detail(executor_uow, run_id)).status == RunStatus.CANCELLED
        assert (await events(executor_uow, run_id)).events[-1].event["status"] == "cancelled"

    async def test_a_cancel_that_overtakes_the_run_keeps_it_from_ever_starting(
        self, executor_uow, supervisor, unique_id
    ) -> None:
        run_id = f"run-{unique_id}"
        await handle(executor_uow, cancel_run, CancelRun(run_id=run_id), supervisor=supervisor)
        await handle(executor_uow, run_queued, queued(run_id))
        await handle(executor_uow, run_scheduled, scheduled(run_id), supervisor=supervisor)
        run = await detail(executor_uow, run_id)
        assert run.status == RunStatus.CANCELLED
        assert run.protocol_id == "p-1"
        assert supervisor.started == []

    async def test_cancel_of_a_running_run_goes_to_its_worker(self, executor_uow, supervisor, unique_id) -> None:
        run_id = f"run-{unique_id}"
        await handle(executor_uow, run_queued, queued(run_id))
        await handle(executor_uow, run_scheduled, scheduled(run_id), supervisor=supervisor)
        await handle(executor_uow, cancel_run, CancelRun(run_id=run_id), supervisor=supervisor)
        assert supervisor.controls == [(run_id, "cancel")]
        assert (await detail(executor_uow, run_id)).status == RunStatus.STARTING  # the worker reports the end
