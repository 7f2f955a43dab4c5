"""Benchmark the dispatch path of a run: one machine call, and submit -> first machine call.

P1  machine-command round trip executor -> agent -> executor on a chatterbox no-op (``reader.open``): the real
    ``praxis-hardware-agent`` as a subprocess (holdings not enforced: no scheduler reserves its machines here), and from this process the executor worker's own transport
    (``NatsBenchTransport.call``), ``--calls`` sequential calls after ``--warmup``, each with a fresh idempotency key
    (run id + sequence) so every call really reaches the device. In the same run, alternating rounds: raw
    ``nc.request`` against a trivial responder in another process echoing bytes of the same sizes. Reported: p50/p99
    of both and the ratio agent path / raw. Also the same measurement on the default asyncio loop (what the
    worker falls back to where uvloop is missing).
P2  submit -> first machine command: the full stack (discovery, scheduler, executor, gateway, hardware agent) as
    subprocesses; a tiny protocol (one ``pick_up_tips`` and one ``drop_tips`` on the bench's liquid handler) is
    uploaded, then ``--runs`` times: ``POST /api/v1/runs`` (t0 just before), the run's WebSocket opened right after
    the 202, t1 = arrival of the first ``StepCompleted`` frame; ``RunFinished`` and the release of the run's
    reservations are awaited before the next submit. Reported: p50/min/max of t1 - t0 and where the time goes,
    from the ``occurred_at`` of the run's events.

Every process runs on uvloop except where stated. Servers: ``PRAXIS_NATS_URL`` / ``PRAXIS_DATABASE_URL`` if set
(they must not be serving another Praxis stack: the services' consumers and schemas would be shared), else a fresh
nats-server and PostgreSQL in temp dirs. Prints one JSON object as the last line and, unless ``--no-docs`` (default
with ``--quick``), writes the figures to docs/benchmarks.md.

    .venv/bin/python bench/dispatch.py            # full run (~2-3 min)
    .venv/bin/python bench/dispatch.py --quick    # smoke run (< 1 min)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import logging
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

if TYPE_CHECKING:
    from praxis_executor.worker.proxy import BenchTransport
    from praxis_testkit.services import ServiceStack

SECTION = "dispatch"
BENCH_CONFIG = _common.ROOT / "deploy" / "benches" / "sim-bench.yaml"
NOOP_MACHINE, NOOP_METHOD = "reader", "open"  # PlateReaderChatterboxBackend.open: prints one line, no arguments
DB_SERVICES = ("discovery", "scheduler", "executor", "gateway")
STACK_SERVICES = ("discovery", "scheduler", "executor", "hardware-agent", "gateway")

PROTOCOL_SOURCE = '''\
"""Benchmark protocol: the smallest run that makes a machine call (pick up one tip, put it back)."""

from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.resources import TipRack

from praxis_protocol import protocol


@protocol(name="bench_first_call", version="1.0.0", description="One tip picked up and dropped back")
async def bench_first_call(lh: LiquidHandler, tips: TipRack) -> None:
    await lh.pick_up_tips([tips.get_item("A1")], use_channels=[0])
    await lh.drop_tips([tips.get_item("A1")], use_channels=[0])
'''


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def summary_ms(seconds: list[float]) -> dict[str, float]:
    return {
        "n": len(seconds),
        "p50_ms": ms(_common.percentile(seconds, 50)),
        "p99_ms": ms(_common.percentile(seconds, 99)),
        "mean_ms": ms(statistics.fmean(seconds)) if seconds else float("nan"),
        "min_ms": ms(min(seconds)) if seconds else float("nan"),
        "max_ms": ms(max(seconds)) if seconds else float("nan"),
    }


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (``/proc/<pid>/stat``, clock-tick resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------- processes


class ScriptRole:
    """This script run with ``--role`` in a subprocess of its own session; ready when it prints ``ready``."""

    def __init__(self, *args: str, loop: str = "uvloop") -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--loop", loop, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.stop()
            raise RuntimeError(f"role {args} did not start (said {line!r})")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.stdin:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


async def _serve_until_stdin_closes(nc: Any) -> None:
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # the parent closes our stdin
    await nc.drain()


async def raw_responder(url: str, subject: str, reply_size: int) -> None:
    """The floor: a core-NATS responder answering every request with fixed bytes (no parsing, no work)."""
    import nats

    nc = await nats.connect(url)
    reply = b"x" * reply_size

    async def respond(msg: Any) -> None:
        await nc.publish(msg.reply, reply)

    await nc.subscribe(subject, cb=respond)
    await nc.flush()
    await _serve_until_stdin_closes(nc)


def agent_args(bench_id: str, state_dir: Path) -> list[str]:
    """``serve`` for the sim bench under ``bench_id``, its call record in ``state_dir`` (one per agent started)."""
    return ["serve", "--bench-id", bench_id, "--config", str(BENCH_CONFIG), "--state-dir", str(state_dir)]


def service_env(nats_url: str, **extra: str) -> dict[str, str]:
    return {"PRAXIS_NATS_URL": nats_url, "PRAXIS_LOG_JSON": "false", **extra}


async def wait_until(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, alive: Callable[[], str | None]
) -> float:
    """Poll ``check`` until true; returns the seconds waited. ``alive`` returns why we should give up early."""
    t0 = time.perf_counter()
    while True:
        dead = alive()
        if dead:
            raise RuntimeError(f"waiting for {what}: {dead}")
        with contextlib.suppress(Exception):
            if await check():
                return time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        await asyncio.sleep(0.1)


def stack_alive(stack: Any) -> Callable[[], str | None]:
    def check() -> str | None:
        dead = stack.dead()
        if not dead:
            return None
        return "; ".join(f"{p.name} exited ({p.returncode}):\n{p.log_tail(25)}" for p in dead)

    return check


# ---------------------------------------------------------------------------------------------- P1


async def p1_measure(
    url: str,
    bench_id: str,
    raw_subject: str,
    reply_size: int,
    calls: int,
    warmup: int,
    rounds: int,
    tag: str,
    pids: tuple[int, int] = (0, 0),
) -> dict[str, Any]:
    """Sequential machine calls through the worker's transport vs raw request/reply, in alternating rounds."""
    import nats

    from praxis_contracts.hardware import EndRun, MachineCall
    from praxis_executor.worker.nats_transport import NatsBenchTransport

    # one attempt per call (a silent agent fails the benchmark instead of being waited for)
    transport = await NatsBenchTransport.connect(
        url, f"bench-dispatch-{tag}", attempt_timeout_s=10, unreachable_timeout_s=10
    )
    raw_nc = await nats.connect(url)
    run_id = f"bench-dispatch-{tag}"
    await load_noop_deck(transport, bench_id, run_id)
    sequence = itertools.count(1)
    agent_pid, responder_pid = pids  # to read their CPU time (0: not measured)
    failures: list[str] = []
    device_ms: list[float] = []

    def machine_call() -> MachineCall:
        # what the worker's CallDispatcher builds for every call (fresh sequence = fresh idempotency key)
        return MachineCall(
            bench_id=bench_id,
            run_id=run_id,
            sequence=next(sequence),
            machine=NOOP_MACHINE,
            method=NOOP_METHOD,
            args={},
            correlation_id=run_id,
        )

    request_bytes = len(machine_call().model_dump_json())
    raw_payload = b"x" * request_bytes

    async def agent_once() -> float:
        t0 = time.perf_counter()
        result = await transport.call(machine_call())
        elapsed = time.perf_counter() - t0
        if not result.ok or result.replayed:
            failures.append(f"ok={result.ok} replayed={result.replayed} {result.error_type}: {result.error}")
        device_ms.append(result.duration_ms)
        return elapsed

    async def raw_once() -> float:
        t0 = time.perf_counter()
        await raw_nc.request(raw_subject, raw_payload, timeout=10)
        return time.perf_counter() - t0

    paths: dict[str, Callable[[], Awaitable[float]]] = {"agent": agent_once, "raw": raw_once}
    samples: dict[str, list[float]] = {name: [] for name in paths}
    client_cpu = dict.fromkeys(paths, 0.0)
    server_cpu = dict.fromkeys(paths, 0.0)
    server_pid = {"agent": agent_pid, "raw": responder_pid}
    try:
        for _ in range(warmup):
            for once in paths.values():
                await once()
        device_ms.clear()
        failures.clear()
        per_round = max(1, calls // rounds)
        for _ in range(rounds):  # alternate, so a noisy moment hits both paths alike
            for name, once in paths.items():
                pid = server_pid[name]
                s0, c0 = proc_cpu_s(pid) if pid else 0.0, time.process_time()
                for _ in range(per_round):
                    samples[name].append(await once())
                client_cpu[name] += time.process_time() - c0
                server_cpu[name] += (proc_cpu_s(pid) - s0) if pid else 0.0
    finally:
        with contextlib.suppress(Exception):
            await transport.end_run(EndRun(bench_id=bench_id, run_id=run_id))
        await transport.close()
        await raw_nc.close()
    if failures:
        raise RuntimeError(f"{len(failures)} machine calls failed or were replayed, e.g. {failures[0]}")
    out: dict[str, Any] = {"request_bytes": request_bytes, "reply_bytes": reply_size, "calls_per_path": 0}
    for name, values in samples.items():
        out[name] = summary_ms(values)
        out[name]["client_cpu_us_per_call"] = round(client_cpu[name] / len(values) * 1e6, 1)
        if server_pid[name]:
            out[name]["server_cpu_us_per_call"] = round(server_cpu[name] / len(values) * 1e6, 1)
        out["calls_per_path"] = len(values)
    out["device_ms_mean"] = round(statistics.fmean(device_ms), 4) if device_ms else None
    out["ratio_p50"] = round(out["agent"]["p50_ms"] / out["raw"]["p50_ms"], 2)
    out["ratio_p99"] = round(out["agent"]["p99_ms"] / out["raw"]["p99_ms"], 2)
    return out


async def load_noop_deck(transport: BenchTransport, bench_id: str, run_id: str) -> None:
    """As a worker does before its first call: the agent mirrors the run's deck once, and resolves names in it.
    The agent refuses calls of a run without a deck (``RunDeckMissing``), so every run id used here needs one."""
    from praxis_contracts.hardware import LoadRunDeck

    description = await transport.describe(bench_id)
    deck = {NOOP_MACHINE: description.serialized[NOOP_MACHINE]}
    ack = await transport.load_run_deck(LoadRunDeck(bench_id=bench_id, run_id=run_id, machines=deck))
    if not ack.ok:
        raise RuntimeError(f"LoadRunDeck refused: {ack.detail}")


async def p1_client_role(args: argparse.Namespace) -> None:
    """``--role p1-client``: run :func:`p1_measure` in this (child) process and print its JSON."""
    pids = (args.agent_pid, args.responder_pid)
    result = await p1_measure(
        args.nats, args.bench_id, args.subject, args.size, args.calls, args.warmup, args.rounds, args.tag, pids
    )
    print(json.dumps(result), flush=True)


async def agent_work_per_call(calls: int, state_dir: Path) -> dict[str, Any]:
    """The agent's own work per call, in this process and without NATS, to split P1's agent-side CPU.

    ``BenchRuntime.perform`` as the agent runs it (idempotency lookup, the machine lock, argument decoding, stdout
    redirection, the chatterbox call, the result recorded in a call record on disk like the agent's) for a run
    whose deck was loaded; then the same keys again, which the agent answers from its record without touching the
    device (what a worker's retry, or a replacement worker re-sending its predecessor's last call, costs). No
    holdings check: like P1's agent, this runtime has no scheduler to ask.
    """
    from praxis_contracts.hardware import LoadRunDeck, MachineCall, MachineCallResult
    from praxis_hardware_agent.adapters.plr_runtime import BenchRuntime
    from praxis_hardware_agent.adapters.sqlite_calls import SqliteCallStore, state_file
    from praxis_plrbridge.state import plr_json

    bench, run_id = "in-process", "with-deck"
    store = SqliteCallStore.open(state_file(state_dir, bench), sync="normal")  # the agent's default
    runtime = BenchRuntime.from_file(BENCH_CONFIG, bench_id=bench, store=store)
    await runtime.setup()
    try:
        deck = {NOOP_MACHINE: plr_json(runtime.machines[NOOP_MACHINE].serialize())}
        await runtime.load_run_deck(LoadRunDeck(bench_id=bench, run_id=run_id, machines=deck))
        batch = [
            MachineCall(bench_id=bench, run_id=run_id, sequence=i, machine=NOOP_MACHINE, method=NOOP_METHOD)
            for i in range(1, calls + 1)
        ]

        async def per_call(replayed: bool) -> float:
            t0 = time.perf_counter()
            results = [await runtime.perform(call) for call in batch]
            elapsed = (time.perf_counter() - t0) / calls
            wrong = [r for r in results if not r.ok or r.replayed is not replayed]
            if wrong:
                raise RuntimeError(f"in-process perform: expected replayed={replayed}, got {wrong[0]!r}")
            return elapsed

        performed, replayed = await per_call(replayed=False), await per_call(replayed=True)
        raw = batch[0].model_dump_json().encode()
        result = await runtime.perform(batch[0])
        t0 = time.perf_counter()
        for _ in range(calls):
            MachineCall.model_validate_json(raw)
            result.model_dump_json().encode()
        codec = (time.perf_counter() - t0) / calls
        assert isinstance(result, MachineCallResult) and result.ok
    finally:
        await runtime.stop()
        store.close()
    return {
        "perform_us": round(performed * 1e6, 1),
        "perform_replayed_us": round(replayed * 1e6, 1),
        "codec_us": round(codec * 1e6, 1),
    }


async def wait_for_agent(nats_url: str, bench_id: str, alive: Callable[[], str | None]) -> float:
    """Seconds until the agent of ``bench_id`` answers ``DescribeBench``. Each probe gives up after a short silence
    (the transport would otherwise keep asking a starting agent for minutes), so a dead agent is noticed."""
    from praxis_executor.worker.nats_transport import NatsBenchTransport
    from praxis_executor.worker.proxy import BenchUnreachable

    logging.getLogger("praxis_executor.worker.nats_transport").setLevel(logging.ERROR)  # "not answering" yet
    probe = await NatsBenchTransport.connect(
        nats_url, f"bench-dispatch-probe-{bench_id}", attempt_timeout_s=2, unreachable_timeout_s=1
    )
    try:

        async def agent_ready() -> bool:
            with contextlib.suppress(BenchUnreachable):
                return bool(await probe.describe(bench_id))
            return False

        return await wait_until(agent_ready, 90, f"the hardware agent of {bench_id}", alive)
    finally:
        await probe.close()


async def noop_reply_size(nats_url: str, bench_id: str, run_id: str) -> int:
    """Bytes of the reply the agent sends for the no-op (performed, for a run with a deck), to size the raw echo."""
    import nats

    from praxis_contracts.hardware import EndRun, MachineCall, MachineCallResult
    from praxis_contracts.registry import encode, subject_of
    from praxis_executor.worker.nats_transport import NatsBenchTransport

    transport = await NatsBenchTransport.connect(
        nats_url, f"bench-dispatch-{run_id}", attempt_timeout_s=10, unreachable_timeout_s=10
    )
    nc = await nats.connect(nats_url)
    try:
        await load_noop_deck(transport, bench_id, run_id)
        sample = MachineCall(bench_id=bench_id, run_id=run_id, sequence=1, machine=NOOP_MACHINE, method=NOOP_METHOD)
        answer = await nc.request(subject_of(sample), encode(sample), timeout=10)
        reply = MachineCallResult.model_validate_json(answer.data)
        if not reply.ok:
            raise RuntimeError(f"{NOOP_MACHINE}.{NOOP_METHOD} fails on the agent: {reply.error_type}: {reply.error}")
        await transport.end_run(EndRun(bench_id=bench_id, run_id=run_id))
        return len(answer.data)
    finally:
        await nc.close()
        await transport.close()


async def bench_p1(nats_url: str, bench_id: str, calls: int, warmup: int, rounds: int, work: Path) -> dict[str, Any]:
    """P1 against an agent that does not enforce holdings: no scheduler runs here to reserve its machines, so
    with enforcement every call would be refused ``NotHeld``."""
    from praxis_testkit.services import ServiceStack

    tag = secrets.token_hex(4)
    raw_subject = f"bench.dispatch.{tag}.raw"
    services = ServiceStack(work / "p1-logs", service_env(nats_url, PRAXIS_AGENT_ENFORCE_HOLDINGS="false"))
    responder: ScriptRole | None = None
    try:
        t0 = time.perf_counter()
        agent_cmd = agent_args(bench_id, work / "p1-agent-state")
        agent = services.start("praxis-hardware-agent", agent_cmd, log_name="p1-hardware-agent")
        await wait_for_agent(nats_url, bench_id, stack_alive(services))
        agent_start_s = time.perf_counter() - t0
        reply_size = await noop_reply_size(nats_url, bench_id, f"size-{tag}")
        responder = ScriptRole(
            "--role", "raw-responder", "--nats", nats_url, "--subject", raw_subject, "--size", str(reply_size)
        )
        assert agent.pid is not None
        pids = (agent.pid, responder.pid)
        main_loop = await p1_measure(
            nats_url, bench_id, raw_subject, reply_size, calls, warmup, rounds, f"{tag}-uv", pids
        )
        # the worker falls back to the default asyncio loop without uvloop: the same in a child process on it
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--role",
            "p1-client",
            "--loop",
            "asyncio",
            "--nats",
            nats_url,
            "--bench-id",
            bench_id,
            "--subject",
            raw_subject,
            "--size",
            str(reply_size),
            "--calls",
            str(calls),
            "--warmup",
            str(warmup),
            "--rounds",
            str(rounds),
            "--tag",
            f"{tag}-aio",
            "--agent-pid",
            str(pids[0]),
            "--responder-pid",
            str(pids[1]),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"the asyncio-loop P1 client failed (exit {child.returncode})")
        asyncio_loop = json.loads(out.decode().strip().splitlines()[-1])
        in_process = await agent_work_per_call(max(200, calls // 3), work / "in-process-state")
    finally:
        if responder is not None:
            responder.stop()
        services.stop_all()
    return {
        "noop": f"{NOOP_MACHINE}.{NOOP_METHOD}",
        "bench_id": bench_id,
        "agent_start_s": round(agent_start_s, 2),
        "uvloop": main_loop,
        "asyncio_loop": asyncio_loop,
        "agent_in_process": in_process,
    }


# ---------------------------------------------------------------------------------------------- P2


def bus_labels(bench_id: str) -> dict[str, str]:
    """Subjects whose first message about a run marks a step of the dispatch path."""
    from praxis_contracts.discovery import GetProtocolSource
    from praxis_contracts.executor import RunStarted, StepCompleted
    from praxis_contracts.hardware import DescribeBench, LoadRunDeck, MachineCall
    from praxis_contracts.registry import subject_of
    from praxis_contracts.scheduler import RunQueued, RunScheduled, SubmitRun

    return {
        subject_of(SubmitRun): "submit_run",
        subject_of(RunQueued): "run_queued",
        subject_of(RunScheduled): "run_scheduled",
        subject_of(GetProtocolSource): "get_protocol_source",
        subject_of(DescribeBench, bench_id=bench_id): "describe_bench",
        subject_of(RunStarted): "run_started",
        subject_of(LoadRunDeck, bench_id=bench_id): "load_run_deck",
        subject_of(MachineCall, bench_id=bench_id): "machine_call",
        subject_of(StepCompleted): "step_completed",
    }


class BusTap:
    """A passive core-NATS subscriber on ``praxis.>``: when each message of the run crossed the bus.

    JetStream publishes reach core subscribers too, so this sees commands, events and query requests (not the
    replies, which go to inboxes). Arrival is stamped before anything is parsed; matching happens after the run.
    """

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self.seen: list[tuple[float, str, bytes]] = []
        self.nc: Any = None

    async def start(self, url: str) -> None:
        import nats

        self.nc = await nats.connect(url, pending_size=64 * 1024 * 1024)
        await self.nc.subscribe("praxis.>", cb=self._on, pending_msgs_limit=-1, pending_bytes_limit=-1)
        await self.nc.flush()

    async def _on(self, msg: Any) -> None:
        if msg.subject in self.labels:
            self.seen.append((time.perf_counter(), msg.subject, msg.data))

    def take(self, run_id: str, t0: float) -> dict[str, float]:
        """Seconds after ``t0`` at which each labelled message about ``run_id`` first crossed the bus."""
        key = run_id.encode()
        marks: dict[str, float] = {}
        for at, subject, data in self.seen:
            if at >= t0 and key in data:
                marks.setdefault(self.labels[subject], at - t0)
        self.seen.clear()
        return marks

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()


@dataclass
class RunSample:
    run_id: str
    first_step_s: float  # t1 - t0: the first StepCompleted frame at the client
    accepted_s: float  # the 202 at the client
    finished_s: float  # RunFinished at the client
    steps: int
    first_method: str
    first_call_ms: float  # the worker's round trip of the first call (StepCompleted.duration_ms)
    occurred: dict[str, float] = field(default_factory=dict)  # occurred_at of the run's events, s after t0
    bus: dict[str, float] = field(default_factory=dict)  # arrival on the bus tap, s after t0


def occurred_after(event: dict[str, Any], t0_wall: float) -> float:
    return datetime.fromisoformat(str(event["occurred_at"]).replace("Z", "+00:00")).timestamp() - t0_wall


async def one_run(http: Any, ws_base: str, protocol_id: str, tap: BusTap, timeout: float) -> RunSample:
    from websockets.asyncio.client import connect as ws_connect

    body = {"protocol_id": protocol_id, "parameters": {}, "simulate": True}
    t0_wall, t0 = time.time(), time.perf_counter()
    response = await http.post("/api/v1/runs", json=body)
    accepted = time.perf_counter() - t0
    if response.status_code != 202:
        raise RuntimeError(f"POST /api/v1/runs -> {response.status_code}: {response.text}")
    run_id = str(response.json()["id"])
    first: float | None = None
    first_event: dict[str, Any] = {}
    occurred: dict[str, float] = {}
    steps, status, event = 0, "?", {}
    async with asyncio.timeout(timeout), ws_connect(f"{ws_base}/api/v1/runs/{run_id}/events") as ws:
        async for raw in ws:
            now = time.perf_counter() - t0
            frame = json.loads(raw)
            kind, event = frame["type"], frame["event"]
            if kind == "RunStarted":
                occurred["run_started"] = occurred_after(event, t0_wall)
            elif kind == "StepCompleted":
                steps += 1
                if first is None:
                    first, first_event = now, event
                    occurred["first_step"] = occurred_after(event, t0_wall)
            elif kind == "RunFinished":
                status = str(event["status"])
                break
        finished = time.perf_counter() - t0
    if first is None or status != "completed":
        raise RuntimeError(f"run {run_id} ended {status} with {steps} step(s): {event.get('error')}")
    return RunSample(
        run_id=run_id,
        first_step_s=first,
        accepted_s=accepted,
        finished_s=finished,
        steps=steps,
        first_method=str(first_event.get("method")),
        first_call_ms=float(first_event.get("duration_ms") or 0.0),
        occurred=occurred,
        bus=tap.take(run_id, t0),
    )


async def reservations_released(http: Any, run_id: str) -> bool:
    rows = (await http.get("/api/v1/reservations")).json()["reservations"]
    return not any(r.get("owner") == run_id for r in rows)


async def migrate_all(env: dict[str, str]) -> None:
    """``praxis-<svc> migrate`` for every service with a schema; each owns its schema, so they run in parallel."""
    from praxis_testkit.services import console_script

    async def migrate(name: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            str(console_script(f"praxis-{name}")),
            "migrate",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 180)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            raise RuntimeError(f"praxis-{name} migrate failed:\n{out.decode(errors='replace')}")

    await asyncio.gather(*(migrate(name) for name in DB_SERVICES))


def probe_jobs(job: Path, repeat: int) -> list[Path]:
    """Copies of a measured run's job file as a first worker would get it (epoch 1, nothing journaled, not
    paused), each under a fresh run id: new idempotency keys, and no fence of an earlier epoch on the agent."""
    spec = json.loads(job.read_text())
    spec.update(epoch=1, journal=[], recovery=None, start_paused=False)
    paths = []
    for i in range(repeat):
        spec["run_id"] = f"probe-{secrets.token_hex(4)}-{i}"
        path = job.with_name(f"probe-{i}.json")
        path.write_text(json.dumps(spec))
        paths.append(path)
    return paths


async def warm_agent(nats_url: str, bench_id: str) -> None:
    """One ``LoadRunDeck`` of the bench's whole deck (and its ``EndRun``), so a fresh agent has run the
    deserialization once, as the stack's agent had when the probes were measured against it."""
    from praxis_contracts.hardware import EndRun, LoadRunDeck
    from praxis_executor.worker.nats_transport import NatsBenchTransport
    from praxis_plrbridge.state import PRAXIS_KEY

    transport = await NatsBenchTransport.connect(
        nats_url, "bench-dispatch-warm", attempt_timeout_s=30, unreachable_timeout_s=30
    )
    run_id = f"warm-{secrets.token_hex(4)}"
    try:
        description = await transport.describe(bench_id)
        deck = {name: data for name, data in description.serialized.items() if name != PRAXIS_KEY}
        ack = await transport.load_run_deck(LoadRunDeck(bench_id=bench_id, run_id=run_id, machines=deck))
        if not ack.ok:
            raise RuntimeError(f"warming the probe's agent: LoadRunDeck refused: {ack.detail}")
        await transport.end_run(EndRun(bench_id=bench_id, run_id=run_id))
    finally:
        await transport.close()


async def probe_worker(
    nats_url: str, bench_id: str, job: Path, repeat: int, work: Path, stack: ServiceStack
) -> dict[str, float]:
    """Re-run a measured run's job file in ``_dispatch_worker_probe.py``: the worker's phases up to its first
    call; medians of ``repeat``.

    Not against the stack's agent: it enforces holdings, and no probe run holds a machine (the scheduler never
    placed it), so it would refuse the probe's ``LoadRunDeck`` and calls (``NotHeld``). The stack's agent is
    stopped (the stack is idle by now) and the same bench id is served by an agent with holdings off and a call
    record of its own, warmed by one ``LoadRunDeck``; each probe runs under a fresh run id."""
    from praxis_testkit.services import ServiceStack

    stack.stop_all(order=[p for p in stack.processes if p.name == "praxis-hardware-agent"])
    agents = ServiceStack(work / "logs", service_env(nats_url, PRAXIS_AGENT_ENFORCE_HOLDINGS="false"))
    try:
        agents.start("praxis-hardware-agent", agent_args(bench_id, work / "probe-agent-state"), log_name="probe-agent")
        await wait_for_agent(nats_url, bench_id, stack_alive(agents))
        await warm_agent(nats_url, bench_id)
        return await _run_probes(job, repeat)
    finally:
        agents.stop_all()


async def _run_probes(job: Path, repeat: int) -> dict[str, float]:
    probes: list[dict[str, float]] = []
    for path in probe_jobs(job, repeat):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).with_name("_dispatch_worker_probe.py")),
            str(path),
            repr(time.time()),
            stdin=asyncio.subprocess.DEVNULL,  # the probe reads no control lines
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={k: v for k, v in os.environ.items() if "DATABASE_URL" not in k},  # as the supervisor does
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        if proc.returncode != 0:
            tail = err.decode(errors="replace")[-3000:]
            raise RuntimeError(f"the worker probe failed (exit {proc.returncode}):\n{tail}")
        probes.append(json.loads(out.decode().strip().splitlines()[-1]))
    return {key: round(statistics.median(p[key] for p in probes), 1) for key in probes[0]}


