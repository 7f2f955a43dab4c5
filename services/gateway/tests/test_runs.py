"""Runs: submit (validated, then a SubmitRun on JetStream), read (executor, else the scheduler's queue), control."""

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
    ResumeRun,
    RunDetail,
    RunList,
    RunSummary,
    StepCompleted,
)
from praxis_contracts.protocols import ProtocolDefinition
from praxis_contracts.runs import RunStatus
from praxis_contracts.scheduler import GetQueue, QueueEntry, QueueReply, SubmitRun
from praxis_contracts.streams import EXECUTOR_CMD, SCHEDULER_CMD


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


class TestControlRuns:
    async def test_cancel_publishes_cancel_run(self, client: httpx.AsyncClient, streams: Any, unique_id: str) -> None:
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        response = await client.post(f"/api/v1/runs/{unique_id}/cancel", json={"reason": "wrong plate"})

        assert response.status_code == 202
        assert response.json() == {"id": unique_id, "requested": "cancel"}
        [(command, _)] = await streams.since(EXECUTOR_CMD.name, mark, CancelRun.subject)
        assert (command.run_id, command.reason, command.correlation_id) == (unique_id, "wrong plate", unique_id)

    async def test_cancel_without_body_names_the_user(
        self, client: httpx.AsyncClient, streams: Any, unique_id: str
    ) -> None:
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        response = await client.post(f"/api/v1/runs/{unique_id}/cancel")

        assert response.status_code == 202
        [(command, _)] = await streams.since(EXECUTOR_CMD.name, mark, CancelRun.subject)
        assert command.reason == "cancelled by local"

    async def test_pause_and_resume_publish_their_commands(
        self, client: httpx.AsyncClient, streams: Any, unique_id: str
    ) -> None:
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        paused = await client.post(f"/api/v1/runs/{unique_id}/pause")
        resumed = await client.post(f"/api/v1/runs/{unique_id}/resume")

        assert (paused.status_code, resumed.status_code) == (202, 202)
        published = [c for c, _ in await streams.since(EXECUTOR_CMD.name, mark)]
        assert [(type(c), c.run_id) for c in published] == [(PauseRun, unique_id), (ResumeRun, unique_id)]
