"""``praxis-admin nats-init DIR [--bench ID ...] [--rotate]`` and ``praxis-admin nats-add-bench ID DIR``.

They write the NATS authorization of an installation (see :mod:`praxis_natsauth.authdir`) and print each file
written and the variables that give every process its credentials. Exit codes: 0 done, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from praxis_natsauth import AuthDir, AuthDirError, Report, add_bench, init_dir


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "nats-init":
            report = init_dir(args.dir, args.bench, rotate=args.rotate)
        else:
            report = add_bench(args.dir, args.bench_id)
    except (AuthDirError, ValueError, OSError) as exc:
        print(f"praxis-admin {args.command}: {exc}", file=sys.stderr)
        return 2
    _print(report, AuthDir(args.dir), restart=args.command == "nats-init")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="praxis-admin", description="Operator commands for Praxis.")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser(
        "nats-init",
        help="write the NATS authorization (operator, accounts, every service's and agent's creds, server config)",
        description="Idempotent: existing keys are kept, JWTs and configs are issued again.",
    )
    init.add_argument("dir", type=Path, help="directory to write (created; keep it private)")
    init.add_argument(
        "--bench", action="append", default=[], metavar="ID", help="issue an agent for this bench (repeatable)"
    )
    init.add_argument(
        "--rotate",
        action="store_true",
        help="new keys for every user and the worker signer; the old user keys are revoked (restart NATS)",
    )
    bench = sub.add_parser("nats-add-bench", help="issue the creds of one more hardware agent (no NATS restart)")
    bench.add_argument("bench_id", metavar="ID")
    bench.add_argument("dir", type=Path, help="a directory written by nats-init")
    return parser


def _print(report: Report, auth: AuthDir, *, restart: bool) -> None:
    for path, what in report.written:
        print(f"  {what:<13} {path}")
    print("\nenvironment, per process:")
    for process, env in report.env.items():
        print(f"  {process}:")
        for name, value in env.items():
            print(f"    {name}={value}")
    if restart:
        print(f"\nNATS: nats-server -c {auth.server_config}  (a running server reads a changed authorization")
        print("only when it restarts; new agents need no restart)")