async def executor_sandbox(nats_url: str) -> dict[str, str]:
    """The worker sandbox layers the executor applies (from its health details; empty where it reports none):
    P2's workers start through them, the worker probe does not."""
    import nats

    from praxis_contracts.common import HealthQuery, HealthReply, health_subject
    from praxis_servicekit.queries import request

    nc = await nats.connect(nats_url)
    try:
        reply = await request(nc, HealthQuery(), HealthReply, timeout=5, subject=health_subject("executor"))
    finally:
        await nc.close()
    return {"active": reply.details.get("sandbox", ""), "missing": reply.details.get("sandbox_missing", "")}


async def bench_p2(
    nats_url: str, pg_dsn: str, bench_id: str, runs: int, warmup_runs: int, probes: int, work: Path
) -> dict[str, Any]:
    import httpx

    from praxis_testkit.servers import free_port
    from praxis_testkit.services import ServiceStack

    port = free_port()
    env = service_env(
        nats_url,
        PRAXIS_DATABASE_URL=pg_dsn,
        PRAXIS_GATEWAY_PORT=str(port),
        PRAXIS_EXECUTOR_WORK_DIR=str(work / "executor"),
        PRAXIS_AGENT_HEARTBEAT_S="1",
    )
    base = f"http://127.0.0.1:{port}"
    t_start = time.perf_counter()
    await migrate_all({**os.environ, **env})
    migrate_s = time.perf_counter() - t_start
    services = ServiceStack(work / "logs", env, cwd=_common.ROOT)
    tap = BusTap(bus_labels(bench_id))
    try:
        for name in STACK_SERVICES:
            args = agent_args(bench_id, work / "agent-state") if name == "hardware-agent" else ["serve"]
            services.start(f"praxis-{name}", args, log_name=f"p2-{name}")
        await tap.start(nats_url)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:

            async def healthy() -> bool:
                return (await http.get("/api/v1/health", timeout=5)).status_code == 200

            async def bench_online() -> bool:
                benches = (await http.get("/api/v1/benches")).json()["benches"]
                return any(b["bench_id"] == bench_id and b["online"] for b in benches)

            await wait_until(healthy, 120, "a healthy stack", stack_alive(services))
            await wait_until(bench_online, 60, f"bench {bench_id} online", stack_alive(services))
            stack_start_s = time.perf_counter() - t_start
            sandbox = await executor_sandbox(nats_url)

            path = work / "bench_first_call.py"
            path.write_text(PROTOCOL_SOURCE)
            response = await http.post(
                "/api/v1/protocols", files={"file": (path.name, path.read_bytes(), "text/x-python")}
            )
            if response.status_code != 201:
                raise RuntimeError(f"upload failed: {response.status_code} {response.text}")
            protocol_id = str(response.json()["id"])

            ws_base = base.replace("http", "ws", 1)
            samples: list[RunSample] = []
            for i in range(warmup_runs + runs):
                sample = await one_run(http, ws_base, protocol_id, tap, timeout=120)
                await wait_until(
                    functools.partial(reservations_released, http, sample.run_id),
                    60,
                    f"the reservations of {sample.run_id} released",
                    stack_alive(services),
                )
                label = "warm-up" if i < warmup_runs else f"run {i - warmup_runs + 1}/{runs}"
                print(
                    f"  P2 {label}: first StepCompleted at {ms(sample.first_step_s):.0f} ms, "
                    f"RunFinished at {ms(sample.finished_s):.0f} ms",
                    file=sys.stderr,
                )
                samples.append(sample)
            job = work / "executor" / samples[-1].run_id / "job.json"
            worker = await probe_worker(nats_url, bench_id, job, probes, work, services)
    finally:
        await tap.close()
        services.stop_all()
    measured = samples[warmup_runs:]
    return {
        "bench_id": bench_id,
        "runs": runs,
        "warmup_runs": warmup_runs,
        "migrate_s": round(migrate_s, 2),
        "stack_start_s": round(stack_start_s, 2),
        "executor_sandbox": sandbox,
        "first_step": summary_ms([s.first_step_s for s in measured]),
        "first_call_sent": summary_ms([s.bus["machine_call"] for s in measured if "machine_call" in s.bus]),
        "warmup_first_step_ms": [ms(s.first_step_s) for s in samples[:warmup_runs]],
        "samples_ms": [ms(s.first_step_s) for s in measured],
        "first_method": measured[0].first_method,
        "steps_per_run": measured[0].steps,
        "breakdown_ms": breakdown(measured),
        "worker_probe_ms": worker,
        "worker_probes": probes,
    }


