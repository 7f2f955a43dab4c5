"""Start, supervise and stop the local stack: NATS, Postgres, migrations, the five services.

Order matters both ways. Up: servers, then migrations (each service owns its schema), then services,
then wait for the gateway's health endpoint so the printed URL works when you click it. Down:
services first (SIGTERM, they drain and close their connections), then NATS, then Postgres
(``pg_ctl stop -m fast``), so nothing logs connection errors on the way out and nothing is left running.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

import httpx

from praxis_devstack.config import BENCH_ID, DEV_DATABASE, DevConfig
from praxis_devstack.console import say, warn
from praxis_devstack.errors import DevStackError
from praxis_devstack.ports import PortNeed, busy_port_message, check_ports_free
from praxis_testkit.databases import ensure_database
from praxis_testkit.servers import (
    MissingBinaryError,
    NatsServer,
    PgCluster,
    PortInUseError,
    ServerStartError,
    pg_bindir,
    postmaster_pid,
)
from praxis_testkit.services import ServiceProcess, ServiceStack

# Services with a database schema, migrated (in this order) before anything serves.
MIGRATED = ("discovery", "scheduler", "executor", "gateway")
HEALTH_PATH = "/api/v1/health"
HEALTH_DEADLINE = 60.0
MIGRATE_TIMEOUT = 120.0
LOG_TAIL_LINES = 30


@dataclass
class ServerUrls:
    nats_url: str
    database_url: str


@dataclass
class DevStack:
    """One local stack; every ``start_*`` is undone by :meth:`stop`, whatever failed in between."""

    config: DevConfig
    nats: NatsServer | None = None
    pg: PgCluster | None = None
    services: ServiceStack | None = None
    urls: ServerUrls | None = None

    # ------------------------------------------------------------------------------------- checks

    def port_needs(self, *, with_gateway: bool) -> list[PortNeed]:
        needs: list[PortNeed] = []
        if with_gateway:
            needs.append(PortNeed(self.config.gateway_port, "gateway HTTP", "PRAXIS_DEV_GATEWAY_PORT"))
        if self.config.nats_url is None:
            needs.append(PortNeed(self.config.nats_port, "NATS", "PRAXIS_DEV_NATS_PORT"))
        if self.config.database_url is None:
            needs.append(PortNeed(self.config.pg_port, "PostgreSQL", "PRAXIS_DEV_PG_PORT"))
        return needs

    def check_ports(self, *, with_gateway: bool) -> None:
        """Fail before starting anything: a leftover Postgres of ours, or any busy port (exit 2)."""
        if self.config.database_url is None:
            pid = postmaster_pid(self.config.pg_data)
            if pid is not None:
                raise DevStackError(
                    f"PostgreSQL (pid {pid}) is still running on {self.config.pg_data}, left over from an earlier "
                    f"run; stop it with: runuser -u postgres -- {pg_bindir_hint()}/pg_ctl -D {self.config.pg_data} "
                    "-m fast stop",
                    exit_code=2,
                )
        check_ports_free(self.port_needs(with_gateway=with_gateway))

    # ------------------------------------------------------------------------------------ servers

    def start_servers(self) -> ServerUrls:
        """NATS and Postgres (or the ones named by ``PRAXIS_NATS_URL``/``PRAXIS_DATABASE_URL``)."""
        cfg = self.config
        cfg.logs_dir.mkdir(parents=True, exist_ok=True)
        needs = {need.what: need for need in self.port_needs(with_gateway=False)}
        try:
            if cfg.nats_url is None:
                say(f"starting NATS on port {cfg.nats_port} (store {cfg.nats_store}) ...")
                self.nats = NatsServer(
                    port=cfg.nats_port, store_dir=cfg.nats_store, durable=True, log_file=cfg.logs_dir / "nats.log"
                ).start()
                nats_url = self.nats.url
            else:
                nats_url = cfg.nats_url
            if cfg.database_url is None:
                reuse = (cfg.pg_data / "PG_VERSION").is_file()
                say(f"starting PostgreSQL on port {cfg.pg_port} ({'reusing' if reuse else 'new'} {cfg.pg_data}) ...")
                self.pg = PgCluster(
                    data_dir=cfg.pg_data, port=cfg.pg_port, durable=True, log_file=cfg.logs_dir / "postgres.log"
                ).start()
                database_url = ensure_database(self.pg.dsn, DEV_DATABASE)
            else:
                database_url = cfg.database_url
        except PortInUseError as exc:
            need = needs.get(exc.what)
            raise DevStackError(busy_port_message(need) if need else str(exc), exit_code=2) from None
        except MissingBinaryError as exc:
            raise DevStackError(str(exc), exit_code=2) from None
        except ServerStartError as exc:
            raise DevStackError(str(exc), exit_code=1) from None
        self.urls = ServerUrls(nats_url=nats_url, database_url=database_url)
        return self.urls

    def child_env(self) -> dict[str, str]:
        if self.urls is None:
            raise RuntimeError("start_servers() first")
        return {
            # Logs in .devdata/logs are read by people (and tailed on a crash): plain text unless asked otherwise.
            "PRAXIS_LOG_JSON": os.environ.get("PRAXIS_LOG_JSON", "false"),
            "PRAXIS_NATS_URL": self.urls.nats_url,
            "PRAXIS_DATABASE_URL": self.urls.database_url,
            "PRAXIS_GATEWAY_PORT": str(self.config.gateway_port),
            **self.metrics_env(),
        }

    def metrics_env(self) -> dict[str, str]:
        """A fixed ``/metrics`` port per service (base ``PRAXIS_DEV_METRICS_PORT``, default 9101) so a local
        Prometheus can scrape them; a variable already set in the environment wins."""
        base = int(os.environ.get("PRAXIS_DEV_METRICS_PORT", "9101"))
        prefixes = ("PRAXIS_DISCOVERY_", "PRAXIS_SCHEDULER_", "PRAXIS_EXECUTOR_", "PRAXIS_AGENT_")
        return {
            f"{prefix}METRICS_PORT": os.environ.get(f"{prefix}METRICS_PORT", str(base + i))
            for i, prefix in enumerate(prefixes)
        }

    # --------------------------------------------------------------------------------- migrations

    def migrate(self) -> None:
        """``praxis-<svc> migrate`` for each service with a schema; the first failure stops the start-up."""
        for svc in MIGRATED:
            proc = ServiceProcess(
                f"praxis-{svc}",
                ["migrate"],
                self.child_env(),
                self.config.logs_dir,
                log_name=f"{svc}-migrate",
                cwd=self.config.root,
            )
            say(f"migrating {svc} ...")
            try:
                proc.start()
            except FileNotFoundError as exc:
                raise DevStackError(str(exc)) from None
            try:
                code = proc.wait(MIGRATE_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.stop()
                raise DevStackError(
                    f"`praxis-{svc} migrate` did not finish within {MIGRATE_TIMEOUT:.0f}s\n{_tail_block(proc)}"
                ) from None
            if code != 0:
                raise DevStackError(f"`praxis-{svc} migrate` failed with exit code {code}\n{_tail_block(proc)}")

    # ----------------------------------------------------------------------------------- services

    def service_commands(self) -> list[tuple[str, list[str]]]:
        bench = ["--bench-id", BENCH_ID, "--config", str(self.config.bench_config)]
        return [
            ("discovery", ["serve"]),
            ("scheduler", ["serve"]),
            ("executor", ["serve"]),
            ("gateway", ["serve"]),
            ("hardware-agent", ["serve", *bench]),
        ]

    def start_services(self) -> None:
        if not self.config.bench_config.is_file():
            warn(f"warning: {self.config.bench_config} does not exist; the hardware agent will likely fail")
        self.services = ServiceStack(self.config.logs_dir, self.child_env(), cwd=self.config.root)
        for svc, args in self.service_commands():
            say(f"starting {svc} (log {self.config.logs_dir / svc}.log) ...")
            try:
                self.services.start(f"praxis-{svc}", args, log_name=svc)
            except FileNotFoundError as exc:
                raise DevStackError(str(exc)) from None

    def raise_if_a_service_died(self) -> None:
        if self.services is None:
            return
        for proc in self.services.dead():
            raise DevStackError(
                f"{proc.log_path.stem} exited with code {proc.returncode}\n{_tail_block(proc)}", exit_code=1
            )

    def wait_healthy(self, deadline: float = HEALTH_DEADLINE, interval: float = 0.25) -> None:
        """Poll ``GET /api/v1/health`` until 200; a service dying meanwhile ends the wait at once."""
        url = self.config.gateway_url + HEALTH_PATH
        end = time.monotonic() + deadline
        last = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while True:
                self.raise_if_a_service_died()
                try:
                    response = client.get(url)
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                if time.monotonic() >= end:
                    gateway = self._tail_of("gateway")
                    raise DevStackError(
                        f"the gateway did not become healthy within {deadline:.0f}s ({url}: {last})\n{gateway}"
                    )
                time.sleep(interval)

    def _tail_of(self, log_name: str) -> str:
        if self.services is None:
            return ""
        for proc in self.services.processes:
            if proc.log_path.stem == log_name:
                return _tail_block(proc)
        return ""

    def supervise(self, poll: float = 0.5) -> None:
        """Block until interrupted (KeyboardInterrupt) or until a service dies (DevStackError)."""
        while True:
            self.raise_if_a_service_died()
            time.sleep(poll)

    # --------------------------------------------------------------------------------------- stop

    def stop(self) -> None:
        """Services (SIGTERM all, SIGKILL after 10 s), then NATS, then Postgres. Idempotent."""
        if self.services is not None:
            codes = self.services.stop_all(timeout=10.0)
            self.services = None
            if codes:
                say("services stopped: " + ", ".join(f"{name}={code}" for name, code in codes.items()))
        if self.nats is not None:
            self.nats.stop()
            self.nats = None
            say("NATS stopped")
        if self.pg is not None:
            self.pg.stop()
            self.pg = None
            say("PostgreSQL stopped")


def pg_bindir_hint() -> str:
    try:
        return str(pg_bindir())
    except MissingBinaryError:
        return "$(pg_config --bindir)"


def _tail_block(proc: ServiceProcess, lines: int = LOG_TAIL_LINES) -> str:
    tail = proc.log_tail(lines) or "(log is empty)"
    return f"--- last {lines} lines of {proc.log_path} ---\n{tail}\n--- end of {proc.log_path.name} ---"
