"""The worker supervisor: the executor's entry point for its worker processes and for the runs it owns.

It translates and never decides. It starts a worker when a handler says a run needs one, parses the worker's
report lines into typed reports and hands them to the handlers (retrying until they are journaled: a report is
never lost while Postgres is away; the worker simply blocks on its full pipe meanwhile), carries control to the
worker, and every ``lease_renew_s`` renews this instance's leases, reconciles each worker with what its run wants,
starts workers for owned runs that have none (a restart of this instance reclaims its runs this way), and takes
over runs whose owner's lease ran out. On a graceful stop it suspends its workers between two machine calls and
releases its leases, so another replica continues the runs at once; it never fails them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from praxis_contracts.executor import RunControlRequested
from praxis_executor.adapters.job_inputs import InputsUnavailable, JobInputs
from praxis_executor.adapters.repository import ExecutorUnitOfWork
from praxis_executor.adapters.sandbox import Sandbox
from praxis_executor.adapters.worker_process import WorkerProcess
from praxis_executor.config import Settings
from praxis_executor.domain.errors import RunError, StaleWorker
from praxis_executor.domain.run import CrashDecision, WorkerExit
from praxis_executor.handlers import ownership, workers
from praxis_executor.handlers.ports import OwnedRun, RunInputs
from praxis_executor.handlers.workers import WorkerPlan
from praxis_executor.worker.protocol import (
    ENDINGS,
    CancelControl,
    CredentialsControl,
    FinishedReport,
    JobSpec,
    PauseControl,
    Report,
    ResumeControl,
    SuspendControl,
    parse_report,
)
from praxis_natsauth import mint_worker_credentials
from praxis_servicekit.db import SqlUnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")
WORKER_ENV_KEYS = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
"""The only variables a worker inherits: it runs other people's code and needs no credentials or URLs of ours."""


@dataclass
class Driver:
    """This instance's hold on one run: the task that runs its worker generations, and the current worker."""

    run_id: str
    task: asyncio.Task[None] | None = None
    worker: WorkerProcess | None = None
    epoch: int = 0
    sent_pause: bool = False
    sent_cancel: bool = False
    ended: bool = False
    fenced: bool = False
    benches: tuple[str, ...] = ()
    creds_minted_at: float = 0.0


@dataclass
class JournalHealth:
    failing_since: float | None = None
    last_error: str = ""
    pending_reports: int = 0


