"""The bench's live PyLabRobot machines, and how a ``MachineCall`` is performed on them.

``perform`` never raises for a bad call: every failure (refused, undecodable, the device raised) becomes
``ok=False`` with the error's type and message, because the worker is waiting for an answer and a NATS handler
that raises gives it only a timeout. A repeated idempotency key is answered from the store (``replayed=True``)
without touching the device, and a key that is still in flight waits for the first attempt's answer.
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

from praxis_contracts.hardware import Ack, BenchDescription, LoadRunDeck, MachineCall, MachineCallResult, MachineInfo
from praxis_hardware_agent.adapters.mirror import MachineMirror, live_mirror, mirror_from_serialized
from praxis_hardware_agent.adapters.quiet import stdout_to_log
from praxis_hardware_agent.domain.errors import MachineCallRefused, MethodNotAllowed, UnknownMachine
from praxis_hardware_agent.domain.idempotency import IdempotencyStore, InMemoryIdempotencyStore
from praxis_plrbridge.bench_config import BenchConfig, build_bench, load_bench_config, parse_bench_config
from praxis_plrbridge.codec import decode_kwargs, encode
from praxis_plrbridge.interface import LIFECYCLE, backend_properties
from praxis_plrbridge.inventory import describe_machine
from praxis_plrbridge.state import PRAXIS_KEY, capture_state, plr_json

log = logging.getLogger(__name__)


class BenchRuntime:
    """One bench: its machines built from the config, per-run mirrors, and idempotent machine calls."""

    def __init__(
        self,
        config: BenchConfig,
        *,
        store: IdempotencyStore | None = None,
        machines: Mapping[str, Machine] | None = None,
        max_runs: int = 32,
    ) -> None:
        self.config = config
        self.machines: dict[str, Machine] = dict(machines) if machines is not None else build_bench(config)
        self.status: dict[str, str] = {name: "offline" for name in self.machines}
        self.errors: dict[str, str] = {}
        self._store: IdempotencyStore = store if store is not None else InMemoryIdempotencyStore()
        self._inflight: dict[str, asyncio.Future[MachineCallResult]] = {}
        self._locks = {name: asyncio.Lock() for name in self.machines}
        self._infos: dict[str, MachineInfo] = {}
        self._runs: OrderedDict[str, dict[str, MachineMirror]] = OrderedDict()
        self.max_runs = max_runs

    @classmethod
    def from_file(
        cls, path: str | Path, *, bench_id: str | None = None, store: IdempotencyStore | None = None
    ) -> BenchRuntime:
        """Build from a bench YAML; ``bench_id`` (the agent's setting) overrides the file's."""
        config = load_bench_config(path)
        if bench_id and bench_id != config.bench_id:
            config = parse_bench_config({**config.model_dump(), "bench_id": bench_id}, str(path))
        return cls(config, store=store)

    @property
    def bench_id(self) -> str:
        return self.config.bench_id

    # ------------------------------------------------------------------------------------------ lifecycle

    async def setup(self) -> None:
        """Set every machine up; one that fails is marked ``error`` (with the reason) and the rest still run."""
        self._infos.clear()  # some backends learn their capabilities (channels, 96 head) at setup
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
        """Stop every machine that is set up; a failure to stop one does not keep the others running."""
        for name, machine in self.machines.items():
            if not machine.setup_finished:
                continue
            try:
                with stdout_to_log():
                    await machine.stop()
            except Exception:
                log.exception("bench %s: machine %s failed to stop", self.bench_id, name)
            self.status[name] = "offline"

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
                self._infos[cfg.name] = describe_machine(cfg, self.machines[cfg.name])
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
            bench_id=self.bench_id, simulated=self.config.simulated, machines=machines, serialized=serialized
        )

    def _live_mirrors(self) -> dict[str, MachineMirror]:
        return {name: live_mirror(name, m) for name, m in self.machines.items()}

    # ------------------------------------------------------------------------------------------ runs

    async def load_run_deck(self, cmd: LoadRunDeck) -> Ack:
        """Mirror the worker's deck for ``cmd.run_id``; replaces an earlier load of the same run."""
        try:
            self._check_bench(cmd.bench_id)
            mirrors = {
                name: mirror_from_serialized(name, self._machine(name), data) for name, data in cmd.machines.items()
            }
        except Exception as exc:
            return Ack(ok=False, detail=f"{type(exc).__name__}: {exc}", causation_id=str(cmd.message_id))
        self._runs[cmd.run_id] = mirrors
        self._runs.move_to_end(cmd.run_id)
        while len(self._runs) > self.max_runs:  # a worker that died without EndRun must not leak its mirror
            self._runs.popitem(last=False)
        return Ack(detail=f"mirrored {sorted(mirrors)} for run {cmd.run_id}", causation_id=str(cmd.message_id))

    async def end_run(self, run_id: str) -> None:
        """Forget the run's mirrors (idempotency results stay until the LRU drops them)."""
        self._runs.pop(run_id, None)

    def run_ids(self) -> list[str]:
        return sorted(self._runs)

    # ------------------------------------------------------------------------------------------ calls

    async def perform(self, call: MachineCall) -> MachineCallResult:
        key = call.idempotency_key
        stored = await self._store.get(key)
        if stored is not None:
            return stored.model_copy(update={"replayed": True})
        inflight = self._inflight.get(key)
        if inflight is not None:  # a retry while the first attempt still runs: share its answer
            return (await asyncio.shield(inflight)).model_copy(update={"replayed": True})
        future: asyncio.Future[MachineCallResult] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._execute(call)
        except BaseException:  # cancelled mid-call (agent shutting down): waiting retries are cancelled too
            future.cancel()
            raise
        finally:
            del self._inflight[key]
        try:
            await self._store.put(key, result)
        except Exception:  # the answer still goes back; only a later retry could repeat the call
            log.exception("could not store the result of %s", key)
        future.set_result(result)
        return result

    async def _execute(self, call: MachineCall) -> MachineCallResult:
        started = time.perf_counter()
        reply: dict[str, Any] = {
            "correlation_id": call.correlation_id or call.run_id,
            "causation_id": str(call.message_id),
        }
        try:
            self._check_bench(call.bench_id)
            machine = self._machine(call.machine)
            method = self._method(call.machine, machine, call.method)
            async with self._locks[call.machine]:
                mirror = self._runs.get(call.run_id, {}).get(call.machine) or live_mirror(call.machine, machine)
                args = decode_kwargs(call.args, mirror.resolve)
                started = time.perf_counter()
                with _deck_of_run(machine, mirror.deck), stdout_to_log():
                    value = await method(**args)
                duration = (time.perf_counter() - started) * 1000
        except Exception as exc:
            duration = (time.perf_counter() - started) * 1000
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
                ok=False, error_type=type(exc).__name__, error=str(exc), duration_ms=duration, **reply
            )
        log.debug("call %s %s.%s ok in %.1f ms", call.idempotency_key, call.machine, call.method, duration)
        return MachineCallResult(ok=True, result=encode(value, lenient=True), duration_ms=duration, **reply)

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
