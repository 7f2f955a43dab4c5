"""``praxis-hardware-agent calls``: what the bench's call record says was performed, per run (no NATS needed).

Operators and crash drills use it to prove "each machine call exactly once": for every run it prints the
invocations of backend methods, the sequences invoked more than once, and the sequences whose outcome is
unknown (started on a real instrument, never recorded as finished).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from praxis_hardware_agent.domain.call_record import RunCalls


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="praxis-hardware-agent calls", description="Summarise the bench's call record per run."
    )
    p.add_argument("--state-dir", help="directory of the call record (default: PRAXIS_AGENT_STATE_DIR)")
    p.add_argument("--bench-id", help="the bench whose record to read (default: PRAXIS_AGENT_BENCH_ID)")
    p.add_argument("--run", metavar="RUN_ID", help="only this run")
    p.add_argument("--json", action="store_true", help='one JSON object: {"runs": {run_id: {...}}}')
    return p


def main(argv: list[str]) -> int:
    """Exit 0 after printing, 2 when the record cannot be read (the message says which file and why)."""
    from praxis_hardware_agent.adapters.sqlite_calls import SqliteCallStore, StateFileError, state_file
    from praxis_hardware_agent.config import Settings

    args = parser().parse_args(argv)
    overrides: dict[str, object] = {}
    if args.state_dir:
        overrides["state_dir"] = Path(args.state_dir)
    if args.bench_id:
        overrides["bench_id"] = args.bench_id
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        store = SqliteCallStore.open_existing(state_file(settings.state_dir, settings.bench_id))
    except (ValueError, StateFileError) as exc:
        print(f"praxis-hardware-agent calls: {exc}", file=sys.stderr)
        return 2
    try:
        runs = store.summary(args.run)
    finally:
        store.close()
    print(render_json(runs) if args.json else render_text(runs, args.run))
    return 0


def render_json(runs: list[RunCalls]) -> str:
    return json.dumps({"runs": {r.run_id: r.as_json() for r in runs}}, sort_keys=True)


def render_text(runs: list[RunCalls], only: str | None = None) -> str:
    if not runs:
        return f"no record of run {only}" if only else "no runs in the call record"
    lines = []
    for r in runs:
        lines.append(
            f"run {r.run_id}: {r.performed} performed (max sequence {r.max_sequence}), "
            f"performed more than once: {_seqs(r.duplicated)}, outcome unknown: {_seqs(r.unknown)}"
        )
    return "\n".join(lines)


def _seqs(seqs: list[int]) -> str:
    return ", ".join(map(str, seqs)) if seqs else "none"