@dataclass
class WorkerSupervisor:
    uow_factory: Callable[[], SqlUnitOfWork]
    inputs: JobInputs
    settings: Settings
    drivers: dict[str, Driver] = field(default_factory=dict)
    journal: JournalHealth = field(default_factory=JournalHealth)
    _stopping: bool = False
    _last_scheduler_renewal: float = 0.0
    sandbox: Sandbox = field(init=False)

    def __post_init__(self) -> None:
        self.sandbox = Sandbox.start(self.settings)  # probes and logs the worker sandbox's layers, at start
        signer = self.settings.worker_signer
        self._signer = signer.read_text() if signer is not None else None  # read once: a bad path fails the start

    def _mint(self, driver: Driver) -> str | None:
        """The run worker's own NATS identity: only its run's inbox and its benches' subjects, for a while."""
        if self._signer is None:
            return None
        driver.creds_minted_at = time.monotonic()
        return mint_worker_credentials(
            self._signer, driver.run_id, list(driver.benches), self.settings.worker_creds_ttl_s
        )

    def _renew_credentials(self, driver: Driver) -> None:
        worker = driver.worker
        if worker is None or self._signer is None:
            return
        if time.monotonic() - driver.creds_minted_at >= self.settings.worker_creds_ttl_s / 3:
            creds = self._mint(driver)
            if creds is not None:
                worker.send(CredentialsControl(creds=creds))

    @property
    def instance(self) -> str:
        return self.settings.instance

    # ---------------------------------------------------------------------------------- the Owner port

    def drive(self, run_id: str, reason: str = "") -> None:
        if self._stopping or run_id in self.drivers:
            return
        driver = Driver(run_id)
        self.drivers[run_id] = driver
        driver.task = asyncio.get_running_loop().create_task(self._drive(driver, reason), name=f"run:{run_id}")

    # ---------------------------------------------------------------------------------- one run's workers

    async def _drive(self, driver: Driver, reason: str) -> None:
        try:
            while not self._stopping:
                plan = await self._tx(workers.begin_worker, driver.run_id, self.instance, reason or "a new worker")
                if plan is None:
                    return
                decision = await self._generation(driver, plan)
                if decision != "restart":
                    return
                reason = "its worker died; replaying the journal in a new one"
        except Exception:
            log.exception("driving run %s failed; the next lease renewal tries again", driver.run_id)
        finally:
            self.drivers.pop(driver.run_id, None)

    async def _generation(self, driver: Driver, plan: WorkerPlan) -> CrashDecision | None:
        driver.epoch, driver.ended, driver.fenced = plan.epoch, False, False
        driver.sent_pause, driver.sent_cancel = plan.start_paused, False
        try:
            job = await self._job(plan)
        except InputsUnavailable as exc:
            await self._deliver(driver, [FinishedReport(status="failed", error=f"cannot start: {exc}")])
            return None
        verdict = self.sandbox.verdict(plan.submitted_role)
        if not verdict.allowed:
            log.warning("run %s: %s", plan.run_id, verdict.reason)
            await self._deliver(driver, [FinishedReport(status="failed", error=verdict.reason)])
            return None
        if verdict.warning:
            log.warning("run %s: %s", plan.run_id, verdict.warning)
        worker = await WorkerProcess.start(self._run_dir(plan.run_id), job, self._worker_env(), self.sandbox)
        driver.worker = worker
        log.info("run %s: worker %d started (epoch %d)", plan.run_id, worker.pid, plan.epoch)
        await self._pump(driver, worker)
        status = await worker.wait()
        driver.worker = None
        if driver.ended or driver.fenced or self._stopping:
            return None
        exit = WorkerExit(status.code, status.signal, worker.stderr_tail())
        log.warning("run %s: %s", plan.run_id, exit.describe())
        return await self._tx_safely(driver, workers.worker_exited, plan.run_id, self.instance, plan.epoch, exit)

    async def _job(self, plan: WorkerPlan) -> JobSpec:
        source = await self.inputs.source(plan.source_hash, plan.run_id)
        inputs = plan.inputs
        if inputs is None:
            benches = {b: await self.inputs.bench(b, plan.run_id) for b in plan.assignment.bench_ids}
            inputs = RunInputs(benches=benches, filename=source.filename)
            await self._tx(workers.remember_inputs, plan.run_id, self.instance, plan.epoch, inputs)
        s = self.settings
        driver = self.drivers.get(plan.run_id) or Driver(plan.run_id)
        driver.benches = tuple(plan.assignment.bench_ids)
        return JobSpec(
            run_id=plan.run_id,
            function=plan.function,
            source=source.source,
            filename=inputs.filename or source.filename,
            parameters=plan.parameters,
            assignment=plan.assignment,
            benches=inputs.benches,
            epoch=plan.epoch,
            journal=plan.journal,
            recovery=plan.recovery,
            start_paused=plan.start_paused,
            nats_url=s.worker_nats_url or s.nats_url,
            nats_creds=self._mint(driver),
            attempt_timeout_s=s.machine_call_attempt_s,
            unreachable_timeout_s=s.bench_unreachable_timeout_s,
            max_outputs_bytes=s.max_outputs_bytes,
        )

    async def _pump(self, driver: Driver, worker: WorkerProcess) -> None:
        """Report lines -> handlers, in order, batch by batch, until the worker closes its pipe."""
        async for batch in worker.lines():
            reports: list[Report] = []
            for line in batch:
                if line.strip() == b'{"type": "oversized"}':
                    worker.kill()
                    reports.append(FinishedReport(status="failed", error="the worker wrote a report over 80 MB"))
                    continue
                try:
                    reports.append(parse_report(line))
                except ValidationError:
                    log.warning("run %s: ignoring a report line that is not a report: %r", driver.run_id, line[:200])
            if reports and not driver.fenced:
                await self._deliver(driver, reports)
            if driver.fenced:
                worker.kill()

    async def _deliver(self, driver: Driver, reports: Sequence[Report]) -> None:
        """Journal the reports, retrying for as long as the database is away; a refusal fences the worker."""
        try:
            await self._tx_safely(driver, workers.handle_reports, driver.run_id, self.instance, driver.epoch, reports)
        except StaleWorker as exc:
            log.warning("run %s: stopping a worker that no longer drives it: %s", driver.run_id, exc)
            driver.fenced = True
            return
        if any(isinstance(r, ENDINGS) for r in reports):
            driver.ended = True

    async def _tx_safely(self, driver: Driver, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        delay = 0.1
        while True:
            try:
                result = await self._tx(fn, *args)
            except RunError:
                raise
            except Exception as exc:  # Postgres away: hold the reports, the worker waits on its full pipe
                if self.journal.failing_since is None:
                    self.journal.failing_since = time.monotonic()
                    log.error("run %s: cannot journal (%r); holding reports until it can", driver.run_id, exc)
                self.journal.last_error = f"{type(exc).__name__}: {exc}"[:300]
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if self.journal.failing_since is not None:
                log.info("journaling works again after %.1f s", time.monotonic() - self.journal.failing_since)
                self.journal.failing_since = None
            return result

    async def _tx(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        async with self.uow_factory() as inner:
            uow = ExecutorUnitOfWork(inner, lease_ttl_s=self.settings.lease_ttl_s)
            result = await fn(*args, uow)
            await uow.commit()
            return result

    # ---------------------------------------------------------------------------------- control

    async def on_control(self, event: RunControlRequested) -> None:
        """Every replica hears control requests; the one driving the run's worker carries them to it."""
        driver = self.drivers.get(event.run_id)
        if event.action == "recover":
            if event.owner == self.instance:
                self.drive(event.run_id, f"resuming after the operator chose '{event.detail}'")
            return
        if driver is None or driver.worker is None:
            return
        if event.action == "cancel" and not driver.sent_cancel:
            driver.sent_cancel = True
            driver.worker.send(CancelControl(reason=event.detail or "cancelled"))
        elif event.action == "pause" and not driver.sent_pause:
            driver.sent_pause = True
            driver.worker.send(PauseControl())
        elif event.action == "resume" and driver.sent_pause:
            driver.sent_pause = False
            driver.worker.send(ResumeControl())

    def _reconcile(self, driver: Driver, wanted: OwnedRun) -> None:
        """What the run's row wants, sent to its worker if it was not yet (a missed control event)."""
        worker = driver.worker
        if worker is None or driver.epoch != wanted.epoch:
            return
        if wanted.cancel_requested and not driver.sent_cancel:
            driver.sent_cancel = True
            worker.send(CancelControl())
        if wanted.pause_requested != driver.sent_pause:
            driver.sent_pause = wanted.pause_requested
            worker.send(PauseControl() if wanted.pause_requested else ResumeControl())

    # ---------------------------------------------------------------------------------- leases

    async def tick(self) -> None:
        """Renew, reconcile, reclaim, take over; tell the scheduler our runs are alive now and then."""
        owned = await self._tx(ownership.renew_leases, self.instance)
        mine = {o.run_id: o for o in owned}
        for run_id, wanted in mine.items():
            driver = self.drivers.get(run_id)
            if driver is not None:
                self._reconcile(driver, wanted)
                self._renew_credentials(driver)
            elif wanted.status.value in ("starting", "running", "paused"):
                self.drive(run_id, f"reclaimed by {self.instance}")
        for run_id, driver in list(self.drivers.items()):
            if run_id not in mine and driver.worker is not None and not driver.ended:
                log.warning("run %s is no longer owned by %s: stopping its worker", run_id, self.instance)
                driver.fenced = True
                driver.worker.kill()
        if not self._stopping:
            for run_id in await self._tx(ownership.take_over_runs, self.instance, self.settings.takeover_batch):
                log.warning("run %s: lease expired; taken over by %s", run_id, self.instance)
                self.drive(run_id, f"taken over by {self.instance} after its owner's lease expired")
        if time.monotonic() - self._last_scheduler_renewal >= self.settings.reservation_renew_s:
            self._last_scheduler_renewal = time.monotonic()
            await self._tx(ownership.renew_reservations, list(mine), self.settings.lease_extend_s)

    # ---------------------------------------------------------------------------------- stopping

    async def stop_all(self) -> None:
        """Suspend every worker between two calls, give them the grace period, then hand the runs over."""
        self._stopping = True
        for driver in self.drivers.values():
            if driver.worker is not None:
                driver.worker.send(SuspendControl())
        tasks = [d.task for d in self.drivers.values() if d.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.settings.suspend_grace_s)
            for driver in list(self.drivers.values()):
                if driver.worker is not None:
                    driver.worker.kill()  # its in-flight call is in the bench's record; the replay finds it
            if late:
                await asyncio.wait(late, timeout=5)
        with contextlib.suppress(Exception):
            released = await self._tx(ownership.release_leases, self.instance)
            log.info("released %d run(s) for another executor to continue", released)

    def health_details(self) -> dict[str, str]:
        details = {"active_runs": str(len(self.drivers)), "instance": self.instance, **self.sandbox.health()}
        if self.journal.failing_since is not None:
            behind = time.monotonic() - self.journal.failing_since
            details["status"] = "degraded"
            details["degraded"] = f"run journal behind for {behind:.0f} s: {self.journal.last_error}"
        return details

    # ---------------------------------------------------------------------------------- the worker's world

    def _run_dir(self, run_id: str) -> Path:
        return self.settings.work_dir.resolve() / run_id

    def _worker_env(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in WORKER_ENV_KEYS if k in os.environ}
        env["PYTHONUNBUFFERED"] = "1"
        return env