PHASES = (
    # (key, from mark, to mark, what happens in between); marks: arrival on the bus tap, "t0", "client"
    ("gateway", "t0", "submit_run", "gateway: `POST /runs` (GetProtocol from discovery), SubmitRun to JetStream"),
    (
        "scheduler",
        "submit_run",
        "run_scheduled",
        "scheduler: takes SubmitRun, queues the run, resolves and reserves its assets, commits, relays RunQueued "
        "and RunScheduled",
    ),
    (
        "executor_accept",
        "run_scheduled",
        "get_protocol_source",
        "executor: takes RunScheduled (run -> starting, commit), starts the supervisor, asks discovery for the "
        "analysed source",
    ),
    ("source", "get_protocol_source", "describe_bench", "the source's reply; DescribeBench asked of the agent"),
    (
        "spawn",
        "describe_bench",
        "run_started",
        "the bench description (the agent serializes its machines, ~0.4 MB), job file, worker spawned (through "
        "the sandbox's launcher where it is active); worker process: interpreter, imports, job file, NATS connect, "
        "its `started` report; RunStarted committed and relayed",
    ),
    (
        "worker_boot",
        "run_started",
        "load_run_deck",
        "worker process: load the protocol, the run's deck built locally from the bench description",
    ),
    (
        "deck_mirror",
        "load_run_deck",
        "machine_call",
        "LoadRunDeck round trip (the agent rebuilds the run's deck from JSON), frontends' setup",
    ),
    (
        "journal",
        "machine_call",
        "step_completed",
        "the call's round trip, the worker's report, the executor's journal commit, the relay of StepCompleted",
    ),
    ("websocket", "step_completed", "client", "gateway: StepCompleted from NATS to the WebSocket client"),
)


