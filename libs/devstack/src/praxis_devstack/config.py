"""Settings of the local stack, read from environment variables once, at command start.

Everything is an env var (no config file) so the same knobs work for ``make run``, CI and a shell.
``PRAXIS_DEV_DATA_DIR`` (default ``<repo>/.devdata``) holds everything a stack writes - logs, the NATS
store, the Postgres cluster, the executor's work dir, the agent's state - so a second stack (a crash
drill, a benchmark) can run beside ``make run`` with its own data dir and its own ports.

The NATS that ``praxis-dev`` starts enforces the Praxis permissions (operator mode): its authorization lives in
``<data dir>/nats-auth`` (written by ``praxis-admin nats-init`` logic at first start, kept afterwards) and each
service gets its own credentials. ``PRAXIS_DEV_NATS_AUTH=off`` starts it without authorization, as before.
An existing server (``PRAXIS_NATS_URL``) is used without credentials unless ``PRAXIS_NATS_CREDS`` is set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from praxis_devstack.errors import DevStackError

DEFAULT_NATS_PORT = 4322
DEFAULT_PG_PORT = 5433
DEFAULT_GATEWAY_PORT = 8000
DEFAULT_GATEWAY_URL = "http://127.0.0.1:8000"
DEFAULT_DATA_DIR = ".devdata"
DEV_DATABASE = "praxis"
BENCH_ID = "sim-bench-1"
BENCH_CONFIG = Path("deploy/benches/sim-bench.yaml")


def find_repo_root(start: Path | None = None) -> Path:
    """The workspace root (the ``pyproject.toml`` with ``[tool.uv.workspace]``) at or above ``start``.

    ``.devdata``, a relative ``PRAXIS_DEV_DATA_DIR`` and other relative paths are anchored there, so
    ``praxis-dev run`` behaves the same from a subdir.
    """
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and "[tool.uv.workspace]" in pyproject.read_text(errors="replace"):
            return directory
    return here


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise DevStackError(f"{name}={raw!r} is not a port number", exit_code=2) from None
    if not 1 <= port <= 65535:
        raise DevStackError(f"{name}={port} is out of range (1-65535)", exit_code=2)
    return port


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "on", "true", "yes"):
        return True
    if raw in ("0", "off", "false", "no"):
        return False
    raise DevStackError(f"{name}={raw!r}: use on or off", exit_code=2)


def _data_dir(env: Mapping[str, str], root: Path) -> Path:
    raw = env.get("PRAXIS_DEV_DATA_DIR", "").strip()
    path = root / (Path(raw).expanduser() if raw else Path(DEFAULT_DATA_DIR))
    if path.exists() and not path.is_dir():
        raise DevStackError(f"PRAXIS_DEV_DATA_DIR={raw!r}: {path} exists and is not a directory", exit_code=2)
    return path


@dataclass(frozen=True)
class DevConfig:
    """Where the local stack keeps its data and which ports it uses.

    ``nats_url``/``database_url`` set means "use that server, don't start one". ``data_dir`` ``None``
    means ``<root>/.devdata`` (what :meth:`from_env` gives when ``PRAXIS_DEV_DATA_DIR`` is unset).
    ``nats_auth``: the NATS we start enforces the Praxis permissions (never applies to ``nats_url``).
    """

    root: Path
    nats_port: int
    pg_port: int
    gateway_port: int
    nats_url: str | None
    database_url: str | None
    data_dir: Path | None = None
    nats_auth: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, root: Path | None = None) -> DevConfig:
        env = os.environ if env is None else env
        root = root or find_repo_root()
        return cls(
            root=root,
            nats_port=_port(env, "PRAXIS_DEV_NATS_PORT", DEFAULT_NATS_PORT),
            pg_port=_port(env, "PRAXIS_DEV_PG_PORT", DEFAULT_PG_PORT),
            gateway_port=_port(env, "PRAXIS_DEV_GATEWAY_PORT", DEFAULT_GATEWAY_PORT),
            nats_url=env.get("PRAXIS_NATS_URL") or None,
            database_url=env.get("PRAXIS_DATABASE_URL") or None,
            data_dir=_data_dir(env, root),
            nats_auth=_switch(env, "PRAXIS_DEV_NATS_AUTH", True),
        )

    @property
    def devdata(self) -> Path:
        return self.data_dir if self.data_dir is not None else self.root / DEFAULT_DATA_DIR

    @property
    def logs_dir(self) -> Path:
        return self.devdata / "logs"

    @property
    def nats_store(self) -> Path:
        return self.devdata / "nats"

    @property
    def nats_auth_dir(self) -> Path:
        return self.devdata / "nats-auth"

    @property
    def nats_log(self) -> Path:
        return self.logs_dir / "nats.log"

    @property
    def pg_data(self) -> Path:
        return self.devdata / "pg"

    @property
    def executor_work_dir(self) -> Path:
        return self.devdata / "executor"

    @property
    def agent_state_dir(self) -> Path:
        return self.devdata / "agent"

    @property
    def bench_config(self) -> Path:
        return self.root / BENCH_CONFIG

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"
