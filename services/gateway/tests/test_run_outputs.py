"""``GET /runs/{id}/outputs``: a run's outputs assembled from the executor's slices and streamed as JSON."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from praxis_contracts.executor import GetRunOutputs
from praxis_contracts.runs import RunStatus
from praxis_gateway.outputs import BYTES_PER_CHAR, REPLY_OVERHEAD_BYTES, OutputsBroken, slice_limit

pytestmark = pytest.mark.integration


def big_outputs(rows: int) -> str:
    """JSON with quotes and non-ASCII text, so slices cut through escapes and multi-byte characters."""
    return json.dumps({"wells": [{"id": f"A{i}", "od": i / 7, "note": 'µl "blank" ✓ 🧪'} for i in range(rows)]})


class TestOutputs:
    async def test_assembles_the_outputs_from_several_slices(
        self, make_client: Any, fake_runs: Any, unique_id: str
    ) -> None:
        client: httpx.AsyncClient = await make_client(outputs_slice_chars=1000)
        fake_runs.add(unique_id, RunStatus.COMPLETED, outputs_inline=False)
        fake_runs.outputs[unique_id] = text = big_outputs(100)

        response = await client.get(f"/api/v1/runs/{unique_id}/outputs")

        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.text == text
        offsets = [q.offset for q in fake_runs.fakes.queries(GetRunOutputs)]
        assert offsets == list(range(0, len(text), 1000))
        assert len(offsets) > 3

    async def test_outputs_larger_than_a_nats_message_arrive_whole(
        self, client: httpx.AsyncClient, fake_runs: Any, unique_id: str
    ) -> None:
        fake_runs.add(unique_id, RunStatus.COMPLETED, outputs_inline=False)
        fake_runs.outputs[unique_id] = text = big_outputs(40_000)
        assert len(text.encode()) > 2 * 1024 * 1024  # more than a NATS server takes by default (1 MiB)

        response = await client.get(f"/api/v1/runs/{unique_id}/outputs")

        assert response.status_code == 200
        assert response.json() == json.loads(text)
        assert len(fake_runs.fakes.queries(GetRunOutputs)) > 2

    async def test_small_outputs_are_one_slice(self, client: httpx.AsyncClient, fake_runs: Any, unique_id: str) -> None:
        fake_runs.outputs[unique_id] = '{"dilutions": [1, 0.5, 0.25]}'

        response = await client.get(f"/api/v1/runs/{unique_id}/outputs")

        assert response.json() == {"dilutions": [1, 0.5, 0.25]}
        assert len(fake_runs.fakes.queries(GetRunOutputs)) == 1

    async def test_an_unknown_run_is_404(self, client: httpx.AsyncClient, fake_runs: Any, unique_id: str) -> None:
        response = await client.get(f"/api/v1/runs/{unique_id}/outputs")

        assert response.status_code == 404
        assert response.json()["detail"] == f"no run {unique_id}"

    async def test_slices_that_do_not_add_up_break_the_response_off(
        self, make_client: Any, fake_runs: Any, unique_id: str
    ) -> None:
        client: httpx.AsyncClient = await make_client(outputs_slice_chars=100)
        fake_runs.outputs[unique_id] = big_outputs(10)
        fake_runs.broken_slices = True  # every slice after the first comes back empty

        with pytest.raises(OutputsBroken, match="empty outputs slice"):
            await client.get(f"/api/v1/runs/{unique_id}/outputs")


class TestSliceLimit:
    def test_a_slice_always_fits_the_servers_max_payload(self) -> None:
        assert slice_limit(1024 * 1024, 250_000) == 250_000
        assert slice_limit(64 * 1024, 250_000) == (64 * 1024 - REPLY_OVERHEAD_BYTES) // BYTES_PER_CHAR

    def test_never_zero(self) -> None:
        assert slice_limit(100, 250_000) == 1
