"""Runs: submit (validated, then a SubmitRun on JetStream), read (executor, else the scheduler's queue; paged
journal), control (404/409 before anything is sent) and an operator's recovery of a parked run."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from praxis_contracts.base import ErrorReply, utcnow
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
    RunSummary,
    StepCompleted,
)
from praxis_contracts.protocols import ProtocolDefinition
from praxis_contracts.runs import Parked, RunAction, RunStatus, refusal
from praxis_contracts.scheduler import GetQueue, QueueEntry, QueueReply, SubmitRun
from praxis_contracts.streams import EXECUTOR_CMD, SCHEDULER_CMD

pytestmark = pytest.mark.integration


@pytest.fixture
async def discovery(fakes: Any, definition: ProtocolDefinition) -> Any:
    await fakes.answer(
        GetProtocol,
        lambda q: (
            ProtocolReply(definition=definition)
            if q.protocol_id == definition.id
            else ErrorReply(code="not_found", detail=f"no protocol {q.protocol_id}")
        ),
    )
    return fakes


class TestSubmitRun:
    async def test_accepts_and_publishes_submit_run(
        self, client: httpx.AsyncClient, discovery: Any, streams: Any, definition: ProtocolDefinition
    ) -> None:
        mark = await streams.last_seq(SCHEDULER_CMD.name)

        response = await client.post(
            "/api/v1/runs",
            json={
                "protocol_id": definition.id,
                "parameters": {"volume_ul": 50},
                "priority": 3,
                "pins": {"lh": "bench-1/starlet"},
            },
        )

        assert response.status_code == 202, response.text
        body = response.json()
        assert body["status"] == "queued"
        [(command, headers)] = await streams.since(SCHEDULER_CMD.name, mark, SubmitRun.subject)
        assert isinstance(command, SubmitRun)
        assert command.run_id == body["id"] == command.correlation_id
        assert command.parameters == {"volume_ul": 50.0, "columns": 8}
        assert command.requirements == definition.assets
        assert (command.protocol_id, command.protocol_name) == (definition.id, definition.name)
        assert (command.source_hash, command.function) == (definition.source_hash, definition.function)
        assert command.estimated_duration_s == 90.0
        assert (command.priority, command.simulate, command.pins) == (3, True, {"lh": "bench-1/starlet"})
        assert command.submitted_by == "local"
        assert headers["Nats-Msg-Id"] == str(command.message_id)

    @pytest.mark.parametrize(
        ("parameters", "named"),
        [({"volume_ul": 500.0}, "volume_ul"), ({"columns": "eight"}, "columns"), ({"volum_ul": 5.0}, "volum_ul")],
    )
    async def test_invalid_parameter_is_422_naming_it_and_creates_no_run(
        self,
        client: httpx.AsyncClient,
        discovery: Any,
        streams: Any,
        definition: ProtocolDefinition,
        parameters: dict[str, Any],
        named: str,
    ) -> None:
        mark = await streams.last_seq(SCHEDULER_CMD.name)

        response = await client.post("/api/v1/runs", json={"protocol_id": definition.id, "parameters": parameters})

        assert response.status_code == 422
        assert response.json()["parameter"] == named
        assert named in response.json()["detail"]
        submitted = await streams.since(SCHEDULER_CMD.name, mark, SubmitRun.subject)
        assert [c for c, _ in submitted if c.protocol_id == definition.id] == []

    async def test_pin_for_an_unknown_asset_is_422(
        self, client: httpx.AsyncClient, discovery: Any, definition: ProtocolDefinition
    ) -> None:
        response = await client.post("/api/v1/runs", json={"protocol_id": definition.id, "pins": {"reader": "x"}})

        assert response.status_code == 422
        assert response.json()["parameter"] == "reader"

    async def test_unknown_protocol_is_404_and_creates_no_run(
        self, client: httpx.AsyncClient, discovery: Any, streams: Any, unique_id: str
    ) -> None:
        mark = await streams.last_seq(SCHEDULER_CMD.name)

        response = await client.post("/api/v1/runs", json={"protocol_id": f"missing-{unique_id}"})

        assert response.status_code == 404
        assert response.json()["detail"] == f"no protocol missing-{unique_id}"
        submitted = await streams.since(SCHEDULER_CMD.name, mark, SubmitRun.subject)
        assert [c for c, _ in submitted if c.protocol_id == f"missing-{unique_id}"] == []

    async def test_malformed_body_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/v1/runs", json={"parameters": {}})

        assert response.status_code == 422
        assert "detail" in response.json()


class TestReadRuns:
    async def test_reads_the_executor_detail(self, client: httpx.AsyncClient, fakes: Any, unique_id: str) -> None:
        step = StepCompleted(
            run_id=unique_id,
            seq=3,
            step=1,
            bench_id="bench-1",
            machine="lh",
            method="aspirate",
            args={"vols": [50.0]},
            duration_ms=12.5,
        )
        detail = RunDetail(
            id=unique_id, protocol_id="p", protocol_name="serial_dilution", status=RunStatus.RUNNING, steps=[step]
        )
        await fakes.answer(
            GetRun, lambda q: detail if q.run_id == unique_id else ErrorReply(code="not_found", detail="unknown run")
        )

        response = await client.get(f"/api/v1/runs/{unique_id}")

        assert response.status_code == 200
        body = response.json()
        assert (body["id"], body["status"], body["queue"]) == (unique_id, "running", None)
        assert body["steps"][0]["method"] == "aspirate"
        assert body["steps"][0]["args"] == {"vols": [50.0]}
        assert "message_id" not in body

    async def test_a_run_only_the_scheduler_knows_is_queued(
        self, client: httpx.AsyncClient, fakes: Any, unique_id: str
    ) -> None:
        await fakes.answer(GetRun, ErrorReply(code="not_found", detail="unknown run"))
        entry = QueueEntry(
            run_id=unique_id,
            protocol_name="serial_dilution",
            priority=0,
            position=2,
            status="waiting",
            submitted_at=utcnow(),
            why_waiting="bench-1 is busy",
        )
        await fakes.answer(GetQueue, QueueReply(entries=[entry]))

        response = await client.get(f"/api/v1/runs/{unique_id}")

        assert response.status_code == 200
        body = response.json()
        assert (body["id"], body["status"], body["protocol_name"]) == (unique_id, "queued", "serial_dilution")
        assert body["queue"]["position"] == 2
        assert body["queue"]["why_waiting"] == "bench-1 is busy"

    async def test_a_run_nobody_knows_is_404(self, client: httpx.AsyncClient, fakes: Any, unique_id: str) -> None:
        await fakes.answer(GetRun, ErrorReply(code="not_found", detail=f"no run {unique_id}"))
        await fakes.answer(GetQueue, QueueReply(entries=[]))

        response = await client.get(f"/api/v1/runs/{unique_id}")

        assert response.status_code == 404
        assert response.json()["detail"] == f"no run {unique_id}"

    async def test_lists_runs(self, client: httpx.AsyncClient, fakes: Any, unique_id: str) -> None:
        summary = RunSummary(id=unique_id, protocol_id="p", status=RunStatus.COMPLETED)
        await fakes.answer(ListRuns, RunList(runs=[summary]))

        response = await client.get("/api/v1/runs", params={"status": "completed", "limit": 5})

        assert response.status_code == 200
        assert [r["id"] for r in response.json()["runs"]] == [unique_id]
        [query] = fakes.queries(ListRuns)
        assert (query.status, query.limit) == (RunStatus.COMPLETED, 5)

    async def test_forwards_the_steps_page_and_shows_control_and_parking(
        self, client: httpx.AsyncClient, fake_runs: Any, unique_id: str
    ) -> None:
        parked = Parked(step=7, kind="unknown_outcome", reason="the bench went quiet", choices=["happened", "retry"])
        fake_runs.add(
            unique_id,
            RunStatus.NEEDS_OPERATOR,
            steps=9,
            parked=parked,
            owner="executor-a",
            pause_requested=True,
            cancel_requested=True,
            outputs_size=52_000_000,
            outputs_inline=False,
        )

        response = await client.get(f"/api/v1/runs/{unique_id}", params={"steps_after": 2, "steps_limit": 3})

        assert response.status_code == 200, response.text
        body = response.json()
        [query] = fake_runs.fakes.queries(GetRun)
        assert (query.steps_after, query.steps_limit) == (2, 3)
        assert [s["step"] for s in body["steps"]] == [3, 4, 5]
        assert body["steps_total"] == 9
        assert body["parked"] == parked.model_dump(mode="json")
        assert (body["owner"], body["pause_requested"], body["cancel_requested"]) == ("executor-a", True, True)
        assert (body["outputs_size"], body["outputs_inline"]) == (52_000_000, False)

    async def test_the_default_page_is_500_steps(
        self, client: httpx.AsyncClient, fake_runs: Any, unique_id: str
    ) -> None:
        fake_runs.add(unique_id, RunStatus.RUNNING)

        assert (await client.get(f"/api/v1/runs/{unique_id}")).status_code == 200

        [query] = fake_runs.fakes.queries(GetRun)
        assert (query.steps_after, query.steps_limit) == (0, 500)

    @pytest.mark.parametrize("params", [{"steps_limit": 1001}, {"steps_limit": -1}, {"steps_after": -1}])
    async def test_a_page_outside_the_bounds_is_422(
        self, client: httpx.AsyncClient, fake_runs: Any, unique_id: str, params: dict[str, int]
    ) -> None:
        fake_runs.add(unique_id, RunStatus.RUNNING)

        response = await client.get(f"/api/v1/runs/{unique_id}", params=params)

        assert response.status_code == 422
        assert fake_runs.fakes.queries(GetRun) == []


class TestReadSteps:
    async def test_pages_through_the_journal_until_next_after_is_null(
        self, client: httpx.AsyncClient, fake_runs: Any, unique_id: str
    ) -> None:
        fake_runs.add(unique_id, RunStatus.RUNNING, steps=7)
        pages = []
        after: int | None = 0
        while after is not None:
            response = await client.get(f"/api/v1/runs/{unique_id}/steps", params={"after": after, "limit": 3})
            assert response.status_code == 200, response.text
            pages.append(response.json())
            after = pages[-1]["next_after"]

        assert [[s["step"] for s in p["steps"]] for p in pages] == [[1, 2, 3], [4, 5, 6], [7]]
        assert [p["next_after"] for p in pages] == [3, 6, None]
        assert {(p["run_id"], p["steps_total"]) for p in pages} == {(unique_id, 7)}
        assert [(q.steps_after, q.steps_limit) for q in fake_runs.fakes.queries(GetRun)] == [(0, 3), (3, 3), (6, 3)]

    async def test_a_page_that_ends_the_journal_has_no_next(
        self, client: httpx.AsyncClient, fake_runs: Any, unique_id: str
    ) -> None:
        fake_runs.add(unique_id, RunStatus.COMPLETED, steps=4)

        body = (await client.get(f"/api/v1/runs/{unique_id}/steps", params={"limit": 4})).json()

        assert ([s["step"] for s in body["steps"]], body["next_after"]) == ([1, 2, 3, 4], None)

    async def test_a_queued_run_has_an_empty_journal(
        self, client: httpx.AsyncClient, fake_runs: Any, unique_id: str
    ) -> None:
        fake_runs.queue(unique_id)

        response = await client.get(f"/api/v1/runs/{unique_id}/steps")

        assert response.status_code == 200
        assert response.json() == {"run_id": unique_id, "steps": [], "steps_total": 0, "next_after": None}

    async def test_an_unknown_run_is_404(self, client: httpx.AsyncClient, fake_runs: Any, unique_id: str) -> None:
        response = await client.get(f"/api/v1/runs/{unique_id}/steps")

        assert response.status_code == 404
        assert response.json()["detail"] == f"no run {unique_id}"

    @pytest.mark.parametrize("params", [{"limit": 1001}, {"after": -1}])
    async def test_bounds_are_422(
        self, client: httpx.AsyncClient, fake_runs: Any, unique_id: str, params: dict[str, int]
    ) -> None:
        response = await client.get(f"/api/v1/runs/{unique_id}/steps", params=params)

        assert response.status_code == 422


async def published(streams: Any, mark: int) -> list[Any]:
    return [command for command, _ in await streams.since(EXECUTOR_CMD.name, mark)]


class TestControlRuns:
    async def test_cancel_publishes_cancel_run_in_the_users_name(
        self, client: httpx.AsyncClient, fake_runs: Any, streams: Any, unique_id: str
    ) -> None:
        fake_runs.add(unique_id, RunStatus.RUNNING)
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        response = await client.post(f"/api/v1/runs/{unique_id}/cancel", json={"reason": "wrong plate"})

        assert response.status_code == 202
        assert response.json() == {"id": unique_id, "requested": "cancel"}
        [command] = await published(streams, mark)
        assert isinstance(command, CancelRun)
        assert (command.run_id, command.reason, command.correlation_id) == (unique_id, "wrong plate", unique_id)
        assert command.requested_by == "local"

    async def test_cancel_without_body_names_the_user(
        self, client: httpx.AsyncClient, fake_runs: Any, streams: Any, unique_id: str
    ) -> None:
        fake_runs.add(unique_id, RunStatus.PAUSED)
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        response = await client.post(f"/api/v1/runs/{unique_id}/cancel")

        assert response.status_code == 202
        [command] = await published(streams, mark)
        assert command.reason == "cancelled by local"

    async def test_asks_only_for_the_status_not_the_journal(
        self, client: httpx.AsyncClient, fake_runs: Any, unique_id: str
    ) -> None:
        fake_runs.add(unique_id, RunStatus.RUNNING, steps=3)

        await client.post(f"/api/v1/runs/{unique_id}/pause")

        [query] = fake_runs.fakes.queries(GetRun)
        assert (query.run_id, query.steps_limit) == (unique_id, 0)

    async def test_pause_a_running_run_and_resume_a_paused_one(
        self, client: httpx.AsyncClient, fake_runs: Any, streams: Any, unique_id: str
    ) -> None:
        fake_runs.add(f"{unique_id}-a", RunStatus.RUNNING)
        fake_runs.add(f"{unique_id}-b", RunStatus.PAUSED)
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        paused = await client.post(f"/api/v1/runs/{unique_id}-a/pause")
        resumed = await client.post(f"/api/v1/runs/{unique_id}-b/resume")

        assert (paused.status_code, resumed.status_code) == (202, 202)
        assert resumed.json() == {"id": f"{unique_id}-b", "requested": "resume"}
        commands = await published(streams, mark)
        assert [(type(c), c.run_id, c.requested_by) for c in commands] == [
            (PauseRun, f"{unique_id}-a", "local"),
            (ResumeRun, f"{unique_id}-b", "local"),
        ]

    @pytest.mark.parametrize("action", ["cancel", "pause", "resume", "recover"])
    async def test_a_run_nobody_knows_is_404_and_nothing_is_sent(
        self, client: httpx.AsyncClient, fake_runs: Any, streams: Any, unique_id: str, action: str
    ) -> None:
        mark = await streams.last_seq(EXECUTOR_CMD.name)
        body = {"choice": "retry"} if action == "recover" else None

        response = await client.post(f"/api/v1/runs/{unique_id}/{action}", json=body)

        assert response.status_code == 404
        assert response.json() == {"detail": f"no run {unique_id}"}
        assert await published(streams, mark) == []

    async def test_a_queued_run_can_be_cancelled(
        self, client: httpx.AsyncClient, fake_runs: Any, streams: Any, unique_id: str
    ) -> None:
        fake_runs.queue(unique_id)
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        response = await client.post(f"/api/v1/runs/{unique_id}/cancel")

        assert response.status_code == 202
        assert [(type(c), c.run_id) for c in await published(streams, mark)] == [(CancelRun, unique_id)]

    @pytest.mark.parametrize("action", ["pause", "resume"])
    async def test_a_queued_run_cannot_be_paused_or_resumed(
        self, client: httpx.AsyncClient, fake_runs: Any, streams: Any, unique_id: str, action: RunAction
    ) -> None:
        fake_runs.queue(unique_id)
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        response = await client.post(f"/api/v1/runs/{unique_id}/{action}")

        assert response.status_code == 409
        assert response.json() == {"detail": refusal(RunStatus.QUEUED, action), "status": "queued"}
        assert await published(streams, mark) == []

    @pytest.mark.parametrize(
        ("status", "pause_requested", "action"),
        [
            (RunStatus.COMPLETED, False, "cancel"),
            (RunStatus.CANCELLED, False, "resume"),
            (RunStatus.FAILED, False, "pause"),
            (RunStatus.PAUSED, False, "pause"),
            (RunStatus.RUNNING, True, "pause"),
            (RunStatus.RUNNING, False, "resume"),
            (RunStatus.SCHEDULED, False, "pause"),
            (RunStatus.NEEDS_OPERATOR, False, "pause"),
            (RunStatus.NEEDS_OPERATOR, False, "resume"),
        ],
    )
    async def test_a_state_that_refuses_the_command_is_409_with_the_reason(
        self,
        client: httpx.AsyncClient,
        fake_runs: Any,
        streams: Any,
        unique_id: str,
        status: RunStatus,
        pause_requested: bool,
        action: RunAction,
    ) -> None:
        fake_runs.add(unique_id, status, pause_requested=pause_requested)
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        response = await client.post(f"/api/v1/runs/{unique_id}/{action}")

        assert response.status_code == 409
        reason = refusal(status, action, pause_requested=pause_requested)
        assert reason is not None
        assert response.json() == {"detail": reason, "status": status.value}
        assert await published(streams, mark) == []

    @pytest.mark.parametrize(
        ("status", "pause_requested", "action"),
        [
            (RunStatus.STARTING, False, "pause"),
            (RunStatus.RUNNING, True, "resume"),
            (RunStatus.NEEDS_OPERATOR, False, "cancel"),
            (RunStatus.SCHEDULED, False, "cancel"),
        ],
    )
    async def test_a_state_that_takes_the_command_is_202(
        self,
        client: httpx.AsyncClient,
        fake_runs: Any,
        unique_id: str,
        status: RunStatus,
        pause_requested: bool,
        action: RunAction,
    ) -> None:
        fake_runs.add(unique_id, status, pause_requested=pause_requested)

        response = await client.post(f"/api/v1/runs/{unique_id}/{action}")

        assert response.status_code == 202, response.text

    async def test_an_executor_that_cannot_answer_is_503_and_nothing_is_sent(
        self, client: httpx.AsyncClient, fakes: Any, streams: Any, unique_id: str
    ) -> None:
        await fakes.silence(GetRun.subject)
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        response = await client.post(f"/api/v1/runs/{unique_id}/cancel")

        assert response.status_code == 503
        assert await published(streams, mark) == []


PARKED = Parked(step=12, kind="unknown_outcome", reason="no reply from bench-1", choices=["happened", "abort"])


class TestRecoverRun:
    async def test_publishes_the_operators_choice(
        self, client: httpx.AsyncClient, fake_runs: Any, streams: Any, unique_id: str
    ) -> None:
        fake_runs.add(unique_id, RunStatus.NEEDS_OPERATOR, parked=PARKED)
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        response = await client.post(f"/api/v1/runs/{unique_id}/recover", json={"choice": "happened"})

        assert response.status_code == 202, response.text
        assert response.json() == {"id": unique_id, "requested": "recover", "choice": "happened"}
        [command] = await published(streams, mark)
        assert isinstance(command, RecoverRun)
        assert (command.run_id, command.choice, command.requested_by) == (unique_id, "happened", "local")
        assert command.correlation_id == unique_id

    async def test_a_choice_the_run_does_not_offer_is_422_naming_the_offered_ones(
        self, client: httpx.AsyncClient, fake_runs: Any, streams: Any, unique_id: str
    ) -> None:
        fake_runs.add(unique_id, RunStatus.NEEDS_OPERATOR, parked=PARKED)
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        response = await client.post(f"/api/v1/runs/{unique_id}/recover", json={"choice": "retry"})

        assert response.status_code == 422
        body = response.json()
        assert body["choices"] == ["happened", "abort"]
        assert "retry" in body["detail"] and "happened, abort" in body["detail"]
        assert await published(streams, mark) == []

    @pytest.mark.parametrize("body", [{"choice": "maybe"}, {}, {"choice": None}])
    async def test_an_invalid_choice_is_422(
        self, client: httpx.AsyncClient, fake_runs: Any, streams: Any, unique_id: str, body: dict[str, Any]
    ) -> None:
        fake_runs.add(unique_id, RunStatus.NEEDS_OPERATOR, parked=PARKED)
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        response = await client.post(f"/api/v1/runs/{unique_id}/recover", json=body)

        assert response.status_code == 422
        assert await published(streams, mark) == []

    @pytest.mark.parametrize("status", [RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.COMPLETED])
    async def test_a_run_that_does_not_need_an_operator_is_409_with_its_status(
        self, client: httpx.AsyncClient, fake_runs: Any, streams: Any, unique_id: str, status: RunStatus
    ) -> None:
        fake_runs.add(unique_id, status)
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        response = await client.post(f"/api/v1/runs/{unique_id}/recover", json={"choice": "abort"})

        assert response.status_code == 409
        assert response.json() == {"detail": refusal(status, "recover"), "status": status.value}
        assert await published(streams, mark) == []

    async def test_a_queued_run_is_409(self, client: httpx.AsyncClient, fake_runs: Any, unique_id: str) -> None:
        fake_runs.queue(unique_id)

        response = await client.post(f"/api/v1/runs/{unique_id}/recover", json={"choice": "abort"})

        assert response.status_code == 409
        assert response.json()["status"] == "queued"

    async def test_the_route_documents_who_may_recover(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()

        operation = spec["paths"]["/api/v1/runs/{run_id}/recover"]["post"]
        assert "operator or admin role" in operation["description"]
