"""The run's single path to its machines: checkpoint, number, replay or send, journal, decode.

Order matters and is the contract with the executor: control is honoured *before* a call gets its sequence
number (a cancelled run leaves no gap in the journal); the sequence is the idempotency sequence of the
``MachineCall`` (so a retry reuses it); the journal entry is written before the protocol sees the result.

**Deterministic replay.** A worker that takes over a run starts the protocol from the top. Every call whose
sequence is in the journal is answered from it, without any bench seeing it, after checking that the protocol
asked for the same thing (bench, machine, method, arguments): a mismatch means the protocol is not deterministic
and the run parks at that step. The first call past the journal goes to its bench with the same idempotency key
the lost worker used, so a call that the old worker sent but never reported is answered from the bench's own
record; only a call no one has performed reaches the instrument.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from praxis_contracts.hardware import CallRefusal, MachineCall, MachineCallResult
from praxis_contracts.runs import ParkKind
from praxis_executor.domain.run import park_choices
from praxis_executor.worker.control import Control, RunParked, WorkerSuperseded
from praxis_executor.worker.journal import CallRecord, Journal
from praxis_executor.worker.protocol import JournalEntry, RecoveryPlan
from praxis_executor.worker.proxy import BenchUnreachable, CallTransport, call_error
from praxis_executor.worker.statediff import StateProbe, summarize
from praxis_plrbridge.codec import Resolver, decode, encode_kwargs

DeckLoader = Callable[[], Awaitable[None]]
MAX_DECK_RELOADS = 3


class CallDispatcher:
    def __init__(
        self,
        run_id: str,
        transport: CallTransport,
        control: Control,
        journal: Journal,
        *,
        epoch: int = 1,
        replay: Sequence[JournalEntry] = (),
        recovery: RecoveryPlan | None = None,
    ) -> None:
        self.run_id = run_id
        self.transport = transport
        self.control = control
        self.journal = journal
        self.epoch = epoch
        self.sequence = 0
        self._replay = {e.sequence: e for e in replay}
        self._recovery = recovery
        self._resolvers: dict[tuple[str, str], Resolver] = {}
        self._checked = True
        self._load_decks: DeckLoader | None = None
        self._decks_loaded = True
        self.replayed_from_journal = 0

    def defer_deck_loading(self, loader: DeckLoader) -> None:
        """Load the benches' run decks just before the first call that goes to a bench (a replay must first
        rebuild the deck as the journal left it), and again whenever a bench says it lost them."""
        self._load_decks, self._decks_loaded = loader, False

    def reload_decks_with(self, loader: DeckLoader) -> None:
        """The decks are loaded already; ``loader`` sends them again if a bench restarted and lost them."""
        self._load_decks, self._decks_loaded = loader, True

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
        recorded = self._replay.get(self.sequence + 1)
        if self._checked:
            await self.control.checkpoint(live=recorded is None)
        self.sequence += 1
        call = MachineCall(
            bench_id=bench_id,
            run_id=self.run_id,
            sequence=self.sequence,
            machine=machine,
            method=method,
            args=encode_kwargs(kwargs),
            epoch=self.epoch,
            correlation_id=self.run_id,
        )
        if recorded is not None:
            self.replayed_from_journal += 1
            return self._outcome(call, _check_same(recorded, call))
        probe = StateProbe(method, kwargs)
        started = time.perf_counter()
        result = await self._perform(call)
        await self._record(call, result, started, probe, kwargs)
        return self._outcome(call, result)

    # ------------------------------------------------------------------------------------------- sending

    async def _perform(self, call: MachineCall) -> MachineCallResult:
        plan = self._recovery
        if plan is not None and plan.step == call.sequence:
            if plan.choice == "happened":  # the operator says the instrument did it; there is no result to give
                return MachineCallResult(ok=True, result=None, replayed=True)
            call = call.model_copy(update={"perform_if_unknown": True})
        for _ in range(MAX_DECK_RELOADS):
            if not self._decks_loaded and self._load_decks is not None:
                await self._load_decks()
                self._decks_loaded = True
            try:
                result = await self.transport.call(call)
            except BenchUnreachable as exc:
                raise self._park(call, "bench_unreachable", f"bench {call.bench_id} did not answer: {exc}") from exc
            if result.error_type != CallRefusal.RUN_DECK_MISSING:
                return self._refused(call, result)
            self._decks_loaded = False
        raise self._park(call, "bench_unreachable", f"bench {call.bench_id} keeps losing the run's deck")

    def _refused(self, call: MachineCall, result: MachineCallResult) -> MachineCallResult:
        """A bench's refusal stops the run here (the call was not performed); anything else is an answer."""
        if result.ok or result.error_type not in set(CallRefusal):
            return result
        if result.error_type == CallRefusal.STALE_WORKER:
            raise WorkerSuperseded(result.error or "a newer worker drives this run")
        if result.error_type == CallRefusal.CONFLICT:
            raise self._park(call, "divergence", f"the bench performed this step differently before: {result.error}")
        if result.error_type == CallRefusal.OUTCOME_UNKNOWN:
            raise self._park(call, "unknown_outcome", result.error or "the bench does not know how this call ended")
        raise self._park(call, "bench_unreachable", f"bench {call.bench_id} refused the call: {result.error}")

    def _park(self, call: MachineCall, kind: ParkKind, why: str) -> RunParked:
        reason = f"step {call.sequence} ({call.machine}.{call.method} on {call.bench_id}): {why}"
        return RunParked(call.sequence, kind, reason, park_choices(kind))

    def _outcome(self, call: MachineCall, result: MachineCallResult) -> Any:
        if not result.ok:
            raise call_error(call, result)
        return decode(result.result, self._resolvers.get((call.bench_id, call.machine)))

    async def _record(
        self, call: MachineCall, result: MachineCallResult, started: float, probe: StateProbe, kwargs: dict[str, Any]
    ) -> None:
        summary = summarize(call.method, kwargs)
        plan = self._recovery
        if plan is not None and plan.step == call.sequence:
            summary = {**summary, "operator": plan.choice}
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
                summary=summary,
                state_diff=probe.diff(result.ok),
            )
        )


def _check_same(recorded: JournalEntry, call: MachineCall) -> MachineCallResult:
    """The journal's answer to ``call``, or a park naming the first difference (the protocol diverged)."""
    now = f"{call.machine}.{call.method} on {call.bench_id}"
    was = f"{recorded.machine}.{recorded.method} on {recorded.bench_id}"
    if now != was or recorded.args != call.args:
        difference = f"now calls {now}, the journal holds {was}" if now != was else f"calls {now} with other arguments"
        raise RunParked(
            call.sequence,
            "divergence",
            f"step {call.sequence}: replaying the run, the protocol {difference}; it is not deterministic",
            park_choices("divergence"),
        )
    return MachineCallResult(
        ok=recorded.ok, result=recorded.result, error_type=recorded.error_type, error=recorded.error, replayed=True
    )
