"""The agent's NATS routes on a real nats-server, over a call record in a real file: a repeat is answered from
the record, also by a restarted agent; refusals travel as answers and are not counted as machine calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.aio.subscription import Subscription
from prometheus_client import REGISTRY

from praxis_contracts.hardware import Ack, CallRefusal, LoadRunDeck, MachineCall, MachineCallResult
from praxis_hardware_agent.adapters.plr_runtime import BenchRuntime
from praxis_hardware_agent.adapters.sqlite_calls import SqliteCallStore
from praxis_hardware_agent.entrypoints.bench_bus import BenchBus
from praxis_servicekit.queries import request, serve_queries

pytestmark = pytest.mark.integration

SIM_BENCH = Path(__file__).resolve().parents[4] / "deploy" / "benches" / "sim-bench.yaml"


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.drain()


@pytest.fixture
def bench_id(unique_id: str) -> str:
    return f"bus-bench-{unique_id}"


class Agents:
    """Agent processes of one bench on one state file: ``start`` stops the previous one (a restart). The
    reader's ``open`` is replaced by a counter of device actions shared by all of them."""

    def __init__(self, nc: Client, bench_id: str, state: Path) -> None:
        self.nc, self.bench_id, self.state = nc, bench_id, state
        self.invocations: list[dict[str, Any]] = []
        self.running: tuple[BenchRuntime, list[Subscription]] | None = None

    async def open_lid(self, **kwargs: Any) -> str:
        self.invocations.append(kwargs)
        return "opened"

    async def start(self) -> BenchRuntime:
        await self.stop()
        rt = BenchRuntime.from_file(SIM_BENCH, bench_id=self.bench_id, store=SqliteCallStore.open(self.state))
        rt.machines["reader"].backend.open = self.open_lid  # type: ignore[method-assign]
        await rt.setup()
        routes = BenchBus(rt, self.nc.jetstream(), self.bench_id, "test").routes()
        self.running = (rt, await serve_queries(self.nc, routes, service=self.bench_id))
        return rt

    async def stop(self) -> None:
        if self.running is not None:
            rt, subs = self.running
            for sub in subs:
                await sub.unsubscribe()
            await rt.stop()
            rt.store.close()
            self.running = None


@pytest.fixture
async def agents(nc: Client, bench_id: str, tmp_path: Path) -> AsyncIterator[Agents]:
    a = Agents(nc, bench_id, tmp_path / "state" / f"{bench_id}.sqlite3")
    yield a
    await a.stop()


def performed_calls(bench_id: str) -> float:
    labels = {"bench_id": bench_id, "machine": "reader", "method": "open", "outcome": "ok"}
    return REGISTRY.get_sample_value("praxis_machine_calls_total", labels) or 0.0


async def test_repeats_and_restarts_over_nats(nc: Client, bench_id: str, agents: Agents) -> None:
    await agents.start()
    call = MachineCall(bench_id=bench_id, run_id="run-bus", sequence=1, machine="reader", method="open")
    missing = await request(nc, call, MachineCallResult, timeout=10)
    assert missing.error_type == CallRefusal.RUN_DECK_MISSING.value and performed_calls(bench_id) == 0
    ack = await request(nc, LoadRunDeck(bench_id=bench_id, run_id="run-bus"), Ack, timeout=10)
    assert ack.ok, ack.detail
    first = await request(nc, call, MachineCallResult, timeout=10)
    again = await request(nc, call, MachineCallResult, timeout=10)
    assert first.ok and not first.replayed and again.replayed
    assert performed_calls(bench_id) == 1

    restarted = await agents.start()
    after_restart = await request(nc, call, MachineCallResult, timeout=10)
    assert after_restart.replayed and after_restart.result == first.result == "opened"
    assert len(agents.invocations) == 1
    (run,) = restarted.store.summary("run-bus")
    assert run.as_json() == {"performed": 1, "duplicated": [], "unknown": [], "max_sequence": 1}
