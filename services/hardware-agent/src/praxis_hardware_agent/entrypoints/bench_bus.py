"""The agent's NATS face: per-bench request/reply subjects, announcements and heartbeats.

The agent has no database server: what it performed is in its local call record (a SQLite file), durable facts
leave as JetStream events (published with ``Nats-Msg-Id`` so a retried publish is not a second fact), and machine
calls are answered by request/reply on subjects that name the bench.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Protocol

from nats.js import JetStreamContext

from praxis_contracts.base import Event, Reply
from praxis_contracts.hardware import (
    Ack,
    BenchAnnounced,
    BenchDescription,
    BenchHeartbeat,
    BenchOffline,
    DescribeBench,
    EndRun,
    LoadRunDeck,
    MachineCall,
    MachineCallResult,
    MachineInfo,
)
from praxis_contracts.registry import subject_of
from praxis_hardware_agent.domain.call_record import is_refusal
from praxis_servicekit import metrics
from praxis_servicekit.queries import QueryRoute

log = logging.getLogger(__name__)


class Bench(Protocol):
    """What the bus needs of a bench (``BenchRuntime``)."""

    async def perform(self, call: MachineCall) -> MachineCallResult: ...
    async def load_run_deck(self, cmd: LoadRunDeck) -> Ack: ...
    async def end_run(self, run_id: str) -> None: ...
    def describe(self) -> BenchDescription: ...
    def machine_infos(self) -> list[MachineInfo]: ...
    def machine_status(self) -> dict[str, str]: ...


class BenchBus:
    def __init__(self, runtime: Bench, js: JetStreamContext, bench_id: str, version: str) -> None:
        self.runtime = runtime
        self.js = js
        self.bench_id = bench_id
        self.version = version
        self.sequence = 0

    def routes(self) -> list[QueryRoute]:
        b = self.bench_id
        return [
            QueryRoute(MachineCall, self.machine_call, subject_of(MachineCall, bench_id=b)),
            QueryRoute(LoadRunDeck, self.load_run_deck, subject_of(LoadRunDeck, bench_id=b)),
            QueryRoute(EndRun, self.end_run, subject_of(EndRun, bench_id=b)),
            QueryRoute(DescribeBench, self.describe, subject_of(DescribeBench, bench_id=b)),
        ]

    async def machine_call(self, call: MachineCall) -> Reply:
        result = await self.runtime.perform(call)
        if not result.replayed and not is_refusal(result):  # refusals have their own counter
            outcome = "ok" if result.ok else (result.error_type or "error")
            metrics.MACHINE_CALLS.labels(self.bench_id, call.machine, call.method, outcome).inc()
            metrics.MACHINE_CALL_SECONDS.labels(self.bench_id, call.machine, call.method).observe(
                result.duration_ms / 1000
            )
        return result

    async def load_run_deck(self, cmd: LoadRunDeck) -> Reply:
        return await self.runtime.load_run_deck(cmd)

    async def end_run(self, cmd: EndRun) -> Reply:
        await self.runtime.end_run(cmd.run_id)
        return Ack(detail=f"run {cmd.run_id} ended")

    async def describe(self, _: DescribeBench) -> Reply:
        return self.runtime.describe()

    async def publish(self, event: Event) -> None:
        for attempt in range(5):
            try:
                await self.js.publish(
                    subject_of(event), event.model_dump_json().encode(), headers={"Nats-Msg-Id": str(event.message_id)}
                )
                return
            except Exception as exc:  # JetStream briefly unavailable: the msg id makes the retry safe
                log.warning("publish of %s failed (attempt %d): %r", type(event).__name__, attempt + 1, exc)
                await asyncio.sleep(0.2 * (attempt + 1))
        log.error("gave up publishing %s", type(event).__name__)

    async def announce(self) -> None:
        machines = self.runtime.machine_infos()
        await self.publish(
            BenchAnnounced(
                bench_id=self.bench_id,
                simulated=all(m.simulated for m in machines),
                machines=machines,
                agent_version=self.version,
                host=socket.gethostname(),
            )
        )

    async def heartbeat(self, interval_s: float) -> None:
        self.sequence += 1
        await self.publish(
            BenchHeartbeat(
                bench_id=self.bench_id,
                sequence=self.sequence,
                interval_s=interval_s,
                machine_status=self.runtime.machine_status(),
            )
        )

    async def offline(self, reason: str) -> None:
        await self.publish(BenchOffline(bench_id=self.bench_id, reason=reason))