def breakdown(samples: list[RunSample]) -> dict[str, float]:
    """Median milliseconds of each phase between submit and the first StepCompleted at the client."""
    out: dict[str, float] = {}
    for key, start, end, _ in PHASES:
        values = []
        for s in samples:
            points = {"t0": 0.0, "client": s.first_step_s, **s.bus}
            if start in points and end in points:
                values.append(points[end] - points[start])
        if values:
            out[key] = ms(statistics.median(values))
    spans = [s.occurred["first_step"] - s.occurred["run_started"] for s in samples if len(s.occurred) == 2]
    if spans:
        out["occurred_run_started_to_first_step"] = ms(statistics.median(spans))
    out["post_202"] = ms(statistics.median(s.accepted_s for s in samples))
    out["first_call_round_trip"] = round(statistics.median(s.first_call_ms for s in samples), 3)
    out["run_finished_at_client"] = ms(statistics.median(s.finished_s for s in samples))
    return out


# ------------------------------------------------------------------------------------------ report


def report(result: dict[str, Any]) -> str:
    servers = result["servers"]
    lines = [
        "## Dispatch: machine-call round trip and submit -> first machine call (`bench/dispatch.py`)",
        "",
        f"Reproduce: `{result['command']}`",
        "",
        f"Measured {result['date']} on {result['machine']['cpus']} CPUs, Python {result['machine']['python']}; "
        f"{'its own' if servers['nats_own'] else 'an existing'} nats-server (file store, default sync) and "
        f"{'its own' if servers['pg_own'] else 'an existing'} PostgreSQL (default, durable). Load average at the end: "
        f"{result['loadavg']}. Every process shares the 2 cores: expect 10-40 % run-to-run noise.",
    ]
    p1 = result.get("p1")
    if p1:
        uv, aio, ip = p1["uvloop"], p1["asyncio_loop"], p1["agent_in_process"]
        agent, raw = uv["agent"], uv["raw"]
        lines += [
            "",
            f"**P1: machine-command round trip** executor -> agent -> executor on a chatterbox no-op "
            f"(`{p1['noop']}`, the sim bench's plate reader), {agent['n']} sequential calls per path after "
            f"{result['p1_warmup']} warm-up, alternating rounds, each call with a fresh idempotency key (every one "
            f"reached the device; none was replayed). Agent path: `NatsBenchTransport.call` (what the executor's "
            f"worker uses, including building the `MachineCall`) -> the real `praxis-hardware-agent` subprocess "
            f"(servicekit `serve_queries`, idempotency lookup, machine lock, the backend call, the result written to "
            f"its call record, a SQLite file in a temp dir, then `MachineCallResult`). That agent does not enforce "
            f"holdings (`PRAXIS_AGENT_ENFORCE_HOLDINGS=false`): no scheduler runs in P1 to reserve the plate reader "
            f"for the benchmark's run, so the check that a run holds the machine is not on this path. Raw: `nc.request` to a responder in another process that echoes fixed bytes of the same sizes "
            f"({uv['request_bytes']} B request, {uv['reply_bytes']} B reply). uvloop on both sides.",
            "",
            "| path | p50 | p99 | mean | client CPU / call | responder CPU / call |",
            "|---|---|---|---|---|---|",
            f"| raw `nc.request` / echo | {raw['p50_ms']:.3f} ms | {raw['p99_ms']:.3f} ms | {raw['mean_ms']:.3f} ms | "
            f"{raw['client_cpu_us_per_call']:.0f} µs | {raw.get('server_cpu_us_per_call', 0):.0f} µs |",
            f"| agent `NatsBenchTransport.call` -> hardware agent | {agent['p50_ms']:.3f} ms | {agent['p99_ms']:.3f} ms "
            f"| {agent['mean_ms']:.3f} ms | {agent['client_cpu_us_per_call']:.0f} µs | "
            f"{agent.get('server_cpu_us_per_call', 0):.0f} µs |",
            f"| **ratio** agent / raw | **{uv['ratio_p50']}x** | **{uv['ratio_p99']}x** | | | |",
            "",
            f"The device itself (the chatterbox `open`, timed by the agent) takes {uv['device_ms_mean'] * 1000:.0f} µs "
            f"per call. The worker process runs on uvloop, and falls back to the default asyncio loop where uvloop "
            f"is missing; measured from a child process on that loop, same agent and responder: "
            f"agent path p50 {aio['agent']['p50_ms']:.3f} ms / p99 {aio['agent']['p99_ms']:.3f} ms, raw p50 "
            f"{aio['raw']['p50_ms']:.3f} ms / p99 {aio['raw']['p99_ms']:.3f} ms (ratio {aio['ratio_p50']}x / "
            f"{aio['ratio_p99']}x).",
            "",
            f"Where the agent path's extra time goes: per call the agent process spends "
            f"{agent.get('server_cpu_us_per_call', 0):.0f} µs of CPU against the echo responder's "
            f"{raw.get('server_cpu_us_per_call', 0):.0f} µs, and the client {agent['client_cpu_us_per_call']:.0f} µs "
            f"against {raw['client_cpu_us_per_call']:.0f} µs (CPU from `/proc`, clock-tick resolution). Measured "
            f"in-process without NATS (no holdings check either), `BenchRuntime.perform` (idempotency lookup, machine "
            f"lock, argument decoding, stdout redirection, the chatterbox call, the result written to a call record "
            f"on disk as the agent's) costs {ip['perform_us']:.0f} µs and decoding the `MachineCall` plus encoding "
            f"the `MachineCallResult` {ip['codec_us']:.0f} µs; the rest is servicekit's query route and nats-py. "
            f"The same keys sent again are answered from the record without touching the device (what a worker's "
            f"retry, or a replacement worker re-sending its predecessor's last call, gets): "
            f"{ip['perform_replayed_us']:.0f} µs in `perform`.",
        ]
    p2 = result.get("p2")
    if p2:
        first, sent, bd, wp = p2["first_step"], p2["first_call_sent"], p2["breakdown_ms"], p2["worker_probe_ms"]
        lines += [
            "",
            f"**P2: submit -> first machine command** through the whole stack (discovery, scheduler, executor, "
            f"gateway, hardware agent as subprocesses, as `make run` starts them). A protocol with one "
            f"`pick_up_tips` and one `drop_tips` on the sim bench's liquid handler; t0 just before "
            f"`POST /api/v1/runs`, t1 = arrival of the first `StepCompleted` frame (`{p2['first_method']}`) on "
            f"`WS /api/v1/runs/{{id}}/events` opened right after the 202; each run finished and its reservations "
            f"were released before the next submit. {p2['runs']} runs after {p2['warmup_runs']} warm-up run(s) "
            f"(warm-up: {', '.join(f'{v:.0f}' for v in p2['warmup_first_step_ms']) or '-'} ms). The executor's "
            f"worker sandbox, as its health reported it: layers active "
            f"`{p2['executor_sandbox']['active'] or 'none reported'}`"
            f"{'; missing: ' + p2['executor_sandbox']['missing'] if p2['executor_sandbox']['missing'] else ''}.",
            "",
            "| figure | value |",
            "|---|---|",
            f"| **submit -> first StepCompleted at the client, p50** | **{first['p50_ms']:.0f} ms** |",
            f"| min / max | {first['min_ms']:.0f} / {first['max_ms']:.0f} ms |",
            f"| every run | {', '.join(f'{v:.0f}' for v in p2['samples_ms'])} ms |",
            f"| submit -> the `MachineCall` on the bus (the command leaves the worker), p50 | {sent['p50_ms']:.0f} ms |",
            f"| submit -> 202 at the client, p50 | {bd['post_202']:.0f} ms |",
            f"| submit -> RunFinished at the client, p50 ({p2['steps_per_run']} machine calls) | "
            f"{bd['run_finished_at_client']:.0f} ms |",
            "",
            "Where the time goes: medians over the runs of the gaps between the moments each message of the run "
            "first crossed NATS (a passive subscriber on `praxis.>` in the benchmark process; one clock):",
            "",
            "| from -> to | ms | what happens in between |",
            "|---|---|---|",
        ]
        for key, start, end, what in PHASES:
            if key in bd:
                value = f"{bd[key]:.0f}" if bd[key] >= 1 else "< 1"  # below the tap's resolution
                lines.append(f"| {start} -> {end} | {value} | {what} |")
        worker_keys = ("spawn", "worker_boot", "deck_mirror")  # the rows that hold the worker process's work
        services_ms = sum(v for k, v in bd.items() if k in {p[0] for p in PHASES} and k not in worker_keys)
        lines += [
            "",
            f"By the events' own timestamps, RunStarted -> first StepCompleted (`occurred_at`) is "
            f"{bd.get('occurred_run_started_to_first_step', float('nan')):.0f} ms. The worker's share, re-run on "
            f"the last measured run's job file in `bench/_dispatch_worker_probe.py` (the same imports, `JobSpec`, "
            f"`run_job` on uvloop as the worker runs it; no control reader and no sandbox confinement; median of "
            f"{p2['worker_probes']}). Each probe runs under a fresh run id against an agent of the same bench that "
            f"does not enforce holdings, started in place of the stack's agent after the measured runs and warmed "
            f"by one `LoadRunDeck`: the stack's agent would refuse a run the scheduler never placed (`NotHeld`), so "
            f"the agent's holdings lookup is not in the `LoadRunDeck` row below:",
            "",
            "| worker phase | ms |",
            "|---|---|",
            f"| spawn -> interpreter running | {wp['spawn_to_interpreter']:.0f} |",
            f"| imports (`praxis_executor.worker`: PyLabRobot, nats-py, pydantic contracts) | {wp['imports']:.0f} |",
            f"| job file (`JobSpec`, with the bench description) | {wp['job']:.0f} |",
            f"| NATS connect | {wp['nats_connect']:.0f} |",
            f"| load the protocol | {wp['load_protocol']:.0f} |",
            f"| build the run's deck from the description | {wp['build_deck']:.0f} |",
            f"| `LoadRunDeck` (serialize the deck, the agent rebuilds it) | {wp['load_run_deck']:.0f} |",
            f"| frontends' setup | {wp['frontends_setup']:.0f} |",
            f"| first call, answered and journaled | {wp['first_call']:.0f} |",
            f"| **total, spawn -> first call done** | **{wp['total']:.0f}** |",
            "",
            f"The worker dominates submit -> first command, and that is by design: every run gets a fresh "
            f"`python -m praxis_executor.worker` process (user code is isolated, and PyLabRobot's tip and volume "
            f"trackers are process-global), so every run pays an interpreter start and the PyLabRobot import "
            f"({wp['imports']:.0f} ms here) before it can build its deck. Next come two PyLabRobot "
            f"`Deck.deserialize` calls of the STARlet deck (~500 resources), one after the other: the worker builds "
            f"its deck from the bench description ({wp['build_deck']:.0f} ms) and the agent rebuilds the worker's "
            f"deck for `LoadRunDeck` (most of {wp['load_run_deck']:.0f} ms). Profiled separately, most of that time is "
            f"in PyLabRobot's own checks in `assign_child_resource`: the name-conflict walk over the whole tree for "
            f"every child (quadratic: ~400k calls for ~500 resources) and the Hamilton deck's z-height check. Every "
            f"service hop together (gateway, scheduler, the executor's acceptance, the source, journal, WebSocket: "
            f"every row of the first table except the three that hold the worker process's work; the `spawn` row "
            f"also holds the bench description and the RunStarted commit) takes {services_ms:.0f} ms. If submit latency ever matters more than "
            f"simplicity: a pool of pre-started workers that have already imported PyLabRobot (still one process "
            f"per run) would save the import, and skipping the rebuild on the agent when the run's deck equals the "
            f"bench's own would save one deserialization.",
        ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- main


async def main(args: argparse.Namespace) -> dict[str, Any]:
    calls = args.calls or (300 if args.quick else 3000)
    warmup = args.warmup if args.warmup is not None else (50 if args.quick else 300)
    rounds = args.rounds or (1 if args.quick else 3)
    runs = args.runs or (3 if args.quick else 15)
    warmup_runs = args.warmup_runs if args.warmup_runs is not None else (0 if args.quick else 1)
    probes = args.probes or (1 if args.quick else 3)
    bench_id = f"dispatch-{secrets.token_hex(3)}"  # ours alone, even on a shared NATS
    result: dict[str, Any] = {"bench": SECTION, "quick": args.quick, "date": time.strftime("%Y-%m-%d")}
    with (
        _common.infra(need_pg=not args.skip_p2) as servers,
        tempfile.TemporaryDirectory(prefix="praxis-bench-dispatch-") as tmp,
    ):
        work = Path(tmp)
        result["servers"] = {"nats_own": servers.nats_own, "pg_own": servers.pg_own}
        if not args.skip_p1:
            t0 = time.perf_counter()
            result["p1"] = await bench_p1(servers.nats_url, bench_id, calls, warmup, rounds, work)
            result["p1_warmup"] = warmup
            result["p1_wall_s"] = round(time.perf_counter() - t0, 1)
            uv = result["p1"]["uvloop"]
            print(
                f"  P1: agent p50 {uv['agent']['p50_ms']:.3f} ms p99 {uv['agent']['p99_ms']:.3f} ms; "
                f"raw p50 {uv['raw']['p50_ms']:.3f} ms p99 {uv['raw']['p99_ms']:.3f} ms",
                file=sys.stderr,
            )
        if not args.skip_p2:
            assert servers.pg_dsn
            t0 = time.perf_counter()
            result["p2"] = await bench_p2(servers.nats_url, servers.pg_dsn, bench_id, runs, warmup_runs, probes, work)
            result["p2_wall_s"] = round(time.perf_counter() - t0, 1)
    result.update(
        command=_common.command_line(),
        machine=_common.machine(),
        loadavg=" / ".join(f"{x:.1f}" for x in os.getloadavg()),
    )
    headline: dict[str, Any] = {}
    if "p1" in result:
        uv = result["p1"]["uvloop"]
        headline |= {
            "p1_p50_ms": uv["agent"]["p50_ms"],
            "p1_p99_ms": uv["agent"]["p99_ms"],
            "raw_p50_ms": uv["raw"]["p50_ms"],
            "raw_p99_ms": uv["raw"]["p99_ms"],
            "p1_ratio_p50": uv["ratio_p50"],
            "p1_ratio_p99": uv["ratio_p99"],
        }
    if "p2" in result:
        first = result["p2"]["first_step"]
        headline |= {
            "p2_p50_ms": first["p50_ms"],
            "p2_min_ms": first["min_ms"],
            "p2_max_ms": first["max_ms"],
            "p2_first_call_sent_p50_ms": result["p2"]["first_call_sent"]["p50_ms"],
        }
    return {**headline, **result}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (no docs written)")
    parser.add_argument("--calls", type=int, default=0, help="P1 calls per path (default 3000, quick 300)")
    parser.add_argument("--warmup", type=int, default=None, help="P1 warm-up calls per path (default 300, quick 50)")
    parser.add_argument("--rounds", type=int, default=0, help="P1 alternating rounds (default 3, quick 1)")
    parser.add_argument("--runs", type=int, default=0, help="P2 measured runs (default 15, quick 3)")
    parser.add_argument(
        "--warmup-runs", type=int, default=None, help="P2 runs before the measured ones (default 1, quick 0)"
    )
    parser.add_argument("--probes", type=int, default=0, help="P2 worker-phase probes (default 3, quick 1)")
    parser.add_argument("--skip-p1", action="store_true", help="only P2")
    parser.add_argument("--skip-p2", action="store_true", help="only P1 (no PostgreSQL needed)")
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument("--docs", dest="docs", action="store_true", default=None, help="write docs/benchmarks.md")
    docs.add_argument("--no-docs", dest="docs", action="store_false", help="do not write docs/benchmarks.md")
    # internal: subprocess roles
    parser.add_argument("--role", choices=["raw-responder", "p1-client"], help=argparse.SUPPRESS)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop", help=argparse.SUPPRESS)
    parser.add_argument("--nats", help=argparse.SUPPRESS)
    parser.add_argument("--bench-id", help=argparse.SUPPRESS)
    parser.add_argument("--subject", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=256, help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="child", help=argparse.SUPPRESS)
    parser.add_argument("--agent-pid", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--responder-pid", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _run(coro: Awaitable[Any], loop: str) -> Any:
    if loop == "asyncio":
        return asyncio.run(coro)  # type: ignore[arg-type]
    return uvloop.run(coro)  # type: ignore[arg-type]


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every ``finally`` stops what it started."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    logging.getLogger("praxis_servicekit.bus").setLevel(logging.ERROR)  # "nats disconnected" when we close
    options = parse_args()
    if options.role == "raw-responder":
        _run(raw_responder(options.nats, options.subject, options.size), options.loop)
    elif options.role == "p1-client":
        _run(p1_client_role(options), options.loop)
    else:
        with sigterm_as_interrupt():
            try:
                outcome = _run(main(options), options.loop)
            except KeyboardInterrupt:
                print("interrupted; every process this benchmark started was stopped", file=sys.stderr)
                sys.exit(130)
        if options.docs if options.docs is not None else not options.quick:
            _common.write_section(SECTION, report(outcome))
            print(f"wrote the {SECTION} section of {_common.DOCS.relative_to(_common.ROOT)}", file=sys.stderr)
        print(json.dumps(outcome))
