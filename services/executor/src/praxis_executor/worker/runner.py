"""One run, start to finish: load the protocol, build the deck, mirror it on the agents, run, clean up.

``run_protocol`` returns the outputs or raises what ended the run: ``RunCancelled`` (cancel at a checkpoint),
``MachineCallError`` (a device call failed and the protocol did not handle it), ``TransportFailed``, or whatever
the protocol itself raised. Whatever happens, the local frontends are stopped and every bench forgets the run.
Stopping can itself make machine calls (a heater-shaker switches off): those go out even after a cancel, and are
journaled like the others.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from pylabrobot.resources import set_tip_tracking, set_volume_tracking
from pylabrobot.resources.tip_tracker import does_tip_tracking
from pylabrobot.resources.volume_tracker import does_volume_tracking

from praxis_contracts.hardware import BenchDescription, EndRun, LoadRunDeck
from praxis_contracts.runs import Assignment
from praxis_executor.worker.assets import build_assets, build_kwargs
from praxis_executor.worker.control import Control, RunCancelled
from praxis_executor.worker.deck import RunDeck, build_run_deck
from praxis_executor.worker.dispatch import CallDispatcher
from praxis_executor.worker.journal import Journal
from praxis_executor.worker.loader import load_protocol
from praxis_executor.worker.outputs import to_json
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
) -> dict[str, Any]:
    """Run ``function`` of ``source``; returns ``{"well_volumes": {...}, "result": <JSON of the return value>}``."""
    fn = load_protocol(source, function, filename)
    with tracking():
        dispatcher = CallDispatcher(run_id, transport, control, journal)
        deck = build_run_deck(assignment, describe, dispatcher)
        for m in deck.machines.values():
            if m.root is not None:
                dispatcher.register(m.bench_id, m.name, m.root.get_resource)
        kwargs = build_kwargs(fn, parameters, build_assets(fn, assignment, deck))
        try:
            await _load_decks(deck, transport, run_id)
            await deck.setup()
            try:
                value = await fn(**kwargs)
            finally:
                with dispatcher.unchecked():
                    stop_failures = await deck.stop()
                for failure in stop_failures:
                    log.warning("stopping a frontend of run %s failed: %r", run_id, failure)
            if stop_failures:  # the protocol succeeded, but a device may not be left safe: say so
                raise stop_failures[0]
            if getattr(control, "cancelled", False):  # cancelled after the last machine call
                raise RunCancelled(getattr(control, "reason", "cancelled"))
        finally:
            await _end_runs(deck, transport, run_id)
        return {"well_volumes": deck.well_volumes(), "result": to_json(value)}


async def _load_decks(deck: RunDeck, transport: BenchTransport, run_id: str) -> None:
    for bench_id, machines in deck.by_bench().items():
        cmd = LoadRunDeck(
            bench_id=bench_id,
            run_id=run_id,
            machines={m.name: plr_json(m.frontend.serialize()) for m in machines},
            correlation_id=run_id,
        )
        ack = await transport.load_run_deck(cmd)
        if not ack.ok:
            raise RunDeckRejected(f"bench {bench_id!r} could not mirror the run's deck: {ack.detail}")


async def _end_runs(deck: RunDeck, transport: BenchTransport, run_id: str) -> None:
    for bench_id in deck.by_bench():
        try:
            await transport.end_run(EndRun(bench_id=bench_id, run_id=run_id, correlation_id=run_id))
        except Exception:  # the agent drops its oldest mirrors anyway; do not mask the run's outcome
            log.warning("bench %s did not acknowledge the end of run %s", bench_id, run_id, exc_info=True)
