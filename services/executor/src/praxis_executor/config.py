"""Executor settings (env prefix ``PRAXIS_EXECUTOR_``; the NATS and database URLs are shared).

``instance`` (``PRAXIS_EXECUTOR_INSTANCE``) names this replica as the owner of its runs. Give each live replica a
unique, *stable* name (a Kubernetes pod name, ``executor-1`` under ``make run``): a restarted executor with the
same name reclaims its runs at once instead of waiting for their leases to run out.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from praxis_servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PRAXIS_EXECUTOR_", extra="ignore")

    work_dir: Path = Path(".devdata/executor")
    lease_ttl_s: float = 15.0
    """A run whose owner has not renewed its lease for this long is taken over by another replica."""
    lease_renew_s: float = 2.0
    """How often an owner renews its leases and reconciles its workers with what their runs want."""
    takeover_batch: int = 10
    reservation_renew_s: float = 30.0
    lease_extend_s: float = 120.0
    """How far each renewal extends a run's reservations at the scheduler."""
    machine_call_attempt_s: float = 5.0
    bench_unreachable_timeout_s: float = 120.0
    """How long a bench may stay silent before the run parks (a bench's config may say otherwise)."""
    inputs_patience_s: float = 120.0
    query_timeout_s: float = 5.0
    max_outputs_bytes: int = 64 * 1024 * 1024
    suspend_grace_s: float = 8.0
    """On a graceful stop, how long workers get to reach their next checkpoint before they are killed."""
    worker_nats_url: str | None = None
    """The NATS URL workers use (default: the executor's own)."""
    worker_signer: Path | None = None
    """The scoped signing key (``worker-signer.nk`` from ``praxis-admin nats-init``) that mints each run worker's
    own NATS credentials; None: workers connect without credentials (a NATS server without authorization)."""
    worker_creds_ttl_s: float = 900.0
    """Lifetime of a worker's NATS credentials; the owner sends fresh ones every third of it, and stops at the end."""

    # ------------------------------------------------------------------------ the worker sandbox
    sandbox_user: str = "praxis-worker"
    """The unprivileged user workers run as; an executor running as root creates it (``useradd --system``) if missing."""
    sandbox_uid: int | None = None
    """Its uid (created with this one; an existing user with another uid is an error). None: the system picks."""
    sandbox_gid: int | None = None
    """Its primary group (created if missing). None: the user's own group."""
    sandbox_hide: list[str] = [
        "/root",
        "/home",
        "/tmp",
        "/var/tmp",
        "/dev/shm",
        "/run/postgresql",
        "/var/run/postgresql",
        "/var/lib/postgresql",
    ]
    """Directories a worker sees empty (its private mount namespace lays an empty tmpfs over each), on top of the
    other runs' directories. What a worker needs beneath one (the interpreter under /root) is bound back."""
    allow_unsandboxed: bool = False
    """Start runs of non-admins even when a sandbox layer is missing (an operator's explicit, logged choice)."""
    worker_cpu_s: int = 7200
    """CPU seconds one worker process may use (SIGXCPU: the run fails). Waiting on machine calls costs none."""
    worker_memory_bytes: int = 4 * 1024**3
    """Address space of one worker process (beyond it an allocation raises MemoryError in the protocol)."""
    worker_open_files: int = 1024
    worker_processes: int = 512
    """RLIMIT_NPROC: processes and threads of the worker user, all runs of this host together (a fork bomb's cap)."""
    worker_output_bytes: int = 256 * 1024**2
    """Largest file a worker may write, its stderr log included (SIGXFSZ: the run fails)."""
