"""Run handlers on the real executor schema: states, the event log's seqs, the outbox, races with cancel, and the
worker's reports journaled in batches, fenced by owner and epoch."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from praxis_contracts.executor import CancelRun, GetRun, GetRunEvents, PauseRun, RunDetail, RunEventPage
from praxis_contracts.runs import AssetAssignment, Assignment, RunStatus
from praxis_contracts.scheduler import RunQueued, RunRejected, RunScheduled
from praxis_executor import views
from praxis_executor.db.tables import outbox
from praxis_executor.domain.errors import StaleWorker
from praxis_executor.handlers.control import cancel_run, pause_run
from praxis_executor.handlers.lifecycle import run_queued, run_rejected, run_scheduled
from praxis_executor.handlers.workers import begin_worker, handle_reports
from praxis_executor.worker.protocol import CallReport, FinishedReport, StartedReport

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


def call(step: int) -> CallReport:
    return CallReport(sequence=step, bench_id="b1", machine="lh", method="aspirate", args={"n": step}, ok=True)


async def detail(executor_uow, run_id: str, **paging: int) -> RunDetail:
    async with executor_uow() as uow:
        reply = await views.get_run(GetRun(run_id=run_id, **paging), uow)
    assert isinstance(reply, RunDetail), reply
    return reply


async def events(executor_uow, run_id: str, after: int = 0) -> RunEventPage:
    async with executor_uow() as uow:
        reply = await views.get_run_events(GetRunEvents(run_id=run_id, after=after), uow)
    assert isinstance(reply, RunEventPage), reply
    return reply


async def started_run(tx, owner, run_id: str) -> int:
    await tx(run_queued, queued(run_id))
    await tx(run_scheduled, scheduled(run_id), owner=owner)
    plan = await tx(begin_worker, run_id, owner.instance, "first")
    assert plan is not None
    await tx(handle_reports, run_id, owner.instance, plan.epoch, [StartedReport(pid=1)])
    return plan.epoch


class TestLifecycle:
    async def test_scheduled_claims_the_run_and_drives_it_after_commit(
        self, tx, executor_uow, owner, unique_id
    ) -> None:
        run_id = f"run-{unique_id}"
        await tx(run_queued, queued(run_id))
        await tx(run_scheduled, scheduled(run_id), owner=owner)
        run = await detail(executor_uow, run_id)
        assert run.status == RunStatus.STARTING and run.owner == owner.instance
        assert owner.driven == [run_id]
        page = await events(executor_uow, run_id)
        assert [e.seq for e in page.events] == [1, 2, 3]
        assert [e.event["status"] for e in page.events] == ["queued", "scheduled", "starting"]
        assert [e.seq for e in (await events(executor_uow, run_id, after=2)).events] == [3]

    async def test_run_events_go_to_the_outbox_in_the_same_transaction(self, tx, executor_uow, unique_id) -> None:
        run_id = f"run-{unique_id}"
        await tx(run_queued, queued(run_id))
        async with executor_uow() as uow:
            rows = (
                await uow.session.execute(sa.select(outbox.c.subject).where(outbox.c.payload.contains(run_id)))
            ).all()
        assert [r.subject for r in rows] == ["praxis.executor.evt.run_status_changed.v1"]

    async def test_a_redelivered_queued_event_creates_one_run_and_one_event(self, tx, executor_uow, unique_id) -> None:
        run_id = f"run-{unique_id}"
        await tx(run_queued, queued(run_id))
        await tx(run_queued, queued(run_id))
        assert [e.seq for e in (await events(executor_uow, run_id)).events] == [1]

    async def test_rejected_run_finishes_with_the_reason(self, tx, executor_uow, unique_id) -> None:
        run_id = f"run-{unique_id}"
        await tx(run_queued, queued(run_id))
        await tx(run_rejected, RunRejected(run_id=run_id, reason="no liquid handler anywhere"))
        run = await detail(executor_uow, run_id)
        assert run.status == RunStatus.REJECTED and run.error == "no liquid handler anywhere"
        assert (await events(executor_uow, run_id)).events[-1].type == "RunFinished"


class TestCancel:
    async def test_cancel_before_start_is_immediate(self, tx, executor_uow, unique_id) -> None:
        run_id = f"run-{unique_id}"
        await tx(run_queued, queued(run_id))
        await tx(cancel_run, CancelRun(run_id=run_id))
        assert (await detail(executor_uow, run_id)).status == RunStatus.CANCELLED
        assert (await events(executor_uow, run_id)).events[-1].type == "RunFinished"

    async def test_a_cancel_that_overtakes_the_run_keeps_it_from_ever_starting(
        self, tx, executor_uow, owner, unique_id
    ) -> None:
        run_id = f"run-{unique_id}"
        await tx(cancel_run, CancelRun(run_id=run_id))
        await tx(run_queued, queued(run_id))
        await tx(run_scheduled, scheduled(run_id), owner=owner)
        run = await detail(executor_uow, run_id)
        assert run.status == RunStatus.CANCELLED and run.protocol_id == "p-1"
        assert owner.driven == []

    async def test_cancel_of_a_running_run_is_asked_of_its_owner(self, tx, executor_uow, owner, unique_id) -> None:
        run_id = f"run-{unique_id}"
        await started_run(tx, owner, run_id)
        await tx(cancel_run, CancelRun(run_id=run_id, requested_by="alice"))
        run = await detail(executor_uow, run_id)
        assert run.status == RunStatus.RUNNING and run.cancel_requested  # the worker reports the end
        last = (await events(executor_uow, run_id)).events[-1]
        assert last.type == "RunControlRequested"
        assert last.event["action"] == "cancel" and last.event["owner"] == owner.instance

    async def test_pause_of_an_unknown_run_is_a_dead_letter(self, tx, unique_id) -> None:
        from praxis_servicekit.consumer import PermanentError

        with pytest.raises(PermanentError, match="no such run"):
            await tx(pause_run, PauseRun(run_id=f"ghost-{unique_id}"))


class TestWorkerReports:
    async def test_a_batch_is_journaled_with_gapless_seqs_and_finishes_the_run(
        self, tx, executor_uow, owner, unique_id
    ) -> None:
        run_id = f"run-{unique_id}"
        epoch = await started_run(tx, owner, run_id)
        batch = [call(1), call(2), call(3), FinishedReport(status="completed", outputs={"result": 42})]
        await tx(handle_reports, run_id, owner.instance, epoch, batch)
        run = await detail(executor_uow, run_id)
        assert run.status == RunStatus.COMPLETED and run.steps_total == 3 and run.outputs == {"result": 42}
        page = await events(executor_uow, run_id)
        assert [e.seq for e in page.events] == list(range(1, len(page.events) + 1))
        assert [e.event["step"] for e in page.events if e.type == "StepCompleted"] == [1, 2, 3]
        assert [s.seq for s in run.steps] == [e.seq for e in page.events if e.type == "StepCompleted"]

    async def test_a_step_reported_twice_is_journaled_once(self, tx, executor_uow, owner, unique_id) -> None:
        run_id = f"run-{unique_id}"
        epoch = await started_run(tx, owner, run_id)
        await tx(handle_reports, run_id, owner.instance, epoch, [call(1), call(2)])
        await tx(handle_reports, run_id, owner.instance, epoch, [call(2), call(3)])
        page = await events(executor_uow, run_id)
        assert [e.event["step"] for e in page.events if e.type == "StepCompleted"] == [1, 2, 3]

    async def test_a_replaced_worker_is_refused_and_writes_nothing(self, tx, executor_uow, owner, unique_id) -> None:
        run_id = f"run-{unique_id}"
        old = await started_run(tx, owner, run_id)
        plan = await tx(begin_worker, run_id, owner.instance, "the old one is presumed dead")
        assert plan is not None and plan.epoch == old + 1
        with pytest.raises(StaleWorker):
            await tx(handle_reports, run_id, owner.instance, old, [call(1), FinishedReport(status="completed")])
        run = await detail(executor_uow, run_id)
        assert run.status == RunStatus.RUNNING and run.steps_total == 0

    async def test_steps_are_paged(self, tx, executor_uow, owner, unique_id) -> None:
        run_id = f"run-{unique_id}"
        epoch = await started_run(tx, owner, run_id)
        await tx(handle_reports, run_id, owner.instance, epoch, [call(i) for i in range(1, 26)])
        page = await detail(executor_uow, run_id, steps_after=10, steps_limit=5)
        assert [s.step for s in page.steps] == [11, 12, 13, 14, 15] and page.steps_total == 25


class TestReplayInputsKeepTheirShape:
    """PyLabRobot's serialized objects depend on the order of object keys (a plate's ``ordering`` maps well
    identifiers to wells by position): what a replay reads back must be exactly what the first worker saw."""

    async def test_bench_descriptions_and_journal_arguments_keep_their_key_order(
        self, tx, executor_uow, owner, unique_id
    ) -> None:
        from praxis_contracts.hardware import BenchDescription
        from praxis_executor.handlers.ports import RunInputs
        from praxis_executor.handlers.workers import remember_inputs

        run_id = f"run-{unique_id}"
        epoch = await started_run(tx, owner, run_id)
        ordering = {f"{row}{col}": f"w_{row}{col}" for col in range(1, 13) for row in "ABCDEFGH"}  # A1, B1, ...
        description = BenchDescription(
            bench_id="b1", simulated=True, machines=[], serialized={"lh": {"ordering": ordering}}
        )
        await tx(remember_inputs, run_id, owner.instance, epoch, RunInputs(benches={"b1": description}))
        args = {"zeta": 1, "alpha": {"ordering": ordering}}
        report = CallReport(sequence=1, bench_id="b1", machine="lh", method="m", args=args, ok=True, result=args)
        await tx(handle_reports, run_id, owner.instance, epoch, [report])

        async def read(uow):
            from praxis_executor.adapters.repository import SqlRunRepository

            repo = SqlRunRepository(uow.inner)
            return await repo.inputs(run_id), await repo.journal(run_id)

        inputs, journal = await tx(read)
        assert inputs is not None
        assert list(inputs.benches["b1"].serialized["lh"]["ordering"]) == list(ordering)
        assert list(journal[0].args) == ["zeta", "alpha"]
        assert list(journal[0].args["alpha"]["ordering"]) == list(ordering)
        assert list(journal[0].result["alpha"]["ordering"]) == list(ordering)
