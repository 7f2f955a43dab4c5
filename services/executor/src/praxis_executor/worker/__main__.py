"""``python -m praxis_executor.worker JOB.json``: run one protocol and report over JSON lines.

stdout carries one JSON object per line:

- ``{"type": "started", "run_id", "pid"}``
- ``{"type": "call", "sequence", "bench_id", "machine", "method", "args", "ok", "result", "error_type", "error",
  "duration_ms", "device_ms", "replayed", "summary", "state_diff"}``, one per machine call, in call order
- ``{"type": "paused"}`` / ``{"type": "resumed"}`` when the run actually stops at / leaves a checkpoint
- ``{"type": "finished", "status": "completed"|"failed"|"cancelled", "error", "traceback", "outputs"}``, last

stdin takes ``{"type": "cancel"|"pause"|"resume"}`` lines. Everything else (logs, the protocol's prints) goes to
stderr. The exit code is 0 whenever a ``finished`` event was written.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import sys
import traceback
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from praxis_executor.worker.control import RunCancelled, RunControl
from praxis_executor.worker.events import EventJournal, EventWriter, read_control
from praxis_executor.worker.job import JobSpec
from praxis_executor.worker.nats_transport import NatsBenchTransport
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
    nats = await NatsBenchTransport.connect(spec.nats_url, timeout_s=spec.call_timeout_s, attempts=spec.call_attempts)
    try:
        yield nats
    finally:
        await nats.close()


async def run_job(spec: JobSpec, writer: EventWriter) -> None:
    control = RunControl(
        on_pause=lambda: writer.emit({"type": "paused"}), on_resume=lambda: writer.emit({"type": "resumed"})
    )
    read_control(control, asyncio.get_running_loop())
    finished: dict[str, Any] = {"type": "finished", "status": "failed", "error": None, "traceback": None, "outputs": {}}
    try:
        async with open_transport(spec) as transport:
            benches = dict(spec.benches)
            for bench_id in spec.assignment.bench_ids:
                if bench_id not in benches:
                    benches[bench_id] = await transport.describe(bench_id)
            writer.emit({"type": "started", "run_id": spec.run_id, "pid": os.getpid()})
            finished["outputs"] = await run_protocol(
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
            )
            finished["status"] = "completed"
    except RunCancelled as exc:
        finished.update(status="cancelled", error=str(exc) or "cancelled")
    except Exception as exc:
        finished.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    writer.emit(finished)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    writer = EventWriter.take_stdout()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if len(args) != 1:
            print("usage: python -m praxis_executor.worker JOB.json", file=sys.stderr)
            return 2
        try:
            spec = JobSpec.model_validate_json(Path(args[0]).read_text(encoding="utf-8"))
        except Exception as exc:
            error = f"invalid job file {args[0]}: {exc}"
            writer.emit({"type": "finished", "status": "failed", "error": error, "traceback": None, "outputs": {}})
            return 0
        try:  # uvloop: the worker waits on NATS for every machine call (INFRA.md §4: +15-85 %)
            import uvloop

            uvloop.run(run_job(spec, writer))
        except ImportError:
            asyncio.run(run_job(spec, writer))
        return 0
    finally:
        writer.close()


if __name__ == "__main__":
    sys.exit(main())
