"""``praxis-<svc> serve | migrate | <tool>``: one console script per service, parsing nothing else."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence

from praxis_servicekit.logs import configure_logging
from praxis_servicekit.service import ServiceSpec, StartupError, run_service

ToolCommand = Callable[[list[str]], int]


def run_cli(
    name: str,
    build: Callable[[argparse.Namespace], ServiceSpec],
    argv: Sequence[str] | None = None,
    *,
    tools: dict[str, tuple[str, ToolCommand]] | None = None,
    add_serve_args: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """Parse ``argv`` and run. ``tools`` are extra subcommands (help, function taking the remaining argv)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    tools = tools or {}
    if args_list and args_list[0] in tools:
        return tools[args_list[0]][1](args_list[1:])

    parser = argparse.ArgumentParser(prog=f"praxis-{name}")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the service (default)")
    if add_serve_args:
        add_serve_args(serve)
    sub.add_parser("migrate", help="upgrade this service's schema to the code's head revision")
    for tool, (help_text, _) in tools.items():
        sub.add_parser(tool, help=help_text, add_help=False)
    args = parser.parse_args(args_list or ["serve"])
    command = args.command or "serve"

    spec = build(args)
    configure_logging(name, spec.settings.log_level, spec.settings.log_json)
    if command == "migrate":
        return _migrate(spec)
    try:
        try:
            import uvloop

            uvloop.run(run_service(spec))
        except ImportError:
            asyncio.run(run_service(spec))
    except StartupError as exc:
        print(f"praxis-{name}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def _migrate(spec: ServiceSpec) -> int:
    if spec.db is None:
        print(f"praxis-{spec.name}: no database; nothing to migrate")
        return 0
    if not spec.settings.database_url:
        print(f"praxis-{spec.name}: set PRAXIS_DATABASE_URL", file=sys.stderr)
        return 2
    from praxis_servicekit.migrations import upgrade_to_head

    try:
        upgrade_to_head(spec.db.migrations, spec.settings.database_url, spec.db.schema)
    except Exception as exc:
        logging.getLogger(__name__).exception("migration failed")
        print(f"praxis-{spec.name}: migration failed: {exc}", file=sys.stderr)
        return 1
    print(f"praxis-{spec.name}: schema '{spec.db.schema}' at head")
    return 0
