"""Issue 4 end to end: upload -> run -> watch, on the simulated bench, through the gateway only."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from praxis_contracts.hardware import Ack, LoadRunDeck, MachineCall, MachineCallResult
from praxis_contracts.registry import subject_of
from praxis_testkit.services import console_script
from praxis_testkit.waiting import wait_for_sync

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "protocols"
HERE = Path(__file__).parent / "protocols"


def upload(api: httpx.Client, path: Path) -> dict[str, Any]:
    response = api.post("/api/v1/protocols", files={"file": (path.name, path.read_bytes(), "text/x-python")})
    assert response.status_code == 201, response.text
    return response.json()


def submit(api: httpx.Client, protocol_id: str, parameters: dict[str, Any] | None = None) -> str:
    response = api.post(
        "/api/v1/runs", json={"protocol_id": protocol_id, "parameters": parameters or {}, "simulate": True}
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    return str(response.json()["id"])


def wait_status(api: httpx.Client, run_id: str, statuses: set[str], timeout: float = 60) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        r = api.get(f"/api/v1/runs/{run_id}")
        return r.json() if r.status_code == 200 and r.json()["status"] in statuses else None

    return wait_for_sync(done, timeout=timeout, message=f"run {run_id} never reached {statuses}")


def ws_events(base_url: str, run_id: str, after: int = 0) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        url = base_url.replace("http", "ws", 1) + f"/api/v1/runs/{run_id}/events" + (f"?after={after}" if after else "")
        events = []
        async with websockets.connect(url) as ws:
            async for frame in ws:
                event = json.loads(frame)
                events.append(event)
                if event["type"] == "RunFinished":
                    break
        return events

    return asyncio.run(asyncio.wait_for(collect(), timeout=60))


class TestSerialDilution:
    def test_completes_with_a_full_journal_and_the_implied_volumes(self, stack, api: httpx.Client) -> None:
        definition = upload(api, EXAMPLES / "serial_dilution.py")
        assert {a["name"] for a in definition["assets"]} >= {"lh", "plate", "tips"}
        run_id = submit(api, definition["id"])
        run = wait_status(api, run_id, {"completed", "failed", "cancelled", "rejected"})
        assert run["status"] == "completed", run
        methods = [s["method"] for s in run["steps"]]
        assert "aspirate" in methods and "dispense" in methods
        for step in run["steps"]:
            if step["method"] in ("aspirate", "dispense"):
                assert step["error"] is None
                assert step["args"], step
        assert [s["step"] for s in run["steps"]] == list(range(1, len(run["steps"]) + 1))
        plate = next(a["resource"] for a in run["assignment"]["assets"] if a["requirement"] == "plate")
        wells = run["outputs"]["well_volumes"][plate]
        # the docstring's arithmetic with the defaults (V=100, N=8): V in columns 1..7, 2V in column 8
        for row in "ABCDEFGH":
            assert [wells[f"{row}{c}"] for c in range(1, 9)] == [100.0] * 7 + [200.0], (row, wells)
            assert all(wells[f"{row}{c}"] == 0 for c in range(9, 13))
        transfers = [s for s in run["steps"] if s["method"] in ("aspirate", "dispense")]
        assert len(transfers) == 2 * (8 + 7)

    def test_websocket_replays_in_order_and_resumes_after_a_seq(self, stack, api: httpx.Client) -> None:
        definition = upload(api, EXAMPLES / "serial_dilution.py")
        run_id = submit(api, definition["id"])
        events = ws_events(stack.base_url, run_id)
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(1, len(seqs) + 1)), seqs
        assert events[-1]["type"] == "RunFinished"
        assert events[-1]["event"]["status"] == "completed"
        middle = len(events) // 2
        resumed = ws_events(stack.base_url, run_id, after=middle)
        assert [e["seq"] for e in resumed] == seqs[middle:]


class TestFailuresAndControl:
    def test_a_raising_protocol_fails_with_its_traceback(self, stack, api: httpx.Client) -> None:
        definition = upload(api, HERE / "raises.py")
        run = wait_status(api, submit(api, definition["id"]), {"completed", "failed", "cancelled", "rejected"})
        assert run["status"] == "failed"
        assert "calibration drift detected on purpose" in (run["traceback"] or "") + (run["error"] or "")

    def test_cancel_mid_run_releases_the_reservations(self, stack, api: httpx.Client) -> None:
        definition = upload(api, HERE / "long_mix.py")
        run_id = submit(api, definition["id"])
        wait_for_sync(lambda: len(api.get(f"/api/v1/runs/{run_id}").json().get("steps") or []) >= 3, timeout=60)
        assert api.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
        run = wait_status(api, run_id, {"cancelled", "completed", "failed"})
        assert run["status"] == "cancelled"
        assert len(run["steps"]) < 2 * 2000

        seen: list[object] = []

        lh = next(a["asset_id"] for a in run["assignment"]["assets"] if a["requirement"] == "lh")

        def released() -> bool:
            rows = api.get("/api/v1/reservations", params={"include_released": "true", "asset_id": lh}).json()
            seen[:] = [rows]
            mine = [r for r in rows["reservations"] if r["owner"] == run_id]
            return bool(mine) and all(r["released_at"] for r in mine)

        try:
            wait_for_sync(released, timeout=30)
        except TimeoutError:
            pytest.fail(f"the cancelled run's reservations were not released: {seen}")
        # and the same assets are bookable at once: a new run is scheduled and completes
        follow = wait_status(api, submit(api, definition["id"], {"cycles": 2}), {"completed", "failed", "cancelled"})
        assert follow["status"] == "completed"

    def test_invalid_parameters_are_refused_and_create_no_run(self, stack, api: httpx.Client) -> None:
        definition = upload(api, EXAMPLES / "serial_dilution.py")
        before = len(api.get("/api/v1/runs").json()["runs"])
        response = api.post(
            "/api/v1/runs",
            json={"protocol_id": definition["id"], "parameters": {"volume_ul": "lots"}, "simulate": True},
        )
        assert response.status_code == 422
        assert "volume_ul" in response.text
        assert len(api.get("/api/v1/runs").json()["runs"]) == before

    def test_a_syntax_error_is_rejected_with_line_and_reason(self, stack, api: httpx.Client) -> None:
        response = api.post(
            "/api/v1/protocols", files={"file": ("broken.py", b"async def f(:\n  pass\n", "text/x-python")}
        )
        assert response.status_code == 422
        assert "line 1" in response.text


class TestAgentIdempotency:
    """The agent performs a key once, for a run the scheduler really placed; a made-up run may not use the bench."""

    @staticmethod
    async def _ask(stack, *messages: LoadRunDeck | MachineCall) -> list[Ack | MachineCallResult]:
        nc = await stack.nats()
        try:
            replies: list[Ack | MachineCallResult] = []
            for message in messages:
                reply_type = Ack if isinstance(message, LoadRunDeck) else MachineCallResult
                msg = await nc.request(subject_of(message), message.model_dump_json().encode(), timeout=10)
                replies.append(reply_type.model_validate_json(msg.data))
            return replies
        finally:
            await nc.close()

    @staticmethod
    def _record(stack, run_id: str) -> dict[str, Any]:
        """The agent's own record (read by its `calls` command, no NATS)."""
        state_dir = stack.env.get("PRAXIS_AGENT_STATE_DIR", str(ROOT / ".devdata" / "agent"))
        done = subprocess.run(
            [
                str(console_script("praxis-hardware-agent")),
                "calls",
                "--json",
                "--run",
                run_id,
                "--state-dir",
                state_dir,
                "--bench-id",
                "sim-bench-1",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout)["runs"].get(run_id, {}))

    def test_a_made_up_run_is_refused(self, stack, unique_id: str) -> None:
        run_id = f"idem-{unique_id}"
        deck = LoadRunDeck(bench_id="sim-bench-1", run_id=run_id)
        call = MachineCall(bench_id="sim-bench-1", run_id=run_id, sequence=1, machine="reader", method="open")
        ack, result = asyncio.run(self._ask(stack, deck, call))
        assert not ack.ok and ack.error_type == "RunDoesNotHoldMachine", ack
        assert not result.ok and result.error_type == "RunDoesNotHoldMachine", result
        assert f"run {run_id} holds no reservation of sim-bench-1/reader" in (result.error or "")
        assert self._record(stack, run_id) == {}, "a refused call left a trace in the agent's record"

    def test_a_redelivered_command_is_performed_once(self, stack, api: httpx.Client) -> None:
        # a run the scheduler placed on the liquid handler, paused so that its own calls stand still
        run_id = submit(api, upload(api, HERE / "long_mix.py")["id"])
        wait_for_sync(lambda: len(api.get(f"/api/v1/runs/{run_id}").json().get("steps") or []) >= 1, timeout=60)
        assert api.post(f"/api/v1/runs/{run_id}/pause").status_code == 202
        wait_status(api, run_id, {"paused"})
        before = self._record(stack, run_id)
        # a key far past the run's own sequences; epoch 1 is the run's first worker (a lower one is stale)
        call = MachineCall(
            bench_id="sim-bench-1",
            run_id=run_id,
            sequence=1_000_000,
            machine="lh",
            method="request_tip_presence",
            epoch=1,
        )
        try:
            first, second = asyncio.run(self._ask(stack, call, call))
            after = self._record(stack, run_id)
        finally:
            api.post(f"/api/v1/runs/{run_id}/cancel")
        assert first.ok and not first.replayed, first
        assert second.replayed, "the second delivery touched the device again"
        assert second.result == first.result and second.ok == first.ok
        # and the agent's own record says the device acted once
        assert after["performed"] == before["performed"] + 1, (before, after)
        assert after["duplicated"] == [] and after["unknown"] == [] and after["max_sequence"] == 1_000_000
        assert wait_status(api, run_id, {"cancelled", "completed", "failed"})["status"] == "cancelled"


