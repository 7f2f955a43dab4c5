"""Catalog benchmark: cold scan, warm (cached) load and typeahead search over the installed PyLabRobot.

Goals (issue 5): cold scan <= 5 s and warm load <= 0.2 s on the 2-core machines; search p50 < 50 ms.
Cold = an empty cache directory, so the full static scan runs (parse + resolve + write the cache). Warm = the
cache file matches the PLR version and file digest. Both are timed in-process after imports (the service has
its imports loaded), and once more as a fresh interpreter running ``praxis-discovery scan --json``'s load path
to show what a restart costs end to end.

Prints one JSON object as its last line and writes the ``catalog`` section of docs/benchmarks.md.

    .venv/bin/python bench/catalog.py [--rounds 5] [--queries 500] [--no-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

from praxis_discovery.catalog import Catalog, load_catalog, search
from praxis_discovery.catalog.search import SearchIndex

SECTION = "catalog"
_FRESH_PROCESS = (
    "import sys, time; t = time.perf_counter(); "
    "from praxis_discovery.catalog import load_catalog; "
    "loaded = load_catalog(__import__('pathlib').Path(sys.argv[1])); "
    "print(time.perf_counter() - t, loaded.from_cache)"
)


def _fresh_process(cache_dir: Path) -> tuple[float, float, bool]:
    """(wall seconds incl. interpreter start, seconds inside the process, from_cache) of one new interpreter."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS, str(cache_dir)], capture_output=True, text=True, check=True
    ).stdout.split()
    return time.perf_counter() - started, float(out[0]), out[1] == "True"


def _queries(catalog: Catalog, count: int, rng: random.Random) -> list[str]:
    """Typeahead-shaped queries: prefixes of real names, manufacturers, models, and two-term mixes."""
    names = [e.name for e in catalog.frontends] + [e.name for e in catalog.backends]
    names += [e.name for e in catalog.resources]
    manufacturers = sorted({r.manufacturer for r in catalog.resources if r.manufacturer})
    queries: list[str] = []
    while len(queries) < count:
        name = rng.choice(names)
        roll = rng.random()
        if roll < 0.5:
            queries.append(name[: rng.randint(2, max(2, min(len(name), 12)))])
        elif roll < 0.7:
            queries.append(rng.choice(manufacturers)[: rng.randint(3, 8)])
        elif roll < 0.9:
            parts = [p for p in name.replace("_", " ").split() if p]
            queries.append(" ".join(parts[:2]).lower())
        else:
            queries.append(f"{rng.choice(manufacturers)} {rng.choice(['96', 'plate', 'tip', 'carrier', 'lid'])}")
    return queries


def measure(rounds: int, query_count: int) -> dict[str, Any]:
    cold: list[float] = []
    warm: list[float] = []
    with tempfile.TemporaryDirectory(prefix="praxis-catalog-bench-") as tmp:
        base = Path(tmp)
        for i in range(rounds):
            loaded = load_catalog(base / f"cold-{i}")
            assert not loaded.from_cache
            cold.append(loaded.duration_s)
        catalog = loaded.catalog
        for _ in range(rounds * 4):
            loaded = load_catalog(base / f"cold-{rounds - 1}")
            assert loaded.from_cache
            warm.append(loaded.duration_s)
        fresh_cold = _fresh_process(base / "fresh")
        fresh_warm = _fresh_process(base / "fresh")
        assert not fresh_cold[2] and fresh_warm[2]

    started = time.perf_counter()
    catalog.search_index = SearchIndex(catalog)
    index_build = time.perf_counter() - started
    latencies: list[float] = []
    for query in _queries(catalog, query_count, random.Random(5)):
        t = time.perf_counter()
        search(catalog, query, limit=20)
        latencies.append(time.perf_counter() - t)

    return {
        "plr_version": catalog.plr_version,
        "counts": catalog.counts(),
        "entries_searched": len(catalog.frontends) + len(catalog.backends) + len(catalog.resources),
        "cold_scan_s": {"median": round(_common.percentile(cold, 50), 3), "max": round(max(cold), 3)},
        "warm_load_s": {
            "median": round(_common.percentile(warm, 50), 4),
            "max": round(max(warm), 4),
        },
        "fresh_process_s": {
            "cold_wall": round(fresh_cold[0], 3),
            "cold_in_process": round(fresh_cold[1], 3),
            "warm_wall": round(fresh_warm[0], 3),
            "warm_in_process": round(fresh_warm[1], 3),
        },
        "search": {
            "index_build_ms": round(index_build * 1e3, 2),
            "queries": len(latencies),
            "p50_ms": round(_common.percentile(latencies, 50) * 1e3, 3),
            "p99_ms": round(_common.percentile(latencies, 99) * 1e3, 3),
        },
        "rounds": rounds,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def report(result: dict[str, Any]) -> str:
    fresh = result["fresh_process_s"]
    search_stats = result["search"]
    counts = result["counts"]
    return f"""## Discovery catalog: cold scan, warm load, typeahead

Command: `{result["command"]}` (PyLabRobot {result["plr_version"]}: {counts["frontends"]} frontends,
{counts["backends"]} backends, {counts["resources"]} resources; {result["rounds"]} cold rounds; machine:
{result["machine"]["cpus"]} CPUs, Python {result["machine"]["python"]}, 1-minute load average
{result["load_average_1m"]} at the end of the run).

| figure | value | goal |
|---|---|---|
| cold scan (empty cache: parse + resolve + write), median / max | {result["cold_scan_s"]["median"]} s / {result["cold_scan_s"]["max"]} s | <= 5 s |
| warm load (cache hit: digest + read + validate), median / max | {result["warm_load_s"]["median"]} s / {result["warm_load_s"]["max"]} s | <= 0.2 s |
| fresh interpreter, cold: wall / inside the process | {fresh["cold_wall"]} s / {fresh["cold_in_process"]} s | |
| fresh interpreter, warm: wall / inside the process | {fresh["warm_wall"]} s / {fresh["warm_in_process"]} s | |
| search over {result["entries_searched"]} entries, p50 / p99 ({search_stats["queries"]} queries) | {search_stats["p50_ms"]} ms / {search_stats["p99_ms"]} ms | p50 < 50 ms |
| search index build (once per catalog) | {search_stats["index_build_ms"]} ms | |

The scan uses stdlib `ast`, not libcst: parsing the 404 scanned files took 5.1 s with libcst on a 2-process
pool (0.7 s with `ast`), which leaves no room for resolution within 5 s; libcst is kept for protocol analysis,
where diagnostics need positions. "Inside the process" includes importing pydantic and the catalog package.
The machine is shared and noisy: expect 10-40 % between runs, more when the load average exceeds the 2 cores
(on an idle machine the cold scan measured 1.7-1.9 s and the warm load 0.03 s)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    result = measure(args.rounds, args.queries)
    result["command"] = _common.command_line()
    result["machine"] = _common.machine()
    if not args.no_docs:
        _common.write_section(SECTION, report(result))
        print(f"wrote the {SECTION} section of {_common.DOCS.relative_to(_common.ROOT)}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
