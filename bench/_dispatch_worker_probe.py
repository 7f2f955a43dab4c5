"""Time the phases of one executor worker up to its first machine call (a helper of ``bench/dispatch.py``).

    python bench/_dispatch_worker_probe.py JOB.json SPAWN_WALL_TIME

Runs the job as ``python -m praxis_executor.worker JOB.json`` does (same imports, ``JobSpec``, ``run_job`` on
uvloop, the NATS transport to the live agent), with the worker's own functions wrapped to note when each step
ends. Reports go to /dev/null. Two differences from a real worker: no control lines are read (a worker takes the
end of its stdin as "the executor is gone" and suspends the run before its next call; nobody controls a probe),
and the worker sandbox's confinement (``main``, before the job is read) is not applied. Prints one JSON object:
milliseconds per phase, from the parent's spawn (``SPAWN_WALL_TIME``, ``time.time()``) to the first machine call
answered.
"""

from __future__ import annotations

import time

STARTED_WALL, STARTED = time.time(), time.perf_counter()  # before any import of ours

import asyncio  # noqa: E402
import functools  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import uvloop  # noqa: E402


def main(job_path: str, spawned_wall: float) -> dict[str, float]:
    marks: list[tuple[str, float]] = [("interpreter", STARTED)]

    def mark(label: str) -> None:
        marks.append((label, time.perf_counter()))

    import praxis_executor.worker.__main__ as worker_main  # everything `python -m praxis_executor.worker` imports
    from praxis_executor.worker import runner
    from praxis_executor.worker.deck import RunDeck
    from praxis_executor.worker.dispatch import CallDispatcher
    from praxis_executor.worker.events import EventWriter
    from praxis_executor.worker.nats_transport import NatsBenchTransport
    from praxis_executor.worker.protocol import JobSpec

    mark("imports")
    spec = JobSpec.model_validate_json(Path(job_path).read_text(encoding="utf-8"))
    mark("job")

    def after(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if asyncio.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def awrapped(*args: Any, **kwargs: Any) -> Any:
                value = await fn(*args, **kwargs)
                mark(label)
                return value

            return awrapped

        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            value = fn(*args, **kwargs)
            mark(label)
            return value

        return wrapped

    # the worker's own steps, wrapped where runner.py looks them up
    connect = NatsBenchTransport.connect.__func__  # type: ignore[attr-defined]
    setattr(NatsBenchTransport, "connect", classmethod(after("nats_connect", connect)))  # noqa: B010
    for name, label in (
        ("load_protocol", "load_protocol"),
        ("build_run_deck", "build_deck"),
        ("_load_decks", "load_run_deck"),
    ):
        setattr(runner, name, after(label, getattr(runner, name)))
    setattr(RunDeck, "setup", after("frontends_setup", RunDeck.setup))  # noqa: B010
    dispatch = CallDispatcher.dispatch

    async def first_dispatch(self: CallDispatcher, *args: Any, **kwargs: Any) -> Any:
        value = await dispatch(self, *args, **kwargs)
        if not any(label == "first_call" for label, _ in marks):
            mark("first_call")
        return value

    setattr(CallDispatcher, "dispatch", first_dispatch)  # noqa: B010
    setattr(worker_main, "read_control", lambda control, loop: None)  # noqa: B010  # see the module docstring

    with open(os.devnull, "wb") as sink:
        uvloop.run(worker_main.run_job(spec, EventWriter(sink)))  # as the worker runs it
    out = {"spawn_to_interpreter": round((STARTED_WALL - spawned_wall) * 1000, 1)}
    for (_, before), (label, at) in itertools.pairwise(marks):
        out[label] = round((at - before) * 1000, 1)
        if label == "first_call":
            break
    first_call = next(at for label, at in marks if label == "first_call")
    out["total"] = round((STARTED_WALL - spawned_wall) * 1000 + (first_call - STARTED) * 1000, 1)
    return out


if __name__ == "__main__":
    result = main(sys.argv[1], float(sys.argv[2]))
    print(json.dumps(result), flush=True)
