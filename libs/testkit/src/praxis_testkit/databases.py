"""Create and drop whole databases from synchronous code.

Tests get a database of their own (``praxis_test_<hex>``) so they never touch a developer's data
or collide with a parallel session on a shared server. Fixtures and ``praxis-dev`` are synchronous,
and pytest-asyncio may own an event loop in the main thread, so the few asyncpg calls here run on
a private loop in a short-lived thread: nothing to clash with, no loop left set as "current".
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

__all__ = [
    "create_database",
    "database_exists",
    "drop_database",
    "dsn_with_database",
    "ensure_database",
    "libpq_dsn",
    "run_sync",
]

T = TypeVar("T")

_SAFE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]], timeout: float = 60.0) -> T:
    """Run the coroutine made by ``factory`` to completion on a fresh loop in a worker thread."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(asyncio.wait_for(factory(), timeout))
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="praxis-testkit-db", daemon=True)
    thread.start()
    thread.join(timeout + 5.0)
    if thread.is_alive():
        raise TimeoutError(f"database operation did not finish within {timeout:g}s")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def libpq_dsn(url: str) -> str:
    """``postgresql+asyncpg://...`` (SQLAlchemy style) -> ``postgresql://...``, which asyncpg and libpq accept."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    return urlunsplit(parts._replace(scheme=scheme))


def dsn_with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database (scheme normalised to ``postgresql://``)."""
    return urlunsplit(urlsplit(libpq_dsn(url))._replace(path=f"/{database}"))


def _check_name(name: str) -> str:
    # Identifiers can't be bound parameters; only accept plain names so quoting is never an issue.
    if not _SAFE_NAME.match(name):
        raise ValueError(f"unsupported database name {name!r} (use lowercase letters, digits, _)")
    return name


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(libpq_dsn(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _exists(url: str, name: str) -> bool:
    conn = await asyncpg.connect(libpq_dsn(url))
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


def create_database(admin_url: str, name: str) -> str:
    """``CREATE DATABASE name`` via ``admin_url`` (any database on the server); returns the new DSN."""
    run_sync(lambda: _execute(admin_url, f'CREATE DATABASE "{_check_name(name)}"'))
    return dsn_with_database(admin_url, name)


def database_exists(admin_url: str, name: str) -> bool:
    return run_sync(lambda: _exists(admin_url, name))


def ensure_database(admin_url: str, name: str) -> str:
    """Create ``name`` unless it exists (used by ``praxis-dev`` on every start); returns its DSN."""
    if not database_exists(admin_url, name):
        create_database(admin_url, name)
    return dsn_with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """``DROP DATABASE IF EXISTS name WITH (FORCE)``: leftover connections (a killed service) don't block it."""
    run_sync(lambda: _execute(admin_url, f'DROP DATABASE IF EXISTS "{_check_name(name)}" WITH (FORCE)'))
