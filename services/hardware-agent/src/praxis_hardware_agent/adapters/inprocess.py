"""Benches in the caller's process, reachable through the same four calls a worker makes over NATS.

For tests and local dry runs only: the executor's worker accepts any object with ``call``, ``describe``,
``load_run_deck`` and ``end_run`` (a structural protocol), so this module needs nothing from the executor.
Every message goes through a JSON round trip, as it would on the wire, so a payload that NATS could not carry
fails here too. Each bench keeps its call record in SQLite ``:memory:`` (the rules are the agent's: a run must
load its deck before its first call, a repeated key is answered from the record), and it ends with the process.
No scheduler places runs on these benches, so holdings are not enforced: any run id may act (the agent's
``serve`` enforces them, see :mod:`praxis_hardware_agent.adapters.holdings_feed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from praxis_contracts.base import Message
from praxis_contracts.hardware import Ack, BenchDescription, EndRun, LoadRunDeck, MachineCall, MachineCallResult
from praxis_hardware_agent.adapters.plr_runtime import BenchRuntime

M = TypeVar("M", bound=Message)


def _wire(msg: M) -> M:
    return type(msg).model_validate_json(msg.model_dump_json())


class InProcessBenchTransport:
    def __init__(self, runtimes: Mapping[str, BenchRuntime]) -> None:
        self.runtimes = dict(runtimes)

    @classmethod
    async def start(cls, config_paths: Iterable[str | Path]) -> InProcessBenchTransport:
        """Build and set up a runtime per bench config file."""
        runtimes = [BenchRuntime.from_file(p) for p in config_paths]
        for runtime in runtimes:
            await runtime.setup()
        return cls({r.bench_id: r for r in runtimes})

    async def close(self) -> None:
        for runtime in self.runtimes.values():
            await runtime.stop()

    def _runtime(self, bench_id: str) -> BenchRuntime:
        try:
            return self.runtimes[bench_id]
        except KeyError:
            raise LookupError(f"no bench {bench_id!r} in this process (have {sorted(self.runtimes)})") from None

    async def call(self, call: MachineCall) -> MachineCallResult:
        return _wire(await self._runtime(call.bench_id).perform(_wire(call)))

    async def describe(self, bench_id: str) -> BenchDescription:
        return _wire(self._runtime(bench_id).describe())

    async def load_run_deck(self, cmd: LoadRunDeck) -> Ack:
        return _wire(await self._runtime(cmd.bench_id).load_run_deck(_wire(cmd)))

    async def end_run(self, cmd: EndRun) -> Ack:
        await self._runtime(cmd.bench_id).end_run(cmd.run_id)
        return Ack(detail=f"run {cmd.run_id} ended", causation_id=str(cmd.message_id))
