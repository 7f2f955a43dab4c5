"""The ``praxis-dev`` command: ``run`` (whole stack), ``servers`` (NATS + Postgres only), ``try FILE``.

Problems the user can fix end in one ``praxis-dev: ...`` line on stderr and exit code 2 (config,
busy port) or 1 (something we started failed) - never a traceback. SIGTERM and SIGHUP are treated
like Ctrl-C so ``kill <pid>`` and a closed terminal also shut everything down in order.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType

from praxis_devstack.config import DEFAULT_GATEWAY_PORT, DevConfig
from praxis_devstack.console import say, warn
from praxis_devstack.errors import DevStackError
from praxis_devstack.stack import DevStack
from praxis_devstack.try_run import parse_params, read_protocol, try_protocol

EXAMPLE = "examples/protocols/serial_dilution.py"
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM/SIGHUP behave like Ctrl-C (KeyboardInterrupt) while the stack is up."""
    previous = {sig: signal.signal(sig, _interrupt) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _stop_signals_ignored() -> Iterator[None]:
    """A second Ctrl-C must not abort the shutdown half-way and leave servers behind."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _supervised(stack: DevStack, body: Callable[[], None]) -> int:
    """Run ``body`` (start + wait); whatever happens, stop the stack. Returns the exit code."""
    code = 0
    with _stop_signals_interrupt():
        try:
            body()
        except KeyboardInterrupt:
            say("\nstopping ...")
        except DevStackError as exc:
            warn(f"praxis-dev: {exc}")
            code = exc.exit_code
        finally:
            with _stop_signals_ignored():
                stack.stop()
    return code


def cmd_run(args: argparse.Namespace) -> int:
    config = DevConfig.from_env()
    stack = DevStack(config)
    stack.check_ports(with_gateway=True)

    def body() -> None:
        urls = stack.start_servers()
        stack.migrate()
        stack.start_services()
        say(f"waiting for the gateway on port {config.gateway_port} ...")
        stack.wait_healthy()
        url = config.gateway_url
        logs = _shown(config.logs_dir)
        say("")
        say("Praxis is running.")
        say(f"  console   {url}/")
        say(f"  API docs  {url}/docs")
        say(
            f"  NATS      {urls.nats_url}" + (f"  (credentials in {_shown(urls.nats_auth)}/)" if urls.nats_auth else "")
        )
        say(f"  Postgres  {urls.database_url}")
        say(f"  logs      {logs}/  (data {_shown(config.devdata)}/)")
        say(f"Try a protocol:  .venv/bin/praxis-dev try {EXAMPLE}")
        say("Press Ctrl-C to stop. A service that exits is restarted (1 s, 2 s, 4 s ... up to 30 s apart).")
        stack.supervise()

    return _supervised(stack, body)


def cmd_servers(args: argparse.Namespace) -> int:
    config = DevConfig.from_env()
    stack = DevStack(config)
    stack.check_ports(with_gateway=False)

    def body() -> None:
        urls = stack.start_servers()
        say("")
        say(f"export PRAXIS_NATS_URL={urls.nats_url}")
        say(f"export PRAXIS_DATABASE_URL={urls.database_url}")
        for name, value in stack.credentials_env().items():  # each service picks its own
            say(f"export {name}={value}")
        if stack.nats is None and stack.pg is None:
            return  # both given by the environment: nothing of ours to keep running
        say("Press Ctrl-C to stop.")
        while True:
            if stack.nats is not None and not stack.nats.running:
                raise DevStackError(f"nats-server exited unexpectedly (see {config.nats_log})")
            time.sleep(0.5)

    return _supervised(stack, body)


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when it is below it, else absolute (no ``../../tmp/x``)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _default_gateway_url() -> str:
    explicit = os.environ.get("PRAXIS_GATEWAY_URL")
    if explicit:
        return explicit.rstrip("/")
    port = os.environ.get("PRAXIS_DEV_GATEWAY_PORT") or str(DEFAULT_GATEWAY_PORT)
    return f"http://127.0.0.1:{port}"


def cmd_try(args: argparse.Namespace) -> int:
    params = parse_params(args.param)
    name, content = read_protocol(Path(args.file))
    try:
        return asyncio.run(try_protocol(name, content, params, args.gateway, timeout=args.timeout))
    except KeyboardInterrupt:
        warn("interrupted (the run keeps going on the server)")
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="praxis-dev", description="Run Praxis locally.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="start NATS, Postgres and every service; Ctrl-C stops all",
        description="Ports: PRAXIS_DEV_GATEWAY_PORT (8000), PRAXIS_DEV_NATS_PORT (4322), PRAXIS_DEV_PG_PORT (5433). "
        "PRAXIS_NATS_URL / PRAXIS_DATABASE_URL use existing servers instead. Data and logs: "
        "PRAXIS_DEV_DATA_DIR (default .devdata/). A service that exits is restarted with backoff. "
        "NATS enforces each service's permissions (credentials in <data dir>/nats-auth); "
        "PRAXIS_DEV_NATS_AUTH=off starts it without.",
    )
    run.set_defaults(func=cmd_run)

    servers = sub.add_parser("servers", help="start only NATS and Postgres and print their URLs")
    servers.set_defaults(func=cmd_servers)

    try_ = sub.add_parser("try", help="upload a protocol, run it simulated, print its events")
    try_.add_argument("file", help=f"protocol file, e.g. {EXAMPLE}")
    try_.add_argument(
        "--param", "-p", action="append", metavar="KEY=VALUE", help="run parameter (VALUE parsed as JSON if it can be)"
    )
    try_.add_argument(
        "--gateway", default=_default_gateway_url(), help="gateway URL (default: $PRAXIS_GATEWAY_URL or %(default)s)"
    )
    try_.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    try_.set_defaults(func=cmd_try)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except DevStackError as exc:
        warn(f"praxis-dev: {exc}")
        return exc.exit_code
    return code
