"""The bench's live PyLabRobot machines, and how a ``MachineCall`` is performed on them at most once.

``perform`` never raises for a bad call: every failure (refused, undecodable, the device raised) becomes
``ok=False`` with the error's type and message, because the worker is waiting for an answer and a NATS handler
that raises gives it only a timeout. With a :class:`~praxis_hardware_agent.domain.holdings.HoldingsCheck` (the
agent's ``serve``), only a run that holds a machine may load a deck for it or act on it. What the agent did with
every idempotency key is kept in a durable call record
(:class:`~praxis_hardware_agent.domain.call_record.CallStore`), written before the reply; see
:meth:`BenchRuntime.perform` for the guarantees.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.liquid_handling.backends.backend import LiquidHandlerBackend
from pylabrobot.machines.machine import Machine
from pylabrobot.resources import Deck

from praxis_contracts.hardware import (
    Ack,
    BenchDescription,
    CallRefusal,
    LoadRunDeck,
    MachineCall,
    MachineCallResult,
    MachineInfo,
)
from praxis_hardware_agent.adapters.mirror import MachineMirror, live_mirror, mirror_from_serialized
from praxis_hardware_agent.adapters.quiet import stdout_to_log
from praxis_hardware_agent.adapters.sqlite_calls import SqliteCallStore
from praxis_hardware_agent.domain.call_record import (
    CallState,
    CallStore,
    StoredCall,
    call_digest,
    conflict,
    judge,
    refusal,
    stale_worker,
)
from praxis_hardware_agent.domain.errors import MachineCallRefused, MethodNotAllowed, UnknownMachine
from praxis_hardware_agent.domain.holdings import HoldingsCheck
from praxis_hardware_agent.metrics import CALL_REFUSALS
from praxis_plrbridge.bench_config import (
    BenchConfig,
    BenchConfigError,
    ConfigIssue,
    build_bench,
    load_bench_config,
    parse_bench_config,
)
from praxis_plrbridge.codec import decode_kwargs, encode
from praxis_plrbridge.interface import LIFECYCLE, backend_properties
from praxis_plrbridge.inventory import describe_machine, is_simulated
from praxis_plrbridge.state import PRAXIS_KEY, capture_state, plr_json

log = logging.getLogger(__name__)

Mirrors = dict[str, MachineMirror]


class BenchRuntime:
    """One bench: its machines built from the config, per-run mirrors, and machine calls performed at most once.

    ``holdings`` None means every run may act (benches inside a test process, which no scheduler places runs
    on); the agent's ``serve`` passes its live view of the scheduler's reservations.
    """

    def __init__(
        self,
        config: BenchConfig,
        *,
        store: CallStore | None = None,
        machines: Mapping[str, Machine] | None = None,
        max_runs: int = 32,
        inflight_wait_s: float = 4.0,
        memory_capacity: int = 10_000,
        holdings: HoldingsCheck | None = None,
    ) -> None:
        self.config = config
        self.holdings = holdings
        self.machines: dict[str, Machine] = dict(machines) if machines is not None else build_bench(config)
        self.simulated = simulated_machines(config, self.machines)
        self.status: dict[str, str] = {name: "offline" for name in self.machines}
        self.errors: dict[str, str] = {}
        self._store: CallStore = store if store is not None else SqliteCallStore.open(":memory:")
        self._inflight: dict[str, tuple[StoredCall, asyncio.Future[MachineCallResult]]] = {}
        self._done: OrderedDict[str, StoredCall] = OrderedDict()  # recent results: repeats skip the file
        self._epochs: OrderedDict[str, int] = OrderedDict()  # highest epoch per run, mirrored from the file
        self._locks = {name: asyncio.Lock() for name in self.machines}
        self._infos: dict[str, MachineInfo] = {}
        self._runs: OrderedDict[str, Mirrors] = OrderedDict()
        self.max_runs, self.inflight_wait_s, self.memory_capacity = max_runs, inflight_wait_s, memory_capacity
        self._stopped = False

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        bench_id: str | None = None,
        store: CallStore | None = None,
        inflight_wait_s: float = 4.0,
        holdings: HoldingsCheck | None = None,
    ) -> BenchRuntime:
        """Build from a bench YAML; ``bench_id`` (the agent's setting) overrides the file's."""
        config = load_bench_config(path)
        if bench_id and bench_id != config.bench_id:
            config = parse_bench_config({**config.model_dump(), "bench_id": bench_id}, str(path))
        return cls(config, store=store, inflight_wait_s=inflight_wait_s, holdings=holdings)

    @property
    def bench_id(self) -> str:
        return self.config.bench_id

    @property
    def store(self) -> CallStore:
        return self._store

    # ------------------------------------------------------------------------------------------ lifecycle

    async def setup(self) -> None:
        """Set every machine up; one that fails is marked ``error`` (with the reason) and the rest still run."""
        self._infos.clear()  # some backends learn their capabilities (channels, 96 head) at setup
        self._stopped = False
        for name, machine in self.machines.items():
            try:
                with stdout_to_log():
                    await machine.setup()
            except Exception as exc:
                self.status[name], self.errors[name] = "error", f"{type(exc).__name__}: {exc}"
                log.exception("bench %s: machine %s failed to set up", self.bench_id, name)
            else:
                self.status[name] = "idle"
                self.errors.pop(name, None)

    async def stop(self) -> None:
        """Stop every machine that is set up; a failure to stop one does not keep the others running. Calls that
        arrive afterwards (the agent is shutting down) are refused ``InProgress``: ask again, the next agent
        process answers."""
        self._stopped = True
        for name, machine in self.machines.items():
            if not machine.setup_finished:
                continue
            try:
                with stdout_to_log():
                    await machine.stop()
            except Exception:
                log.exception("bench %s: machine %s failed to stop", self.bench_id, name)
            self.status[name] = "offline"

    def sweep(self, ttl_s: float) -> int:
        """Forget records older than ``ttl_s`` (periodically, never on the path of a call)."""
        removed = self._store.sweep(time.time() - ttl_s)
        if removed:
            log.info("bench %s: swept %d expired call records", self.bench_id, removed)
        return removed

    # ------------------------------------------------------------------------------------------ describe

    def machine_status(self) -> dict[str, str]:
        """Cheap, for heartbeats: ``idle`` / ``busy`` / ``error`` / ``offline`` per machine."""
        return {
            name: "busy" if self._locks[name].locked() and status == "idle" else status
            for name, status in self.status.items()
        }

    def machine_infos(self) -> list[MachineInfo]:
        """Inventory for ``BenchAnnounced``: computed once per setup (the bench's own labware does not change
        during runs, which work on mirrors), with the current status."""
        status = self.machine_status()
        for cfg in self.config.machines:
            if cfg.name not in self._infos:
                info = describe_machine(cfg, self.machines[cfg.name])
                self._infos[cfg.name] = info.model_copy(update={"simulated": self.simulated[cfg.name]})
        return [self._infos[c.name].model_copy(update={"status": status[c.name]}) for c in self.config.machines]

    def describe(self) -> BenchDescription:
        """Machines, their PLR ``serialize()`` JSON, and (under ``PRAXIS_KEY``) tracker state and backend
        properties. Costs tens of milliseconds and ~0.5 MiB for a STARlet: answer DescribeBench with it, but
        announce and heartbeat with :meth:`machine_infos` / :meth:`machine_status`."""
        machines = self.machine_infos()
        serialized: dict[str, dict[str, Any]] = {n: plr_json(m.serialize()) for n, m in self.machines.items()}
        state = {n: capture_state(mirror.root) for n, mirror in self._live_mirrors().items() if mirror.root}
        props = {n: backend_properties(m) for n, m in self.machines.items()}
        serialized[PRAXIS_KEY] = {"state": state, "backend": props}
        return BenchDescription(
            bench_id=self.bench_id,
            simulated=self.config.simulated,
            machines=machines,
            serialized=serialized,
            unreachable_timeout_s=self.config.unreachable_timeout_s,
        )

    def _live_mirrors(self) -> dict[str, MachineMirror]:
        return {name: live_mirror(name, m) for name, m in self.machines.items()}

    # ------------------------------------------------------------------------------------------ runs

    async def load_run_deck(self, cmd: LoadRunDeck) -> Ack:
        """Mirror the worker's deck for ``cmd.run_id``; replaces an earlier load of the same run. A run that does
        not hold every machine of the deck (none named: anything on this bench) is refused ``NOT_HELD`` before
        anything of it is remembered; a worker of an older epoch than one seen for the run is refused (it was
        replaced and must not steer the bench)."""
        reply = {"causation_id": str(cmd.message_id)}
        try:
            self._check_bench(cmd.bench_id)
            not_held = await self._not_held(cmd.run_id, list(cmd.machines))
            if not_held is not None:
                CALL_REFUSALS.labels(self.bench_id, CallRefusal.NOT_HELD.value).inc()
                log.info("bench %s: refused LoadRunDeck: %s", self.bench_id, not_held)
                return Ack(ok=False, detail=not_held, error_type=CallRefusal.NOT_HELD, **reply)
            stale = self._fence(cmd.run_id, cmd.epoch)
            if stale is not None:
                log.info("bench %s: refused LoadRunDeck: %s", self.bench_id, stale)
                return Ack(ok=False, detail=f"stale worker: {stale}", error_type=CallRefusal.STALE_WORKER, **reply)
            mirrors = {
                name: mirror_from_serialized(name, self._machine(name), data) for name, data in cmd.machines.items()
            }
        except Exception as exc:
            return Ack(ok=False, detail=f"{type(exc).__name__}: {exc}", **reply)
        self._runs[cmd.run_id] = mirrors
        self._runs.move_to_end(cmd.run_id)
        while len(self._runs) > self.max_runs:  # a worker that died without EndRun must not leak its mirror
            self._runs.popitem(last=False)
        return Ack(detail=f"mirrored {sorted(mirrors)} for run {cmd.run_id}", **reply)

    async def end_run(self, run_id: str) -> None:
        """Forget the run's mirrors (its call record stays until it expires)."""
        self._runs.pop(run_id, None)

    def run_ids(self) -> list[str]:
        return sorted(self._runs)

    # ------------------------------------------------------------------------------------------ calls

    async def perform(self, call: MachineCall) -> MachineCallResult:
        """Perform ``call`` on its machine at most once per idempotency key, or say why not.

        In order: a new key (not done in the record, not running) of a run that does not hold ``call.machine``
        is refused ``NOT_HELD`` (a done key is still answered from the record after the run's release: the
        device does not act again). A worker older (``epoch``) than one seen for the run is refused
        ``StaleWorker``. A key already recorded as done is answered from the record (``replayed=True``) if it is
        the same action (machine, method, args), else refused ``IdempotencyConflict``. A key that is still
        running in this process is waited for (``inflight_wait_s``), then answered with its result or refused
        ``InProgress``. A key an earlier agent process *started* on a real instrument and never finished is
        refused ``OutcomeUnknown`` unless ``perform_if_unknown``. A run without a deck loaded in this process is
        refused ``RunDeckMissing``. Refusals are not recorded and nothing acted.

        Otherwise it is performed: for a real machine the intent is recorded durably *before* the backend is
        invoked (a crash during the action leaves the key ``started``: unknown, never silently repeated); then
        the result and one ``performed`` row are recorded in one transaction *before* the reply. A simulated
        machine records no intent: its effect lives only in this process, so a crash mid-call undoes it too, and
        performing the key again after a restart is the correct recovery, not a repeat.
        """
        try:
            self._check_bench(call.bench_id)
        except MachineCallRefused as exc:  # misrouted: not this bench's key, so nothing of it is recorded
            return self._failure(call, exc)
        if self._stopped:
            return self._refuse(call, CallRefusal.IN_PROGRESS, f"bench {self.bench_id}'s agent is stopping; ask again")
        if not self._answered_by_record(call):
            not_held = await self._not_held(call.run_id, [call.machine])
            if not_held is not None:  # checked before the fence, so a forged run leaves no trace in the record
                return self._refuse(call, CallRefusal.NOT_HELD, not_held)
        stale = self._fence(call.run_id, call.epoch)
        if stale is not None:
            return self._refuse(call, CallRefusal.STALE_WORKER, stale)
        digest = call_digest(call.machine, call.method, call.args)
        inflight = self._inflight.get(call.idempotency_key)
        if inflight is not None:
            return await self._join(call, digest, *inflight)
        known = self._known(call.idempotency_key)
        if known is not None:
            decision = judge(known, call, digest, simulated=self.simulated.get(call.machine, False))
            if decision.action == "replay" and known.result is not None:
                return known.result.model_copy(update={"replayed": True})
            if decision.refusal is not None:
                return self._refuse(call, decision.refusal, decision.reason)
            log.warning("bench %s: performing %s again: %s", self.bench_id, call.idempotency_key, decision.reason)
        mirrors = self._runs.get(call.run_id)
        if mirrors is None:
            return self._refuse(
                call,
                CallRefusal.RUN_DECK_MISSING,
                f"this agent holds no deck for run {call.run_id} "
                "(it restarted, or the run ended): send LoadRunDeck, then the same call again",
            )
        return await self._perform_once(call, StoredCall.intent(call, digest, time.time()), mirrors)

    def _answered_by_record(self, call: MachineCall) -> bool:
        """Is ``call``'s key running or done here? Then the answer comes from the record, not from the device."""
        if call.idempotency_key in self._inflight:
            return True
        known = self._known(call.idempotency_key)
        return known is not None and known.state is CallState.DONE

    async def _not_held(self, run_id: str, machines: list[str]) -> str | None:
        return None if self.holdings is None else await self.holdings.refusal(run_id, machines)

    def _fence(self, run_id: str, epoch: int) -> str | None:
        """Check ``epoch`` against the run's highest; raise (durably) the highest when this one is newer."""
        known = self._epochs.get(run_id)
        if known is None or epoch > known:
            known = self._store.observe_run(run_id, epoch)
            self._epochs[run_id] = known
            while len(self._epochs) > self.memory_capacity:
                self._epochs.popitem(last=False)
        self._epochs.move_to_end(run_id)
        return stale_worker(run_id, epoch, known)

    def _known(self, key: str) -> StoredCall | None:
        found = self._done.get(key)
        if found is not None:
            self._done.move_to_end(key)
            return found
        return self._store.get(key)

    def _remember(self, done: StoredCall) -> None:
        self._done[done.key] = done
        while len(self._done) > self.memory_capacity:
            self._done.popitem(last=False)

    async def _join(
        self, call: MachineCall, digest: str, first: StoredCall, future: asyncio.Future[MachineCallResult]
    ) -> MachineCallResult:
        """A repeat while the first attempt runs (the worker timed out and re-sent): share its answer."""
        diverged = conflict(first, call, digest)
        if diverged is not None:
            return self._refuse(call, CallRefusal.CONFLICT, diverged)
        await asyncio.wait({future}, timeout=self.inflight_wait_s)
        if not future.done() or future.cancelled():
            return self._refuse(
                call,
                CallRefusal.IN_PROGRESS,
                f"{first.machine}.{first.method} (key {first.key}) is still running on the instrument; ask again",
            )
        return future.result().model_copy(update={"replayed": True})

    async def _perform_once(self, call: MachineCall, intent: StoredCall, mirrors: Mirrors) -> MachineCallResult:
        future: asyncio.Future[MachineCallResult] = asyncio.get_running_loop().create_future()
        self._inflight[intent.key] = (intent, future)
        try:
            result, invoked = await self._execute(call, intent, mirrors)
            self._record(intent.done(result), invoked)
        except BaseException:  # cancelled mid-call (agent shutting down): waiting repeats answer InProgress
            future.cancel()
            raise
        finally:
            del self._inflight[intent.key]
        future.set_result(result)
        return result

    def _record(self, done: StoredCall, invoked: bool) -> None:
        """Record the result before the reply. If the file cannot be written the answer still goes back (the
        device has acted); repeats in this process are answered from memory, and a real machine's key stays
        ``started`` in the file, so after a restart it is OutcomeUnknown, never performed blindly."""
        self._remember(done)
        try:
            self._store.finish(done, performed=invoked)
        except Exception:
            log.exception("bench %s: could not record the result of %s", self.bench_id, done.key)

    async def _execute(self, call: MachineCall, intent: StoredCall, mirrors: Mirrors) -> tuple[MachineCallResult, bool]:
        """Invoke the backend; returns the result and whether the backend method was invoked at all."""
        started, invoked = time.perf_counter(), False
        try:
            machine = self._machine(call.machine)
            method = self._method(call.machine, machine, call.method)
            async with self._locks[call.machine]:
                mirror = mirrors.get(call.machine) or live_mirror(call.machine, machine)
                args = decode_kwargs(call.args, mirror.resolve)
                if not self.simulated[call.machine]:
                    self._store.start(intent)  # durable before the instrument moves
                started, invoked = time.perf_counter(), True
                with _deck_of_run(machine, mirror.deck), stdout_to_log():
                    value = await method(**args)
                duration = (time.perf_counter() - started) * 1000
        except Exception as exc:
            return self._failure(call, exc, started), invoked
        log.debug("call %s %s.%s ok in %.1f ms", call.idempotency_key, call.machine, call.method, duration)
        reply = _reply_ids(call)
        return MachineCallResult(ok=True, result=encode(value, lenient=True), duration_ms=duration, **reply), invoked

    def _failure(self, call: MachineCall, exc: Exception, started: float | None = None) -> MachineCallResult:
        duration = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        level = logging.INFO if isinstance(exc, MachineCallRefused) else logging.WARNING
        log.log(
            level,
            "call %s %s.%s failed: %s: %s",
            call.idempotency_key,
            call.machine,
            call.method,
            type(exc).__name__,
            exc,
        )
        return MachineCallResult(
            ok=False, error_type=type(exc).__name__, error=str(exc), duration_ms=duration, **_reply_ids(call)
        )

    def _refuse(self, call: MachineCall, reason: CallRefusal, message: str) -> MachineCallResult:
        CALL_REFUSALS.labels(self.bench_id, reason.value).inc()
        log.info(
            "call %s %s.%s refused: %s: %s", call.idempotency_key, call.machine, call.method, reason.value, message
        )
        return refusal(call, reason, message)

    def _check_bench(self, bench_id: str) -> None:
        if bench_id != self.bench_id:
            raise MachineCallRefused(f"this agent runs bench {self.bench_id!r}, not {bench_id!r}")

    def _machine(self, name: str) -> Machine:
        machine = self.machines.get(name)
        if machine is None:
            raise UnknownMachine(f"bench {self.bench_id!r} has no machine {name!r} (it has {sorted(self.machines)})")
        if self.status[name] == "error":
            raise MachineCallRefused(f"machine {name!r} failed to set up: {self.errors.get(name, '')}")
        return machine

    def _method(self, name: str, machine: Machine, method: str) -> Callable[..., Awaitable[Any]]:
        """Only public coroutine methods of the backend; setup/stop belong to the agent, not to a run."""
        backend_name = type(machine.backend).__name__
        if method.startswith("_"):
            raise MethodNotAllowed(f"{method!r} is private; only public methods of {backend_name} can be called")
        if method in LIFECYCLE:
            raise MethodNotAllowed(f"{method!r} is managed by the bench agent; a run cannot call it on {name!r}")
        fn = getattr(machine.backend, method, None)
        if fn is None:
            raise MethodNotAllowed(f"{backend_name} (machine {name!r}) has no method {method!r}")
        if not inspect.iscoroutinefunction(fn):
            raise MethodNotAllowed(f"{backend_name}.{method} is not an async backend method")
        bound: Callable[..., Awaitable[Any]] = fn
        return bound


@contextlib.contextmanager
def _deck_of_run(machine: Machine, deck: Deck | None) -> Iterator[None]:
    """Point a liquid handler's backend at the run's mirror deck for one call (real backends read the deck)."""
    backend = machine.backend
    if deck is None or not isinstance(machine, LiquidHandler) or not isinstance(backend, LiquidHandlerBackend):
        yield
        return
    own = machine.deck
    backend.set_deck(deck)
    try:
        yield
    finally:
        backend.set_deck(own)


def _reply_ids(call: MachineCall) -> dict[str, Any]:
    return {"correlation_id": call.correlation_id or call.run_id, "causation_id": str(call.message_id)}


def simulated_machines(config: BenchConfig, machines: Mapping[str, Machine]) -> dict[str, bool]:
    """Per machine: does its effect live only in this process? The config's ``simulated`` wins, except that a
    backend PLR does not name as a simulator can never be declared one (its calls would skip the intent
    record, and a crash mid-call would then be repeated on real hardware)."""
    declared = {m.name: m.simulated for m in config.machines}
    out: dict[str, bool] = {}
    for name, machine in machines.items():
        inferred = is_simulated(machine.backend)
        if declared.get(name) and not inferred:
            backend = type(machine.backend).__name__
            raise BenchConfigError(
                [ConfigIssue(name, "simulated", f"{backend} is not a simulator; only `simulated: false` may override")]
            )
        value = declared.get(name)
        out[name] = inferred if value is None else value
    return out
