"""Worker subprocesses: one per run, because user code must be isolated and PLR's tip/volume trackers are
process-global.

The supervisor gathers what the worker needs (the exact analysed source, by hash, from discovery; each bench's
description from its agent), starts ``python -m praxis_executor.worker JOB``, and turns the worker's JSON-lines
reports into journal rows and run events, each in its own transaction. Control (cancel/pause/resume) goes to the
worker's stdin; the worker honours it before its next machine call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client

from praxis_contracts.discovery import GetProtocolSource, ProtocolSource
from praxis_contracts.executor import RunLeaseRenewed, RunStarted, RunStatusChanged, StepCompleted
from praxis_contracts.hardware import BenchDescription, DescribeBench
from praxis_contracts.registry import subject_of
from praxis_contracts.runs import Assignment, RunStatus
from praxis_executor.adapters.run_store import RunStore
from praxis_executor.config import Settings
from praxis_executor.handlers.control import finish
from praxis_servicekit.queries import QueryFailed, request

log = logging.getLogger(__name__)


@dataclass
class Worker:
    run_id: str
    task: asyncio.Task[None] | None = None
    proc: asyncio.subprocess.Process | None = None
    pending_control: list[str] = field(default_factory=list)


class WorkerSupervisor:
    def __init__(self, uow_factory: Any, nc: Client, settings: Settings, *, instance: str) -> None:
        self.uow_factory = uow_factory
        self.nc = nc
        self.settings = settings
        self.instance = instance
        self.workers: dict[str, Worker] = {}
        self.work_dir = settings.work_dir.resolve()

    # -- the Supervisor port used by handlers -------------------------------------------------------------------
    def start(self, run_id: str) -> None:
        if run_id in self.workers:
            return
        worker = Worker(run_id)
        self.workers[run_id] = worker
        worker.task = asyncio.get_running_loop().create_task(self._run(worker), name=f"worker:{run_id}")

    def is_running(self, run_id: str) -> bool:
        return run_id in self.workers

    def control(self, run_id: str, action: str) -> bool:
        worker = self.workers.get(run_id)
        if worker is None:
            return False
        if worker.proc is None or worker.proc.stdin is None:
            worker.pending_control.append(action)  # delivered as soon as the process exists
            return True
        with contextlib.suppress(ConnectionError, RuntimeError):
            worker.proc.stdin.write(json.dumps({"type": action}).encode() + b"\n")
        return True

    # -- lifecycle ----------------------------------------------------------------------------------------------
    async def stop_all(self) -> None:
        for worker in list(self.workers.values()):
            if worker.proc and worker.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.terminate()
        tasks = [w.task for w in self.workers.values() if w.task]
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    async def renew_leases(self) -> None:
        """Tell the scheduler our runs are alive, so their reservations outlast the lease."""
        if not self.workers:
            return
        async with self.uow_factory() as uow:
            for run_id in list(self.workers):
                uow.publish(
                    RunLeaseRenewed(run_id=run_id, extend_s=self.settings.lease_extend_s, correlation_id=run_id)
                )
            await uow.commit()

    async def _run(self, worker: Worker) -> None:
        run_id = worker.run_id
        try:
            job = await self._prepare(run_id)
            if job is None:
                return
            await self._execute(worker, job)
        except Exception as exc:  # never leave a run hanging in 'starting'
            log.exception("worker for %s failed", run_id, extra={"run_id": run_id})
            await self._finish(run_id, RunStatus.FAILED, error=f"executor error: {exc!r}")
        finally:
            self.workers.pop(run_id, None)

    async def _prepare(self, run_id: str) -> dict[str, Any] | None:
        async with self.uow_factory() as uow:
            row = await RunStore(uow).get(run_id)
        if row is None or RunStatus(row.status) != RunStatus.STARTING:
            return None
        assignment = Assignment.model_validate(row.assignment or {})
        timeout = self.settings.query_timeout_s
        try:
            source = await request(
                self.nc,
                GetProtocolSource(source_hash=row.source_hash, correlation_id=run_id),
                ProtocolSource,
                timeout=timeout,
            )
            benches: dict[str, Any] = {}
            for bench_id in assignment.bench_ids:
                query = DescribeBench(bench_id=bench_id, correlation_id=run_id)
                description = await request(
                    self.nc, query, BenchDescription, timeout=timeout, subject=subject_of(query)
                )
                benches[bench_id] = description.model_dump(mode="json")
        except QueryFailed as exc:
            await self._finish(run_id, RunStatus.FAILED, error=f"cannot start: {exc.reply.detail}")
            return None
        return {
            "run_id": run_id,
            "source": source.source,
            "filename": source.filename,
            "function": row.function,
            "parameters": row.parameters,
            "assignment": assignment.model_dump(mode="json"),
            "benches": benches,
            "transport": "nats",
            "nats_url": self.settings.nats_url,
            "call_timeout_s": self.settings.machine_call_timeout_s,
        }

    async def _execute(self, worker: Worker, job: dict[str, Any]) -> None:
        run_id = worker.run_id
        run_dir = self.work_dir / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        job_path = run_dir / "job.json"
        job_path.write_text(json.dumps(job))
        stderr_path = run_dir / "worker.stderr"
        with stderr_path.open("wb") as stderr:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "praxis_executor.worker",
                str(job_path),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=_worker_env(),
                limit=16 * 1024 * 1024,
            )
            worker.proc = proc
            for action in worker.pending_control:
                self.control(run_id, action)
            await self._started(run_id, proc.pid, Assignment.model_validate(job["assignment"]))
            finished = False
            assert proc.stdout is not None
            async for line in proc.stdout:
                try:
                    report = json.loads(line)
                except json.JSONDecodeError:
                    log.warning("worker %s wrote a non-JSON line: %r", run_id, line[:200])
                    continue
                if report.get("type") == "call":
                    await self._step(run_id, report)
                elif report.get("type") == "finished":
                    finished = True
                    await self._finish(
                        run_id,
                        RunStatus(report["status"]),
                        error=report.get("error"),
                        traceback=report.get("traceback"),
                        outputs=report.get("outputs") or {},
                    )
            code = await proc.wait()
        if not finished:
            tail = stderr_path.read_text(errors="replace")[-4000:]
            await self._finish(run_id, RunStatus.FAILED, error=f"worker exited with code {code}", traceback=tail)

    async def _started(self, run_id: str, pid: int, assignment: Assignment) -> None:
        async with self.uow_factory() as uow:
            store = RunStore(uow)
            row = await store.lock(run_id)
            if row is None or RunStatus(row.status) != RunStatus.STARTING:
                return
            await store.update(
                run_id,
                status=RunStatus.RUNNING,
                worker_pid=pid,
                worker_instance=self.instance,
                started_at=datetime.now(UTC),
            )
            await store.emit(
                run_id,
                lambda seq: RunStarted(
                    run_id=run_id, seq=seq, assignment=assignment, worker_pid=pid, correlation_id=run_id
                ),
            )
            await store.emit(
                run_id,
                lambda seq: RunStatusChanged(run_id=run_id, seq=seq, status=RunStatus.RUNNING, correlation_id=run_id),
            )
            await uow.commit()

    async def _step(self, run_id: str, report: dict[str, Any]) -> None:
        async with self.uow_factory() as uow:
            store = RunStore(uow)
            if await store.lock(run_id) is None:
                return
            event = await store.emit(
                run_id,
                lambda seq: StepCompleted(
                    run_id=run_id,
                    seq=seq,
                    step=int(report["sequence"]),
                    bench_id=str(report.get("bench_id", "")),
                    machine=str(report["machine"]),
                    method=str(report["method"]),
                    args=report.get("args") or {},
                    result=report.get("result"),
                    error=report.get("error"),
                    duration_ms=float(report.get("duration_ms", 0.0)),
                    state_diff=report.get("state_diff") or {},
                    correlation_id=run_id,
                ),
            )
            await store.record_step(event)
            await uow.commit()

    async def _finish(self, run_id: str, status: RunStatus, **fields: Any) -> None:
        async with self.uow_factory() as uow:
            store = RunStore(uow)
            if await store.lock(run_id) is None:
                return
            await finish(store, run_id, status, **fields)
            await uow.commit()


async def recover(uow_factory: Any, supervisor: WorkerSupervisor) -> None:
    """After a restart: a run that never made a machine call starts again; one that did is parked for an
    operator, naming the step whose outcome is unknown (we cannot know whether the device performed it)."""
    async with uow_factory() as uow:
        store = RunStore(uow)
        restart: list[str] = []
        for row in await store.with_status([RunStatus.STARTING, RunStatus.RUNNING, RunStatus.PAUSED]):
            if row.last_step == 0 and RunStatus(row.status) in (RunStatus.STARTING, RunStatus.RUNNING):
                await store.update(row.id, status=RunStatus.STARTING)
                restart.append(row.id)
                continue
            reason = (
                f"the executor restarted while this run was active; step {row.last_step} is journaled, "
                f"the outcome of step {row.last_step + 1} is unknown — check the deck, then cancel the run"
            )
            await store.update(row.id, status=RunStatus.NEEDS_OPERATOR, reason=reason)
            await store.emit(
                row.id,
                lambda seq, rid=row.id, why=reason: RunStatusChanged(
                    run_id=rid, seq=seq, status=RunStatus.NEEDS_OPERATOR, reason=why, correlation_id=rid
                ),
            )
        await uow.commit()
    for run_id in restart:
        supervisor.start(run_id)


def _worker_env() -> dict[str, str]:
    """The worker runs user code: it gets NATS (to reach the bench) but never the database credentials."""
    env = {k: v for k, v in os.environ.items() if "DATABASE_URL" not in k}
    env["PYTHONUNBUFFERED"] = "1"
    return env
