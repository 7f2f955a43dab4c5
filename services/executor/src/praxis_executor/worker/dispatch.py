"""The run's single path to its machines: checkpoint, number, encode, send, journal, decode.

Order matters and is the contract with the executor: control is honoured *before* a call gets its sequence
number (a cancelled run leaves no gap in the journal); the sequence is the idempotency sequence of the
``MachineCall`` (so a transport retry reuses it); the journal entry is written before the protocol sees the
result or the error.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from praxis_contracts.hardware import MachineCall, MachineCallResult
from praxis_executor.worker.control import Control
from praxis_executor.worker.journal import CallRecord, Journal
from praxis_executor.worker.proxy import CallTransport, call_error
from praxis_executor.worker.statediff import StateProbe, summarize
from praxis_plrbridge.codec import Resolver, decode, encode_kwargs


class TransportFailed(RuntimeError):
    """The call never got an answer from its bench (agent down, timeouts exhausted): its outcome is unknown."""


class CallDispatcher:
    def __init__(self, run_id: str, transport: CallTransport, control: Control, journal: Journal) -> None:
        self.run_id = run_id
        self.transport = transport
        self.control = control
        self.journal = journal
        self.sequence = 0
        self._resolvers: dict[tuple[str, str], Resolver] = {}
        self._checked = True

    @contextlib.contextmanager
    def unchecked(self) -> Iterator[None]:
        """Calls made while the run winds down (frontends' ``stop()`` switching heaters and shakers off) go
        through even after a cancel: they leave the devices safe, and they are journaled like any other."""
        self._checked = False
        try:
            yield
        finally:
            self._checked = True

    def register(self, bench_id: str, machine: str, resolve: Resolver) -> None:
        """How to turn resource names in this machine's results back into local resources."""
        self._resolvers[(bench_id, machine)] = resolve

    async def dispatch(self, bench_id: str, machine: str, method: str, kwargs: dict[str, Any]) -> Any:
        if self._checked:
            await self.control.checkpoint()
        self.sequence += 1
        call = MachineCall(
            bench_id=bench_id,
            run_id=self.run_id,
            sequence=self.sequence,
            machine=machine,
            method=method,
            args=encode_kwargs(kwargs),
            correlation_id=self.run_id,
        )
        probe = StateProbe(method, kwargs)
        started = time.perf_counter()
        try:
            result = await self.transport.call(call)
        except Exception as exc:
            result = MachineCallResult(ok=False, error_type=type(exc).__name__, error=f"no answer from bench: {exc}")
            await self._record(call, result, started, probe, kwargs)
            raise TransportFailed(f"{machine}.{method} (call {call.sequence}): {exc}") from exc
        await self._record(call, result, started, probe, kwargs)
        if not result.ok:
            raise call_error(call, result)
        return decode(result.result, self._resolvers.get((bench_id, machine)))

    async def _record(
        self, call: MachineCall, result: MachineCallResult, started: float, probe: StateProbe, kwargs: dict[str, Any]
    ) -> None:
        await self.journal.record(
            CallRecord(
                sequence=call.sequence,
                bench_id=call.bench_id,
                machine=call.machine,
                method=call.method,
                args=call.args,
                ok=result.ok,
                result=result.result,
                error_type=result.error_type,
                error=result.error,
                duration_ms=(time.perf_counter() - started) * 1000,
                device_ms=result.duration_ms,
                replayed=result.replayed,
                summary=summarize(call.method, kwargs),
                state_diff=probe.diff(result.ok),
            )
        )
