"""One run, start to finish: load the protocol, build the deck, mirror it on the agents, run, clean up.

``run_protocol`` returns the outputs or raises what ended the run: ``RunCancelled`` (cancel at a checkpoint),
``MachineCallError`` (a device call failed and the protocol did not handle it), or whatever the protocol itself
raised — in those cases the local frontends are stopped (stopping can itself make machine calls, e.g. a
heater-shaker switches off; those go out even after a cancel and are journaled) and every bench forgets the run.
Three ways out leave the instruments exactly as they are, because the run goes on in another worker:
``RunSuspended`` (hand-over), ``RunParked`` (an operator must decide) and ``WorkerSuperseded`` (fenced off).

A replaying worker (``replay`` holds the journal) does not send its decks at start: it rebuilds the deck's state
by replaying, and sends the decks just before its first call that reaches a bench.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pylabrobot.resources import set_tip_tracking, set_volume_tracking
from pylabrobot.resources.tip_tracker import does_tip_tracking
from pylabrobot.resources.volume_tracker import does_volume_tracking

from praxis_contracts.hardware import BenchDescription, CallRefusal, EndRun, LoadRunDeck
from praxis_contracts.runs import Assignment
from praxis_executor.worker.assets import build_assets, build_kwargs
from praxis_executor.worker.control import Control, RunCancelled, RunParked, RunSuspended, WorkerSuperseded
from praxis_executor.worker.deck import RunDeck, build_run_deck
from praxis_executor.worker.dispatch import CallDispatcher
from praxis_executor.worker.journal import Journal
from praxis_executor.worker.loader import load_protocol
from praxis_executor.worker.outputs import to_json
from praxis_executor.worker.protocol import JournalEntry, RecoveryPlan
from praxis_executor.worker.proxy import BenchTransport
from praxis_plrbridge.state import plr_json

log = logging.getLogger(__name__)


class RunDeckRejected(RuntimeError):
    """A bench could not mirror the run's deck, so no call could resolve its resources."""


@contextlib.contextmanager
def tracking() -> Iterator[None]:
    """Tip and volume tracking on for the run (PLR globals: the worker is one process per run), restored after."""
    before = does_tip_tracking(), does_volume_tracking()
    set_tip_tracking(True)
    set_volume_tracking(True)
    try:
        yield
    finally:
        set_tip_tracking(before[0])
        set_volume_tracking(before[1])


async def run_protocol(
    source: str,
    function: str,
    parameters: dict[str, Any],
    assignment: Assignment,
    describe: Mapping[str, BenchDescription],
    transport: BenchTransport,
    control: Control,
    journal: Journal,
    *,
    run_id: str,
    filename: str | None = None,
    epoch: int = 1,
    replay: Sequence[JournalEntry] = (),
    recovery: RecoveryPlan | None = None,
) -> dict[str, Any]:
    """Run ``function`` of ``source``; returns ``{"well_volumes": {...}, "result": <JSON of the return value>}``."""
    fn = load_protocol(source, function, filename)
    with tracking():
        dispatcher = CallDispatcher(run_id, transport, control, journal, epoch=epoch, replay=replay, recovery=recovery)
        deck = build_run_deck(assignment, describe, dispatcher)
        for m in deck.machines.values():
            if m.root is not None:
                dispatcher.register(m.bench_id, m.name, m.root.get_resource)
        kwargs = build_kwargs(fn, parameters, build_assets(fn, assignment, deck))

        async def load_decks() -> None:
            await _load_decks(deck, transport, run_id, epoch)

        if replay or recovery is not None or epoch > 1:
            dispatcher.defer_deck_loading(load_decks)
        else:
            await load_decks()
            dispatcher.reload_decks_with(load_decks)
        await deck.setup()
        random.seed(run_id)  # a protocol drawing random numbers draws the same ones when it is replayed
        try:
            value = await fn(**kwargs)
        except (RunSuspended, RunParked, WorkerSuperseded):
            raise  # the run continues in another worker: touch nothing
        except BaseException:
            await _wind_down(deck, dispatcher, transport, run_id)
            raise
        stop_failures = await _wind_down(deck, dispatcher, transport, run_id)
        if stop_failures:  # the protocol succeeded, but a device may not be left safe: say so
            raise stop_failures[0]
        if control_cancelled(control):  # cancelled after the last machine call
            raise RunCancelled(getattr(control, "reason", "cancelled"))
        return {"well_volumes": deck.well_volumes(), "result": to_json(value)}


def control_cancelled(control: Control) -> bool:
    return bool(getattr(control, "cancelled", False))


async def _wind_down(
    deck: RunDeck, dispatcher: CallDispatcher, transport: BenchTransport, run_id: str
) -> list[Exception]:
    with dispatcher.unchecked():
        failures = await deck.stop()
    for failure in failures:
        log.warning("stopping a frontend of run %s failed: %r", run_id, failure)
    await _end_runs(deck, transport, run_id)
    return failures


async def _load_decks(deck: RunDeck, transport: BenchTransport, run_id: str, epoch: int) -> None:
    for bench_id, machines in deck.by_bench().items():
        cmd = LoadRunDeck(
            bench_id=bench_id,
            run_id=run_id,
            machines={m.name: plr_json(m.frontend.serialize()) for m in machines},
            epoch=epoch,
            correlation_id=run_id,
        )
        ack = await transport.load_run_deck(cmd)
        if ack.ok:
            continue
        if ack.error_type == CallRefusal.STALE_WORKER or ack.detail.startswith("stale worker"):
            raise WorkerSuperseded(ack.detail)
        raise RunDeckRejected(f"bench {bench_id!r} could not mirror the run's deck: {ack.detail}")


async def _end_runs(deck: RunDeck, transport: BenchTransport, run_id: str) -> None:
    for bench_id in deck.by_bench():
        try:
            await transport.end_run(EndRun(bench_id=bench_id, run_id=run_id, correlation_id=run_id))
        except Exception:  # the agent drops its oldest mirrors anyway; do not mask the run's outcome
            log.warning("bench %s did not acknowledge the end of run %s", bench_id, run_id, exc_info=True)
