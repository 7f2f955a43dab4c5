"""Start, supervise and stop the local stack: NATS, Postgres, migrations, the five services.

Order matters both ways. Up: servers, then migrations (each service owns its schema), then services,
then wait for the gateway's health endpoint so the printed URL works when you click it. Down:
services first (SIGTERM, they drain and close their connections), then NATS, then Postgres
(``pg_ctl stop -m fast``), so nothing logs connection errors on the way out and nothing is left running.

While up, a service that exits is restarted with backoff (:mod:`.supervisor`). Each service has a stable
instance name (``executor-1``, ``agent-<bench>``, ...) so a restarted one recognises what its predecessor
owned. Crash drills drive the same object: :meth:`DevStack.service`, :meth:`DevStack.kill`,
:meth:`DevStack.supervise_once` (or :meth:`DevStack.supervise_in_background`) and :meth:`DevStack.restart_nats`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from praxis_contracts.permissions import SERVICES
from praxis_devstack.config import BENCH_ID, DEV_DATABASE, DevConfig
from praxis_devstack.console import say, warn
from praxis_devstack.errors import DevStackError
from praxis_devstack.ports import PortNeed, busy_port_message, check_ports_free
from praxis_devstack.supervisor import (
    BackgroundTicker,
    RestartPolicy,
    Supervisor,
    stop_signals_deferred,
    tail_block,
)
from praxis_natsauth.authdir import AuthDir, AuthDirError, environment, init_dir
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
# Stable identities (env var -> default): a restarted executor reclaims at once the runs its own instance owned.
INSTANCE_NAMES = {
    "PRAXIS_DISCOVERY_INSTANCE": "discovery-1",
    "PRAXIS_SCHEDULER_INSTANCE": "scheduler-1",
    "PRAXIS_EXECUTOR_INSTANCE": "executor-1",
    "PRAXIS_GATEWAY_INSTANCE": "gateway-1",
    "PRAXIS_AGENT_INSTANCE": f"agent-{BENCH_ID}",
}


@dataclass
class ServerUrls:
    nats_url: str
    database_url: str
    nats_auth: Path | None = None
    """The authorization directory of the NATS we started with one (None: no credentials are handed out)."""


@dataclass
class DevStack:
    """One local stack; every ``start_*`` is undone by :meth:`stop`, whatever failed in between.

    Thread-safe where a drill needs it: supervision (a tick, or the background thread) and :meth:`stop`
    take one lock, so a stopping stack never restarts a service it has just stopped.
    """

    config: DevConfig
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    nats: NatsServer | None = None
    pg: PgCluster | None = None
    services: ServiceStack | None = None
    urls: ServerUrls | None = None
    supervisor: Supervisor | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False, compare=False)
    _ticker: BackgroundTicker | None = field(default=None, init=False, repr=False, compare=False)

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
        nats_auth = self._nats_authorization() if cfg.nats_url is None and cfg.nats_auth else None
        with self._server_errors():
            if cfg.nats_url is None:
                say(f"starting NATS on port {cfg.nats_port} (store {cfg.nats_store}) ...")
                nats_url = self._start_nats(cfg.nats_port).url
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
        self.urls = ServerUrls(nats_url=nats_url, database_url=database_url, nats_auth=nats_auth)
        return self.urls

    def _nats_authorization(self) -> Path:
        """``praxis-admin nats-init`` into the data dir: the first start creates the keys, later ones keep them
        (and issue the JWTs again, so they follow the permissions of the code that runs)."""
        auth = self.config.nats_auth_dir
        first = not AuthDir(auth).auth_config.is_file()
        try:
            init_dir(auth, [BENCH_ID])
        except (AuthDirError, OSError) as exc:
            raise DevStackError(f"cannot prepare the NATS authorization in {auth}: {exc}") from None
        if first:
            say(f"created the NATS authorization in {auth} (every service gets its own credentials)")
        return auth

    def _start_nats(self, port: int) -> NatsServer:
        cfg = self.config
        auth = AuthDir(cfg.nats_auth_dir).auth_config if cfg.nats_auth else None
        self.nats = NatsServer(
            port=port, store_dir=cfg.nats_store, durable=True, log_file=cfg.nats_log, auth_config=auth
        ).start()
        return self.nats

    @contextlib.contextmanager
    def _server_errors(self) -> Iterator[None]:
        """Server start-up failures as one-line :class:`DevStackError` (2: fix your setup, 1: it broke)."""
        needs = {need.what: need for need in self.port_needs(with_gateway=False)}
        try:
            yield
        except PortInUseError as exc:
            need = needs.get(exc.what)
            raise DevStackError(busy_port_message(need) if need else str(exc), exit_code=2) from None
        except MissingBinaryError as exc:
            raise DevStackError(str(exc), exit_code=2) from None
        except ServerStartError as exc:
            raise DevStackError(str(exc), exit_code=1) from None

    def restart_nats(self) -> str:
        """Kill our NATS with SIGKILL (a crash, no flush) and start it again on the same port and store.

        Returns its URL, which is unchanged, so the services' clients reconnect by themselves. JetStream
        writes are fsynced (``durable``), so stored messages survive. NATS is not supervised otherwise:
        this is the drill's handle. Raises :class:`DevStackError` when NATS is not ours (``PRAXIS_NATS_URL``).
        """
        old = self.nats
        if old is None or old.pid is None:
            raise DevStackError("restart_nats(): this stack did not start a NATS server (PRAXIS_NATS_URL is set?)")
        port = old.port if old.port is not None else self.config.nats_port
        os.kill(old.pid, signal.SIGKILL)
        old.stop()  # reaps the killed server and removes its run dir; the store stays
        self.nats = None
        with self.config.nats_log.open("a") as log:
            log.write(f"\n----- praxis-dev: NATS killed with SIGKILL and restarted on port {port} -----\n")
        with self._server_errors():
            new = self._start_nats(port)
        say(f"praxis-dev: restarted NATS (pid {new.pid}) on port {port}")
        return new.url

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
            **self.identity_env(),
            **self.credentials_env(),
        }

    def credentials_env(self) -> dict[str, str]:
        """Each service's own NATS credentials (``PRAXIS_<SVC>_NATS_CREDS``, the agent's for this bench) and the
        executor's worker signer, when the NATS we started enforces permissions; nothing otherwise (an external
        server: the services read ``PRAXIS_NATS_CREDS`` from the environment, if it is set)."""
        if self.urls is None or self.urls.nats_auth is None:
            return {}
        per_process = environment(AuthDir(self.urls.nats_auth))
        env: dict[str, str] = {}
        for process in (*SERVICES, f"agent-{BENCH_ID}"):
            env.update(per_process[process])
        return env

    def identity_env(self) -> dict[str, str]:
        """Instance names and state dirs that survive a restart; a variable already set in the environment wins.

        The executor's work dir and the agent's state dir live in the data dir, so a second stack with its
        own ``PRAXIS_DEV_DATA_DIR`` shares nothing with ``make run``.
        """
        defaults = {
            **INSTANCE_NAMES,
            "PRAXIS_EXECUTOR_WORK_DIR": str(self.config.executor_work_dir),
            "PRAXIS_AGENT_STATE_DIR": str(self.config.agent_state_dir),
        }
        return {key: os.environ.get(key) or value for key, value in defaults.items()}

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
                    f"`praxis-{svc} migrate` did not finish within {MIGRATE_TIMEOUT:.0f}s\n{tail_block(proc)}"
                ) from None
            if code != 0:
                raise DevStackError(f"`praxis-{svc} migrate` failed with exit code {code}\n{tail_block(proc)}")

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
        env = self.child_env()
        for state_dir in (env["PRAXIS_EXECUTOR_WORK_DIR"], env["PRAXIS_AGENT_STATE_DIR"]):
            Path(state_dir).mkdir(parents=True, exist_ok=True)
        self.services = ServiceStack(self.config.logs_dir, env, cwd=self.config.root)
        self.supervisor = Supervisor(self.policy)
        for svc, args in self.service_commands():
            say(f"starting {svc} (log {self.config.logs_dir / svc}.log) ...")
            try:
                proc = self.services.start(f"praxis-{svc}", args, log_name=svc)
            except FileNotFoundError as exc:
                raise DevStackError(str(exc)) from None
            self.supervisor.add(svc, proc)

    def wait_healthy(self, deadline: float = HEALTH_DEADLINE, interval: float = 0.25) -> None:
        """Poll ``GET /api/v1/health`` until 200, supervising meanwhile; then every running service counts as up.

        A service that keeps exiting ends the wait at once (:class:`DevStackError` with its log tail).
        """
        url = self.config.gateway_url + HEALTH_PATH
        end = time.monotonic() + deadline
        last = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while True:
                self.supervise_once()
                try:
                    response = client.get(url)
                    if response.status_code == 200:
                        if self.supervisor is not None:
                            self.supervisor.mark_healthy()
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
                return tail_block(proc)
        return ""

    # -------------------------------------------------------------------------------- supervision

    def service(self, name: str) -> ServiceProcess:
        """The process of service ``name`` (``scheduler``, ``hardware-agent``; a ``praxis-`` prefix is accepted).

        The same object across restarts: read ``pid``/``alive``/``restarts`` again after one. Its
        ``group_pids()`` lists what it forked (the executor's run workers).
        """
        wanted = name.removeprefix("praxis-")
        processes = self.services.processes if self.services is not None else []
        for proc in processes:
            if proc.log_path.stem == wanted:
                return proc
        known = ", ".join(proc.log_path.stem for proc in processes) or "none started"
        raise DevStackError(f"no service {name!r} in this stack (services: {known})")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` (default SIGKILL) to service ``name``'s main process; returns the PID signalled.

        Supervision then sees the exit and restarts it (on its next tick). Raises :class:`DevStackError`
        if the service is not running right now (e.g. waiting for its restart).
        """
        proc = self.service(name)
        pid = proc.pid
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            raise DevStackError(f"{name} is not running (a restart may be pending)") from None
        assert pid is not None
        return pid

    def supervise_once(self) -> None:
        """One non-blocking supervision step: restart services whose backoff is over, schedule fresh exits.

        For a caller's own loop (a drill): call it every ``policy.poll`` seconds or so. Raises
        :class:`DevStackError` for a service that keeps exiting and never came up.
        """
        with self._lock, stop_signals_deferred():
            if self.supervisor is not None:
                self.supervisor.tick()

    def supervise(self, poll: float | None = None) -> None:
        """Block, restarting services that exit, until interrupted (KeyboardInterrupt) or a start-up crash loop."""
        interval = poll if poll is not None else self.policy.poll
        while True:
            self.supervise_once()
            time.sleep(self._nap(interval))

    def _nap(self, interval: float) -> float:
        """``interval``, or less when a restart is due sooner (so a 1 s backoff is not stretched to 1.5 s)."""
        due = self.supervisor.seconds_until_due() if self.supervisor is not None else None
        return interval if due is None else min(interval, max(due, 0.01))

    def supervise_in_background(self, poll: float | None = None) -> None:
        """Supervise in a daemon thread until :meth:`stop` (for a drill that runs its own loop).

        A service that never came up ends the thread: see :attr:`supervision_error`; the processes are
        left as they are for the caller to inspect and stop.
        """
        if self._ticker is not None and self._ticker.running:
            raise RuntimeError("supervision is already running in the background")
        interval = poll if poll is not None else self.policy.poll
        self._ticker = BackgroundTicker(self.supervise_once, lambda: self._nap(interval))
        atexit.register(self._stop_background)  # runs before ServiceStack's own exit hook (LIFO)
        self._ticker.start()

    @property
    def supervision_error(self) -> DevStackError | None:
        """Why background supervision ended early (a service that never came up), else ``None``."""
        return self._ticker.error if self._ticker is not None else None

    def _stop_background(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            atexit.unregister(self._stop_background)

    # --------------------------------------------------------------------------------------- stop

    def stop(self) -> None:
        """Supervision, then services (SIGTERM all, SIGKILL after 10 s), then NATS, then Postgres. Idempotent.

        A restart that was pending is simply dropped; a service waiting for one has nothing left to stop.
        """
        self._stop_background()
        with self._lock:
            if self.supervisor is not None:
                self.supervisor.close()
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
