"""``python -m praxis_executor.worker JOB.json``: run one generation of one run and report as typed lines.

The models of :mod:`praxis_executor.worker.protocol` are the whole interface: one report per line on stdout
(``started``, one ``call`` per machine call not already in the journal, ``paused``/``resumed`` when the run
actually stops at or leaves a checkpoint, and exactly one ending — ``finished``, ``parked``, ``suspended`` or
``superseded``), and control lines on stdin (``cancel``, ``pause``, ``resume``, ``suspend``). Everything else
(logs, the protocol's prints) goes to stderr. The exit code is 0 whenever an ending was written.

Started by the executor, the worker confines itself first (Landlock, seccomp: see
:mod:`praxis_executor.adapters.sandbox_confine`), before it reads its job, let alone the protocol's source.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import sys
import traceback
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from pydantic import BaseModel

from praxis_contracts.hardware import BenchDescription
from praxis_contracts.permissions import inbox_prefix
from praxis_executor.adapters.sandbox_confine import confine_from_environment
from praxis_executor.worker.control import RunCancelled, RunControl, RunParked, RunSuspended, WorkerSuperseded
from praxis_executor.worker.events import EventJournal, EventWriter, read_control
from praxis_executor.worker.nats_transport import NatsBenchTransport
from praxis_executor.worker.outputs import to_json
from praxis_executor.worker.protocol import (
    FinishedReport,
    JobSpec,
    ParkedReport,
    PausedReport,
    ResumedReport,
    StartedReport,
    SupersededReport,
    SuspendedReport,
)
from praxis_executor.worker.proxy import BenchTransport
from praxis_executor.worker.runner import run_protocol

log = logging.getLogger("praxis_executor.worker")


@contextlib.asynccontextmanager
async def open_transport(spec: JobSpec) -> AsyncIterator[BenchTransport]:
    if spec.transport == "inprocess":  # tests and dry runs: the benches live in this process
        # named by the job, so the executor never depends on the agent's package (services share only libs/)
        module_name, _, attr = (spec.inprocess_transport or "").partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
        inprocess = await factory.start(spec.bench_configs)
        try:
            yield inprocess
        finally:
            await inprocess.close()
        return
    assert spec.nats_url is not None
    per_bench = {b: d.unreachable_timeout_s for b, d in spec.benches.items() if d.unreachable_timeout_s}
    nats = await NatsBenchTransport.connect(
        spec.nats_url,
        f"praxis-worker-{spec.run_id}-{spec.epoch}",
        creds=spec.nats_creds,
        inbox_prefix=inbox_prefix(spec.run_id) if spec.nats_creds else None,
        attempt_timeout_s=spec.attempt_timeout_s,
        unreachable_timeout_s=spec.unreachable_timeout_s,
        per_bench=per_bench,
    )
    try:
        yield nats
    finally:
        await nats.close()


async def run_job(spec: JobSpec, writer: EventWriter) -> None:
    """Run the job and write exactly one ending report, whatever happens."""
    control = RunControl(
        on_pause=lambda: writer.emit(PausedReport()),
        on_resume=lambda: writer.emit(ResumedReport()),
        paused=spec.start_paused,
    )
    read_control(control, asyncio.get_running_loop())
    writer.emit(ending_of(await _outcome(spec, writer, control), spec))


async def _outcome(spec: JobSpec, writer: EventWriter, control: RunControl) -> BaseModel:
    try:
        async with open_transport(spec) as transport:
            if isinstance(transport, NatsBenchTransport):
                control.on_credentials(_rotating(transport))
            benches: dict[str, BenchDescription] = dict(spec.benches)
            for bench_id in spec.assignment.bench_ids:
                if bench_id not in benches:
                    benches[bench_id] = await transport.describe(bench_id)
            writer.emit(StartedReport(pid=os.getpid()))
            outputs = await run_protocol(
                spec.source_text(),
                spec.function,
                spec.parameters,
                spec.assignment,
                benches,
                transport,
                control,
                EventJournal(writer),
                run_id=spec.run_id,
                filename=spec.filename,
                epoch=spec.epoch,
                replay=spec.journal,
                recovery=spec.recovery,
            )
            return FinishedReport(status="completed", outputs=outputs)
    except RunCancelled as exc:
        return FinishedReport(status="cancelled", error=str(exc) or "cancelled")
    except RunSuspended:
        return SuspendedReport()
    except WorkerSuperseded as exc:
        return SupersededReport(detail=str(exc))
    except RunParked as exc:
        return ParkedReport(step=exc.step, kind=exc.kind, reason=exc.reason, choices=exc.choices)
    except (Exception, SystemExit, KeyboardInterrupt) as exc:  # the protocol's own failure, sys.exit() included
        what = f"the protocol called sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else None
        return FinishedReport(
            status="failed", error=what or f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()
        )


def _rotating(transport: NatsBenchTransport) -> Callable[[str], None]:
    """Fresh credentials arrive on the control thread's loop callback: reconnect with them in a task."""
    pending: set[asyncio.Task[None]] = set()

    def rotate(creds: str) -> None:
        task = asyncio.get_running_loop().create_task(transport.rotate(creds))
        pending.add(task)
        task.add_done_callback(pending.discard)

    return rotate


def ending_of(outcome: BaseModel, spec: JobSpec) -> BaseModel:
    """Outputs too big to keep fail the run instead of the executor (JSON-safe first: NaN becomes null)."""
    if not isinstance(outcome, FinishedReport) or not outcome.outputs:
        return outcome
    safe = outcome.model_copy(update={"outputs": to_json(outcome.outputs)})
    size = len(safe.model_dump_json())
    if size > spec.max_outputs_bytes:
        return FinishedReport(
            status="failed",
            error=f"the run's outputs are {size:,} bytes as JSON; the limit is {spec.max_outputs_bytes:,}",
        )
    return safe


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    writer = EventWriter.take_stdout()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        try:  # before anything of the job is read, let alone the protocol's source loaded
            confine_from_environment()
        except Exception as exc:
            writer.emit(
                FinishedReport(status="failed", error=f"the worker sandbox could not confine the worker: {exc}")
            )
            return 0
        if len(args) != 1:
            print("usage: python -m praxis_executor.worker JOB.json", file=sys.stderr)
            return 2
        try:
            spec = JobSpec.model_validate_json(Path(args[0]).read_text(encoding="utf-8"))
        except Exception as exc:
            writer.emit(FinishedReport(status="failed", error=f"invalid job file {args[0]}: {exc}"))
            return 0
        try:  # uvloop: the worker waits on NATS for every machine call
            import uvloop

            uvloop.run(run_job(spec, writer))
        except ImportError:
            asyncio.run(run_job(spec, writer))
        return 0
    finally:
        writer.close()


if __name__ == "__main__":
    sys.exit(main())