class TestPlacement:
    def test_a_run_no_bench_can_serve_is_rejected_with_a_reason(self, stack, api: httpx.Client) -> None:
        definition = upload(api, HERE / "needs_heater.py")
        assert definition["assets"][0]["capabilities"] == ["temperature_control"]
        run = wait_status(api, submit(api, definition["id"]), {"rejected", "completed", "failed"})
        assert run["status"] == "rejected"
        reason = (run["reason"] or run["error"] or "").lower()
        assert "heat" in reason or "heater" in reason, reason


class TestPauseResume:
    def test_pause_stops_between_calls_and_resume_goes_on(self, stack, api: httpx.Client) -> None:
        definition = upload(api, HERE / "long_mix.py")
        run_id = submit(api, definition["id"])

        def steps() -> int:
            return len(api.get(f"/api/v1/runs/{run_id}").json().get("steps") or [])

        wait_for_sync(lambda: steps() >= 3, timeout=60)
        assert api.post(f"/api/v1/runs/{run_id}/pause").status_code == 202
        wait_status(api, run_id, {"paused"})
        paused_at = steps()
        assert api.post(f"/api/v1/runs/{run_id}/resume").status_code == 202
        wait_for_sync(lambda: steps() > paused_at, timeout=60, message="the run did not go on after resume")
        assert api.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
        assert wait_status(api, run_id, {"cancelled", "completed", "failed"})["status"] == "cancelled"
