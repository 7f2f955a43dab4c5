"""Shared helpers for the benchmarks in ``bench/``: servers, percentiles, machine facts, docs sections.

A benchmark starts its own nats-server and PostgreSQL (``praxis_testkit.servers``) unless ``PRAXIS_NATS_URL`` /
``PRAXIS_DATABASE_URL`` name existing ones, runs under uvloop, prints one JSON object as its last line and
writes its figures between ``<!-- bench:<name> -->`` markers in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shlex
import statistics
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Infra:
    nats_url: str
    pg_dsn: str | None
    nats_own: bool
    pg_own: bool


@contextlib.contextmanager
def infra(*, need_pg: bool = True, pg_durable: bool = True) -> Iterator[Infra]:
    """The servers to measure against: the ``PRAXIS_*`` ones if set, else fresh ones in temp dirs."""
    from praxis_testkit.servers import NatsServer, PgCluster

    with contextlib.ExitStack() as stack:
        nats_url = os.environ.get("PRAXIS_NATS_URL")
        nats_own = not nats_url
        if not nats_url:
            nats_url = stack.enter_context(NatsServer()).url
        pg_dsn = os.environ.get("PRAXIS_DATABASE_URL") if need_pg else None
        pg_own = need_pg and not pg_dsn
        if need_pg and not pg_dsn:
            pg_dsn = stack.enter_context(PgCluster(durable=pg_durable)).dsn
        yield Infra(nats_url, pg_dsn, nats_own, pg_own)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p99/mean in microseconds and the sequential rate."""
    total = sum(seconds)
    return {
        "n": len(seconds),
        "p50_us": round(percentile(seconds, 50) * 1e6, 1),
        "p99_us": round(percentile(seconds, 99) * 1e6, 1),
        "mean_us": round(statistics.fmean(seconds) * 1e6, 1),
        "rps": round(len(seconds) / total, 1) if total else 0.0,
    }


def machine() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(terse=True),
    }


def command_line() -> str:
    """The command that reproduces this run, relative to the repository root."""
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(ROOT)
    env = " ".join(
        f"{k}={shlex.quote(os.environ[k])}" for k in ("PRAXIS_NATS_URL", "PRAXIS_DATABASE_URL") if k in os.environ
    )
    return " ".join(filter(None, [env, ".venv/bin/python", shlex.quote(str(script)), *map(shlex.quote, sys.argv[1:])]))


def write_section(name: str, body: str, path: Path = DOCS) -> None:
    """Replace what lies between ``<!-- bench:name -->`` and ``<!-- /bench:name -->``, keeping the rest."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n\nFigures written by the scripts in `bench/`.\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
